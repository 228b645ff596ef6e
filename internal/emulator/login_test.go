package emulator

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	var cfg map[string]any
	if status := getJSON(t, s, s.AuthorityHost()+s.TenantID()+"/v2.0/.well-known/openid-configuration", &cfg); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	base := s.AuthorityHost() + s.TenantID()
	for k, want := range map[string]string{
		"token_endpoint":         base + "/oauth2/v2.0/token",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"issuer":                 base + "/v2.0",
		"jwks_uri":               base + "/discovery/v2.0/keys",
	} {
		if cfg[k] != want {
			t.Errorf("%s = %v, want %s", k, cfg[k], want)
		}
	}
	if !strings.HasPrefix(s.AuthorityHost(), "https://127.0.0.1:") || !strings.HasSuffix(s.AuthorityHost(), "/") {
		t.Errorf("AuthorityHost = %s", s.AuthorityHost())
	}
	if _, ok := cfg["response_types_supported"].([]any); !ok {
		t.Error("response_types_supported missing")
	}

	// JWKS publishes the key access tokens are signed with.
	var jwks struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	getJSON(t, s, base+"/discovery/v2.0/keys", &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kid != s.tokenKey.kid || jwks.Keys[0].Kty != "RSA" {
		t.Errorf("jwks = %+v", jwks)
	}

	// Unknown tenant.
	var e map[string]any
	status := getJSON(t, s, s.AuthorityHost()+uuid.NewString()+"/v2.0/.well-known/openid-configuration", &e)
	if status != http.StatusBadRequest || e["error"] != "invalid_tenant" || !strings.HasPrefix(e["error_description"].(string), "AADSTS90002:") {
		t.Errorf("unknown tenant: %d %v", status, e)
	}
	wantRequestCounts(t, s, map[string]int{"GET openid-configuration": 2, "GET keys": 1})
}

func TestTLSServesLoopbackNames(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	port := strings.TrimPrefix(s.EnvironmentURL(), "https://127.0.0.1:")
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: s.CertPool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 with SNI localhost: %v", err)
	}
	_ = conn.Close()
	if _, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: s.CertPool(), MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	block, _ := pem.Decode(s.CAPEM())
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatal("CAPEM is not a certificate")
	}
}

