package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func TestNewCredentialManagedIdentityAndCLI(t *testing.T) {
	// Construction only: neither IMDS nor the az binary is contacted here.
	tests := []struct {
		name string
		cfg  Config
		want Method
	}{
		{"msi system-assigned", Config{UseMSI: true}, MethodManagedIdentity},
		{"msi user-assigned", Config{UseMSI: true, ClientID: testClient}, MethodManagedIdentity},
		{"msi with http client", Config{UseMSI: true, HTTPClient: &http.Client{}}, MethodManagedIdentity},
		{"cli", Config{UseCLI: true}, MethodAzureCLI},
		{"cli with tenant", Config{UseCLI: true, TenantID: testTenant}, MethodAzureCLI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, m, err := NewCredential(tt.cfg)
			if err != nil {
				t.Fatalf("NewCredential() error = %v", err)
			}
			if m != tt.want {
				t.Fatalf("method = %q, want %q", m, tt.want)
			}
			c, ok := cred.(*Credential)
			if !ok {
				t.Fatalf("credential is %T, want *Credential", cred)
			}
			if c.Method() != tt.want {
				t.Fatalf("Credential.Method() = %q, want %q", c.Method(), tt.want)
			}
		})
	}
}

func TestNewCredentialErrors(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantAttr string
	}{
		{"nothing configured", Config{}, ""},
		{"http authority host", Config{TenantID: testTenant, ClientID: testClient, ClientSecret: "s3cret", AuthorityHost: "http://login.example/"}, AttrAuthorityHost},
		{"invalid tenant", Config{TenantID: "bad tenant!", ClientID: testClient, ClientSecret: "s3cret"}, AttrTenantID},
		{"cli invalid tenant", Config{UseCLI: true, TenantID: "bad tenant!"}, AttrTenantID},
		{"bad github url", Config{TenantID: testTenant, ClientID: testClient, OIDCRequestURL: "::nope", OIDCRequestToken: "rt-secret"}, AttrOIDCRequestURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewCredential(tt.cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want *ConfigError", err)
			}
			if ce.Attribute != tt.wantAttr {
				t.Errorf("Attribute = %q, want %q (%v)", ce.Attribute, tt.wantAttr, err)
			}
			for _, secret := range []string{"s3cret", "rt-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestCredentialStringHidesSecrets(t *testing.T) {
	cred, _, err := NewCredential(Config{TenantID: testTenant, ClientID: testClient, ClientSecret: "very-secret-value"})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(format, cred)
		if strings.Contains(s, "very-secret-value") {
			t.Errorf("%s prints the secret: %s", format, s)
		}
		if !strings.Contains(s, "method=client_secret") || !strings.Contains(s, testClient) {
			t.Errorf("%s = %q, want method and client id", format, s)
		}
	}
}

func TestDisableInstanceDiscovery(t *testing.T) {
	t.Setenv("AZURE_AUTHORITY_HOST", "")
	tests := []struct {
		host string
		env  string
		want bool
	}{
		{"", "", false},
		{"https://login.microsoftonline.com/", "", false},
		{"https://login.microsoftonline.us/", "", false},
		{"https://127.0.0.1:8443/", "", true},
		{"", "https://localhost:9999/", true},
		{"https://login.chinacloudapi.cn/", "https://localhost:9999/", false},
	}
	for _, tt := range tests {
		t.Setenv("AZURE_AUTHORITY_HOST", tt.env)
		if got := disableInstanceDiscovery(Config{AuthorityHost: tt.host}); got != tt.want {
			t.Errorf("disableInstanceDiscovery(%q, env %q) = %v, want %v", tt.host, tt.env, got, tt.want)
		}
	}
}

// fakeLogin is a minimal login host: OpenID configuration and a client-credentials token endpoint.
type fakeLogin struct {
	srv *httptest.Server

	mu    sync.Mutex
	forms []map[string]string
}

func newFakeLogin(t *testing.T) *fakeLogin {
	t.Helper()
	f := &fakeLogin{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLogin) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case len(parts) >= 2 && strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		tenant := parts[0]
		base := f.srv.URL + "/" + tenant
		_ = json.NewEncoder(w).Encode(map[string]string{
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"issuer":                 base + "/v2.0",
		})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") && r.Method == http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		f.mu.Lock()
		f.forms = append(f.forms, form)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
			"access_token": fmt.Sprintf("token-%d", len(f.forms)),
		})
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not_found"}`))
	}
}

