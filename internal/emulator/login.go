package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const (
	jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	federatedAudience      = "api://AzureADTokenExchange"
	federatedTokenLifetime = 10 * time.Minute
)

// signingKey is an RSA key with a self-signed certificate, published in a
// JWKS the way Entra publishes its keys (kid = x5t = SHA-1 thumbprint).
type signingKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	kid  string
}

func newSigningKey(name string) (*signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	cert, err := selfSignedRSACertificate(key, name, 5*365*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("create signing certificate: %w", err)
	}
	sum := sha1.Sum(cert.Raw)
	return &signingKey{key: key, cert: cert, kid: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

func (k *signingKey) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.kid
	t.Header["x5t"] = k.kid
	return t.SignedString(k.key)
}

func (k *signingKey) jwks(issuer string) map[string]any {
	pub := k.key.PublicKey
	jwk := map[string]any{
		"kty": "RSA",
		"use": "sig",
		"kid": k.kid,
		"x5t": k.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"x5c": []string{base64.StdEncoding.EncodeToString(k.cert.Raw)},
	}
	if issuer != "" {
		jwk["issuer"] = issuer
	}
	return map[string]any{"keys": []any{jwk}}
}

// FederatedIssuer is the issuer URL of the tokens IssueFederatedToken makes
// (an OIDC issuer on the login listener, with its own discovery document),
// or Options.FederatedIssuer.
func (s *Server) FederatedIssuer() string { return s.federatedIssuer }

// IssueFederatedToken returns a JWT from the emulator's federated issuer
// (like a GitHub Actions or Kubernetes OIDC token) for subject, with audience
// api://AzureADTokenExchange, valid for 10 minutes.
func (s *Server) IssueFederatedToken(subject string) (string, error) {
	return s.issueFederatedToken(subject, federatedAudience)
}

// IssueAccessToken returns an access token for a registered client and
// resource, as the token endpoint would, but valid for lifetime (negative:
// already expired). For tests that need a token without a login round trip.
func (s *Server) IssueAccessToken(clientID, resource string, lifetime time.Duration) (string, error) {
	s.entra.mu.Lock()
	c := s.entra.clients[clientID]
	s.entra.mu.Unlock()
	if c == nil {
		return "", fmt.Errorf("emulator: unknown client %q", clientID)
	}
	return s.issueAccessToken(c, strings.TrimSuffix(resource, "/"), "1", time.Now(), lifetime)
}

// tokenIssuer is the iss claim of v1.0 access tokens, which Dataverse gets.
func (s *Server) tokenIssuer() string { return "https://sts.windows.net/" + s.tenantID + "/" }

func (s *Server) issueAccessToken(c *appClient, resource, appidacr string, now time.Time, lifetime time.Duration) (string, error) {
	iat := now.Add(-5 * time.Minute) // Entra backdates iat/nbf for clock skew
	claims := jwt.MapClaims{
		"aud":      resource,
		"iss":      s.tokenIssuer(),
		"iat":      iat.Unix(),
		"nbf":      iat.Unix(),
		"exp":      now.Add(lifetime).Unix(),
		"aio":      base64.RawURLEncoding.EncodeToString([]byte(uuid.NewString()))[:40],
		"appid":    c.id,
		"appidacr": appidacr,
		"azp":      c.id,
		"azpacr":   appidacr,
		"idp":      s.tokenIssuer(),
		"idtyp":    "app",
		"oid":      c.user.objectID,
		"rh":       "0.AAAA" + strings.ReplaceAll(uuid.NewString(), "-", "") + ".",
		"sub":      c.user.objectID,
		"tid":      s.tenantID,
		"uti":      base64.RawURLEncoding.EncodeToString([]byte(uuid.NewString()))[:22],
		"ver":      "1.0",
	}
	if strings.EqualFold(resource, s.graphURL) {
		// Application permissions granted to the app are its roles; Entra
		// leaves the claim out when there are none.
		s.entra.mu.Lock()
		roles := c.user.cfg.graphPermissions()
		s.entra.mu.Unlock()
		if len(roles) > 0 {
			claims["roles"] = roles
		}
	}
	return s.tokenKey.sign(claims)
}

// errWrongAudience is verifyAccessToken's error for a token issued for
// another resource.
var errWrongAudience = errors.New("wrong audience")

// verifyAccessToken checks a bearer token presented to a resource listener
// and returns the user it stands for.
func (s *Server) verifyAccessToken(raw, audience string) (*principal, error) {
	p, _, err := s.verifyAccessTokenClaims(raw, audience)
	return p, err
}

// verifyAccessTokenClaims is verifyAccessToken that also returns the
// token's claims.
func (s *Server) verifyAccessTokenClaims(raw, audience string) (*principal, jwt.MapClaims, error) {
	tok, err := jwt.Parse(raw, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.tokenKey.kid {
			return nil, errors.New("unknown signing key")
		}
		return &s.tokenKey.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuer(s.tokenIssuer()))
	if err != nil {
		return nil, nil, err
	}
	claims := tok.Claims.(jwt.MapClaims)
	auds, err := claims.GetAudience()
	if err != nil {
		return nil, nil, err
	}
	if !slices.ContainsFunc(auds, func(a string) bool { return strings.EqualFold(strings.TrimSuffix(a, "/"), audience) }) {
		return nil, nil, errWrongAudience
	}
	if tid, _ := claims["tid"].(string); tid != s.tenantID {
		return nil, nil, errors.New("wrong tenant")
	}
	oid, _ := claims["oid"].(string)
	s.entra.mu.Lock()
	p := s.entra.principalByOID[oid]
	s.entra.mu.Unlock()
	if p == nil {
		return nil, nil, errors.New("unknown principal")
	}
	return p, claims, nil
}

// routeLogin names the login listener's routes for the request counters.
func (s *Server) routeLogin(r *http.Request) string {
	route, _ := loginRoute(r.URL.Path)
	return route
}

func loginRoute(path string) (route, tenant string) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case slices.Equal(seg, []string{"federated", ".well-known", "openid-configuration"}):
		return "federated-openid-configuration", ""
	case slices.Equal(seg, []string{"federated", "keys"}):
		return "federated-keys", ""
	case len(seg) == 4 && slices.Equal(seg[1:], []string{"v2.0", ".well-known", "openid-configuration"}):
		return "openid-configuration", seg[0]
	case len(seg) == 4 && slices.Equal(seg[1:], []string{"discovery", "v2.0", "keys"}):
		return "keys", seg[0]
	case len(seg) == 4 && slices.Equal(seg[1:], []string{"oauth2", "v2.0", "token"}):
		return "token", seg[0]
	case slices.Equal(seg, []string{"github-actions", "idtoken"}):
		return routeGitHubIDToken, ""
	case slices.Equal(seg, []string{"msi", "token"}):
		return routeMSIToken, ""
	}
	return "other", ""
}

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	route, tenant := loginRoute(r.URL.Path)
	if route == "other" {
		http.NotFound(w, r)
		return
	}
	if route == "token" {
		if r.Method != http.MethodPost {
			s.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900561,
				fmt.Sprintf("The endpoint only accepts POST requests. Received a %s request.", r.Method))
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if tenant != "" && !strings.EqualFold(tenant, s.tenantID) {
		s.writeAADError(w, r, http.StatusBadRequest, "invalid_tenant", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant))
		return
	}
	switch route {
	case "openid-configuration":
		s.serveOpenIDConfiguration(w, tenant)
	case "keys":
		writeJSON(w, http.StatusOK, s.tokenKey.jwks(s.authorityHost+s.tenantID+"/v2.0"))
	case "token":
		s.serveToken(w, r, tenant)
	case "federated-openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                s.FederatedIssuer(),
			"jwks_uri":                              s.authorityHost + "federated/keys",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public", "pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf"},
		})
	case "federated-keys":
		writeJSON(w, http.StatusOK, s.federatedKey.jwks(""))
	case routeGitHubIDToken:
		s.serveGitHubIDToken(w, r)
	case routeMSIToken:
		s.serveManagedIdentityToken(w, r)
	}
}