func TestTokenClientSecret(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	s.AddSecretClient("app-1", "s3cret")

	t.Run("ok", func(t *testing.T) {
		form := secretForm(s, "app-1", "s3cret")
		form.Set("claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`)
		status, body := postToken(t, s, form)
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, body)
		}
		if body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) || body["ext_expires_in"] != float64(3599) {
			t.Errorf("body = %v", body)
		}
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(body["access_token"].(string), claims, func(*jwt.Token) (any, error) { return &s.tokenKey.key.PublicKey, nil })
		if err != nil {
			t.Fatal(err)
		}
		if tok.Header["kid"] != s.tokenKey.kid || tok.Header["alg"] != "RS256" {
			t.Errorf("header = %v", tok.Header)
		}
		want := map[string]any{
			"aud": s.EnvironmentURL(), "iss": "https://sts.windows.net/" + s.TenantID() + "/",
			"tid": s.TenantID(), "appid": "app-1", "azp": "app-1", "ver": "1.0",
		}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("claim %s = %v, want %v", k, claims[k], v)
			}
		}
		oid, _ := claims["oid"].(string)
		if _, err := uuid.Parse(oid); err != nil {
			t.Errorf("oid = %q", oid)
		}
		exp, _ := claims.GetExpirationTime()
		if d := time.Until(exp.Time); d < 59*time.Minute || d > 61*time.Minute {
			t.Errorf("exp in %v", d)
		}
	})

	t.Run("scope with trailing slash", func(t *testing.T) {
		form := secretForm(s, "app-1", "s3cret")
		form.Set("scope", s.EnvironmentURL()+"//.default")
		if status, body := postToken(t, s, form); status != http.StatusOK {
			t.Fatalf("status %d: %v", status, body)
		}
	})

	t.Run("added resource", func(t *testing.T) {
		form := secretForm(s, "app-1", "s3cret")
		form.Set("scope", "https://added.example.com:8443/.default")
		if status, _ := postToken(t, s, form); status != http.StatusBadRequest {
			t.Fatalf("status %d before AddResource, want 400 (AADSTS500011)", status)
		}
		s.AddResource("https://added.example.com:8443/")
		if status, body := postToken(t, s, form); status != http.StatusOK {
			t.Fatalf("status %d after AddResource: %v", status, body)
		}
	})

	for _, tc := range []struct {
		name       string
		edit       func(url.Values)
		status     int
		errorCode  string
		aadsts     string
		descSubstr string
	}{
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }, 401, "invalid_client", "AADSTS7000215:", "for a secret added to app 'app-1'"},
		{"unknown client", func(f url.Values) { f.Set("client_id", "ghost") }, 400, "unauthorized_client", "AADSTS700016:", "Application with identifier 'ghost' was not found in the directory '" + s.TenantID() + "'"},
		{"unknown resource", func(f url.Values) { f.Set("scope", "https://other.crm.dynamics.com/.default") }, 400, "invalid_resource", "AADSTS500011:", "https://other.crm.dynamics.com"},
		{"no default scope", func(f url.Values) { f.Set("scope", "openid profile") }, 400, "invalid_scope", "AADSTS70011:", ""},
		{"two resources", func(f url.Values) {
			f.Set("scope", s.EnvironmentURL()+"/.default https://graph.microsoft.com/.default")
		}, 400, "invalid_scope", "AADSTS70011:", ""},
		{"no credential", func(f url.Values) { f.Del("client_secret") }, 401, "invalid_client", "AADSTS7000218:", ""},
		{"bad grant", func(f url.Values) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type", "AADSTS70003:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := secretForm(s, "app-1", "s3cret")
			tc.edit(form)
			status, body := postToken(t, s, form)
			desc, _ := body["error_description"].(string)
			if status != tc.status || body["error"] != tc.errorCode || !strings.HasPrefix(desc, tc.aadsts) || !strings.Contains(desc, tc.descSubstr) {
				t.Errorf("got %d %v", status, body)
			}
			if strings.Contains(desc, "s3cret") || strings.Contains(desc, "nope") {
				t.Error("error description contains the secret")
			}
			if _, ok := body["access_token"]; ok {
				t.Error("token issued")
			}
			for _, k := range []string{"error_codes", "timestamp", "trace_id", "correlation_id"} {
				if _, ok := body[k]; !ok {
					t.Errorf("%s missing", k)
				}
			}
		})
	}
}

func TestTokenLifetimeOption(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{TokenLifetime: 10 * time.Minute, TenantID: "11111111-2222-3333-4444-555555555555"})
	if s.TenantID() != "11111111-2222-3333-4444-555555555555" {
		t.Fatalf("TenantID = %s", s.TenantID())
	}
	s.AddSecretClient("a", "b")
	status, body := postToken(t, s, secretForm(s, "a", "b"))
	if status != 200 || body["expires_in"] != float64(599) {
		t.Errorf("%d %v", status, body)
	}
}