func (f *fakeLogin) lastForm(t *testing.T) map[string]string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.forms) == 0 {
		t.Fatal("no token request")
	}
	return f.forms[len(f.forms)-1]
}

func (f *fakeLogin) config() Config {
	return Config{TenantID: testTenant, ClientID: testClient, AuthorityHost: f.srv.URL + "/", HTTPClient: f.srv.Client()}
}

// TestTokensFromNonMicrosoftHost signs in against a local login host: this only works when
// instance discovery is off (offline, MSAL would otherwise ask login.microsoftonline.com) and
// the injected HTTP client (which trusts the test server's certificate) is used.
func TestTokensFromNonMicrosoftHost(t *testing.T) {
	t.Setenv("AZURE_AUTHORITY_HOST", "")
	login := newFakeLogin(t)
	scope := policy.TokenRequestOptions{Scopes: []string{"https://org.crm.dynamics.com/.default"}}

	t.Run("client secret", func(t *testing.T) {
		cfg := login.config()
		cfg.ClientSecret = "the-secret"
		cred, m, err := NewCredential(cfg)
		if err != nil || m != MethodClientSecret {
			t.Fatalf("NewCredential() = %q, %v", m, err)
		}
		tok, err := cred.GetToken(context.Background(), scope)
		if err != nil {
			t.Fatalf("GetToken() error = %v", err)
		}
		if tok.Token == "" {
			t.Fatal("empty token")
		}
		form := login.lastForm(t)
		if form["client_secret"] != "the-secret" || form["client_id"] != testClient || form["grant_type"] != "client_credentials" {
			t.Fatalf("token request form = %v", form)
		}
	})

	t.Run("client certificate", func(t *testing.T) {
		certPEM, keyPEM := selfSignedPEM(t)
		cfg := login.config()
		cfg.ClientCertificatePath = writeFile(t, "cert.pem", append(certPEM, keyPEM...))
		cred, m, err := NewCredential(cfg)
		if err != nil || m != MethodClientCertificate {
			t.Fatalf("NewCredential() = %q, %v", m, err)
		}
		if _, err := cred.GetToken(context.Background(), scope); err != nil {
			t.Fatalf("GetToken() error = %v", err)
		}
		form := login.lastForm(t)
		assertion := form["client_assertion"]
		header := jwtHeader(t, assertion)
		if header["x5t#S256"] == nil {
			t.Errorf("assertion header %v lacks x5t#S256", header)
		}
		if header["x5c"] != nil {
			t.Errorf("assertion header sends the certificate chain: %v", header)
		}
	})

	t.Run("oidc token file", func(t *testing.T) {
		cfg := login.config()
		cfg.UseOIDC = true
		cfg.OIDCTokenFilePath = writeFile(t, "token", []byte("federated-jwt\n"))
		cred, m, err := NewCredential(cfg)
		if err != nil || m != MethodOIDC {
			t.Fatalf("NewCredential() = %q, %v", m, err)
		}
		if _, err := cred.GetToken(context.Background(), scope); err != nil {
			t.Fatalf("GetToken() error = %v", err)
		}
		if got := login.lastForm(t)["client_assertion"]; got != "federated-jwt" {
			t.Fatalf("client_assertion = %q", got)
		}
	})
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func jwtHeader(t *testing.T, jwt string) map[string]any {
	t.Helper()
	part, _, ok := strings.Cut(jwt, ".")
	if !ok {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}