func (s *Server) serveOpenIDConfiguration(w http.ResponseWriter, tenant string) {
	base := s.authorityHost + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

// aadError is a token endpoint refusal.
type aadError struct {
	status      int
	code        string // OAuth error, e.g. invalid_client
	aadsts      int
	description string
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	grant := form.Get("grant_type")
	switch {
	case grant == "":
		s.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	case grant != "client_credentials":
		s.writeAADError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
		return
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		s.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	s.entra.mu.Lock()
	var c *appClient
	if registered := s.entra.clients[clientID]; registered != nil {
		// A snapshot, so credentials added concurrently do not race.
		snapshot := *registered
		snapshot.secrets = slices.Clone(registered.secrets)
		snapshot.certs = slices.Clone(registered.certs)
		snapshot.subjects = slices.Clone(registered.subjects)
		c = &snapshot
	}
	s.entra.mu.Unlock()
	if c == nil {
		s.writeAADError(w, r, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
		return
	}

	appidacr := "1"
	switch {
	case form.Has("client_assertion"):
		if t := form.Get("client_assertion_type"); t != jwtBearerAssertionType {
			s.writeAADError(w, r, http.StatusBadRequest, "invalid_request", 700023,
				fmt.Sprintf("Invalid client assertion type '%s'. Expected '%s'.", t, jwtBearerAssertionType))
			return
		}
		endpoint := s.authorityHost + tenant + "/oauth2/v2.0/token"
		if e := s.checkClientAssertion(c, form.Get("client_assertion"), endpoint); e != nil {
			s.writeAADError(w, r, e.status, e.code, e.aadsts, e.description)
			return
		}
		appidacr = "2"
	case form.Has("client_secret"):
		if !c.secretMatches(form.Get("client_secret")) {
			s.writeAADError(w, r, http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
	default:
		s.writeAADError(w, r, http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}

	resource, e := s.resourceFromScope(form.Get("scope"))
	if e != nil {
		s.writeAADError(w, r, e.status, e.code, e.aadsts, e.description)
		return
	}
	// A "claims" parameter (MSAL sends one when the caller forces a fresh
	// token) needs no handling: every request gets a new token anyway.
	token, err := s.issueAccessToken(c, resource, appidacr, time.Now(), s.tokenLifetime)
	if err != nil {
		http.Error(w, "token signing failed", http.StatusInternalServerError)
		return
	}
	s.countToken(c.id)
	expiresIn := max(int(s.advertisedLife/time.Second)-1, 1)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     expiresIn,
		"ext_expires_in": expiresIn,
		"access_token":   token,
	})
}

func (c *appClient) secretMatches(secret string) bool {
	for _, s := range c.secrets {
		if subtle.ConstantTimeCompare([]byte(s), []byte(secret)) == 1 {
			return true
		}
	}
	return false
}

// resourceFromScope finds the one "<resource>/.default" scope of a client
// credentials request; MSAL adds openid, offline_access and profile.
func (s *Server) resourceFromScope(scope string) (string, *aadError) {
	if strings.TrimSpace(scope) == "" {
		return "", &aadError{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."}
	}
	var resources []string
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "offline_access", "profile":
			continue
		}
		if !strings.HasSuffix(sc, "/.default") {
			return "", &aadError{http.StatusBadRequest, "invalid_scope", 1002012,
				fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)}
		}
		resources = append(resources, strings.TrimSuffix(strings.TrimSuffix(sc, "/.default"), "/"))
	}
	if len(resources) != 1 {
		return "", &aadError{http.StatusBadRequest, "invalid_scope", 70011,
			fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)}
	}
	s.entra.mu.Lock()
	known := s.entra.audiences[resources[0]]
	s.entra.mu.Unlock()
	if !known {
		return "", &aadError{http.StatusBadRequest, "invalid_resource", 500011,
			fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resources[0], s.tenantID)}
	}
	return resources[0], nil
}