// certAssertion builds a client assertion the way MSAL does.
func certAssertion(t *testing.T, cert *x509.Certificate, key *rsa.PrivateKey, method jwt.SigningMethod, aud string, exp time.Time) string {
	t.Helper()
	claims := jwt.MapClaims{
		"aud": aud, "iss": "cert-app", "sub": "cert-app", "jti": uuid.NewString(),
		"nbf": time.Now().Unix(), "exp": exp.Unix(),
	}
	tok := jwt.NewWithClaims(method, claims)
	if method == jwt.SigningMethodRS256 {
		sum := sha1.Sum(cert.Raw)
		tok.Header = map[string]any{"alg": "RS256", "typ": "JWT", "x5t": base64.StdEncoding.EncodeToString(sum[:])}
	} else {
		sum := sha256.Sum256(cert.Raw)
		tok.Header = map[string]any{"alg": method.Alg(), "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(sum[:])}
	}
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// clientCertificate is a new certificate and key for the client name, as
// PEM (certificate, then key) and parsed.
func clientCertificate(t *testing.T, name string) ([]byte, *x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	certPEM, keyPEM, err := GenerateClientCertificate(name)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return append(certPEM, keyPEM...), cert, key.(*rsa.PrivateKey)
}

func TestTokenCertificateAssertion(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	_, cert, key := clientCertificate(t, "cert-app")
	s.AddCertificateClient("cert-app", cert)
	_, otherCert, otherKey := clientCertificate(t, "other")

	form := func(assertion string) url.Values {
		return assertionForm("cert-app", assertion, s.EnvironmentURL()+"/.default openid offline_access profile")
	}
	soon := time.Now().Add(10 * time.Minute)
	for _, tc := range []struct {
		name      string
		assertion string
		status    int
		aadsts    string
	}{
		{"PS256 x5t#S256", certAssertion(t, cert, key, jwt.SigningMethodPS256, s.testTokenEndpoint(), soon), 200, ""},
		{"RS256 x5t", certAssertion(t, cert, key, jwt.SigningMethodRS256, s.testTokenEndpoint(), soon), 200, ""},
		{"unregistered certificate", certAssertion(t, otherCert, otherKey, jwt.SigningMethodPS256, s.testTokenEndpoint(), soon), 401, "AADSTS700027:"},
		{"wrong key for thumbprint", certAssertion(t, cert, otherKey, jwt.SigningMethodPS256, s.testTokenEndpoint(), soon), 401, "AADSTS700027:"},
		{"wrong audience", certAssertion(t, cert, key, jwt.SigningMethodPS256, "https://login.microsoftonline.com/x/oauth2/v2.0/token", soon), 401, "AADSTS700027:"},
		{"expired", certAssertion(t, cert, key, jwt.SigningMethodPS256, s.testTokenEndpoint(), time.Now().Add(-time.Minute)), 401, "AADSTS700024:"},
		{"garbage", "not-a-jwt", 400, "AADSTS50027:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, s, form(tc.assertion))
			if status != tc.status {
				t.Fatalf("status %d: %v", status, body)
			}
			if tc.aadsts == "" {
				claims := jwt.MapClaims{}
				if _, err := jwt.ParseWithClaims(body["access_token"].(string), claims, func(*jwt.Token) (any, error) { return &s.tokenKey.key.PublicKey, nil }); err != nil {
					t.Fatal(err)
				}
				if claims["appidacr"] != "2" || claims["appid"] != "cert-app" {
					t.Errorf("claims = %v", claims)
				}
				return
			}
			if desc, _ := body["error_description"].(string); !strings.HasPrefix(desc, tc.aadsts) {
				t.Errorf("body = %v", body)
			}
		})
	}
}

// assertionForm is a client-credentials token request that proves the
// client with a JWT assertion (certificate or federated credential).
func assertionForm(clientID, assertion, scope string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {clientID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
		"scope":                 {scope},
	}
}

func TestTokenFederatedAssertion(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	s.AddFederatedClient("fed-app", "repo:contoso/baseline:ref:refs/heads/main")
	form := func(assertion string) url.Values {
		return assertionForm("fed-app", assertion, s.EnvironmentURL()+"/.default")
	}
	good, err := s.IssueFederatedToken("repo:contoso/baseline:ref:refs/heads/main")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(good, claims); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != s.FederatedIssuer() || claims["aud"] != "api://AzureADTokenExchange" || claims["sub"] != "repo:contoso/baseline:ref:refs/heads/main" {
		t.Errorf("federated token claims = %v", claims)
	}
	if status, body := postToken(t, s, form(good)); status != 200 {
		t.Fatalf("good assertion: %d %v", status, body)
	}

	wrongSubject, _ := s.IssueFederatedToken("repo:contoso/baseline:pull_request")
	status, body := postToken(t, s, form(wrongSubject))
	if desc, _ := body["error_description"].(string); status != 400 || body["error"] != "invalid_request" || !strings.HasPrefix(desc, "AADSTS70021: No matching federated identity record found for presented assertion.") {
		t.Errorf("wrong subject: %d %v", status, body)
	}

	// Another emulator's federated issuer signs with another key: same
	// claims, wrong signature.
	other := startServer(t, Options{})
	forged, _ := other.federatedKey.sign(jwt.MapClaims{
		"iss": s.FederatedIssuer(), "sub": "repo:contoso/baseline:ref:refs/heads/main",
		"aud": "api://AzureADTokenExchange", "exp": time.Now().Add(time.Minute).Unix(),
	})
	if status, body := postToken(t, s, form(forged)); status != 401 || body["error"] != "invalid_client" {
		t.Errorf("forged: %d %v", status, body)
	}

	// The federated issuer publishes its discovery document and keys.
	var cfg map[string]any
	getJSON(t, s, s.FederatedIssuer()+"/.well-known/openid-configuration", &cfg)
	if cfg["issuer"] != s.FederatedIssuer() || cfg["jwks_uri"] != s.FederatedIssuer()+"/keys" {
		t.Errorf("federated discovery = %v", cfg)
	}
}