// checkClientAssertion validates a certificate assertion (iss = sub = the
// client id) or, otherwise, a federated identity assertion.
func (s *Server) checkClientAssertion(c *appClient, assertion, tokenEndpoint string) *aadError {
	unverified, _, err := jwt.NewParser().ParseUnverified(assertion, jwt.MapClaims{})
	if err != nil {
		return &aadError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed."}
	}
	claims := unverified.Claims.(jwt.MapClaims)
	iss, _ := claims.GetIssuer()
	sub, _ := claims.GetSubject()
	if iss == c.id && sub == c.id {
		return s.checkCertificateAssertion(c, unverified, assertion, tokenEndpoint)
	}
	return s.checkFederatedAssertion(c, claims, assertion)
}

func (s *Server) checkCertificateAssertion(c *appClient, unverified *jwt.Token, assertion, tokenEndpoint string) *aadError {
	var cert *x509.Certificate
	var thumb []byte
	if v, ok := unverified.Header["x5t#S256"].(string); ok {
		thumb = decodeThumbprint(v)
		cert = c.findCertificate(thumb, func(der []byte) []byte { h := sha256.Sum256(der); return h[:] })
	} else if v, ok := unverified.Header["x5t"].(string); ok {
		thumb = decodeThumbprint(v)
		cert = c.findCertificate(thumb, func(der []byte) []byte { h := sha1.Sum(der); return h[:] })
	}
	if cert == nil {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700027,
			fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", strings.ToUpper(hex.EncodeToString(thumb)), c.id)}
	}
	tok, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithExpirationRequired())
	if e := assertionTimeError(err, unverified); e != nil {
		return e
	}
	if err != nil {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."}
	}
	auds, _ := tok.Claims.GetAudience()
	if !slices.Contains(auds, tokenEndpoint) {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700027,
			fmt.Sprintf("Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials. Expected audience: '%s'.", tokenEndpoint)}
	}
	return nil
}

func (s *Server) checkFederatedAssertion(c *appClient, claims jwt.MapClaims, assertion string) *aadError {
	iss, _ := claims.GetIssuer()
	sub, _ := claims.GetSubject()
	auds, _ := claims.GetAudience()
	trusted := slices.Contains(c.subjects, sub)
	if iss != s.FederatedIssuer() || !trusted || !slices.Contains(auds, federatedAudience) {
		return &aadError{http.StatusBadRequest, "invalid_request", 70021,
			fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", iss, sub, strings.Join(auds, ","))}
	}
	unverified, _, _ := jwt.NewParser().ParseUnverified(assertion, jwt.MapClaims{})
	_, err := jwt.Parse(assertion, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.federatedKey.kid {
			return nil, errors.New("key not found")
		}
		return &s.federatedKey.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if e := assertionTimeError(err, unverified); e != nil {
		return e
	}
	if err != nil {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."}
	}
	return nil
}

// assertionTimeError turns an expired or not-yet-valid assertion into
// AADSTS700024; other errors are left to the caller.
func assertionTimeError(err error, unverified *jwt.Token) *aadError {
	if err == nil || !errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenNotValidYet) && !errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		return nil
	}
	var nbf, exp string
	if unverified != nil {
		if t, _ := unverified.Claims.GetNotBefore(); t != nil {
			nbf = t.UTC().Format(aadTimeFormat)
		}
		if t, _ := unverified.Claims.GetExpirationTime(); t != nil {
			exp = t.UTC().Format(aadTimeFormat)
		}
	}
	return &aadError{http.StatusUnauthorized, "invalid_client", 700024,
		fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials.",
			time.Now().UTC().Format(aadTimeFormat), nbf, exp)}
}

func (c *appClient) findCertificate(thumb []byte, hash func([]byte) []byte) *x509.Certificate {
	if len(thumb) == 0 {
		return nil
	}
	for _, cert := range c.certs {
		if subtle.ConstantTimeCompare(hash(cert.Raw), thumb) == 1 {
			return cert
		}
	}
	return nil
}

// decodeThumbprint accepts base64url (RFC 7515) and standard base64 (which
// MSAL sends), padded or not.
func decodeThumbprint(v string) []byte {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b
		}
	}
	return nil
}

const aadTimeFormat = "2006-01-02 15:04:05Z"

// writeAADError writes an Entra token endpoint error body.
func (s *Server) writeAADError(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, description string) {
	now := time.Now().UTC().Format(aadTimeFormat)
	traceID := uuid.NewString()
	correlationID := r.Header.Get("client-request-id")
	if _, err := uuid.Parse(correlationID); err != nil {
		correlationID = uuid.NewString()
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, description, traceID, correlationID, now),
		"error_codes":       []int{aadsts},
		"timestamp":         now,
		"trace_id":          traceID,
		"correlation_id":    correlationID,
		"error_uri":         fmt.Sprintf("%serror?code=%d", s.authorityHost, aadsts),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
