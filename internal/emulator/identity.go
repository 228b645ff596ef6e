package emulator

import (
	crand "crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Two more ways to log in, served on the login listener so that tests can
// cover every credential type without Azure or GitHub:
//
//   - GitHub Actions' OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL and
//     ACTIONS_ID_TOKEN_REQUEST_TOKEN): GET <url>&audience=<aud> with
//     "Authorization: Bearer <request token>" answers
//     {"count":1,"value":"<JWT>"}, a token of the emulator's federated
//     issuer that a client then presents as client assertion.
//   - Managed identity as App Service exposes it (IDENTITY_ENDPOINT and
//     IDENTITY_HEADER): GET <endpoint>?api-version=2019-08-01&resource=<r>
//     with header X-IDENTITY-HEADER answers
//     {"access_token","expires_on","resource","token_type","client_id"}.

const (
	routeGitHubIDToken      = "github-idtoken"
	routeMSIToken           = "msi-token"
	appServiceMSIAPIVersion = "2019-08-01"
)

func randomSecret() string {
	b := make([]byte, 24)
	crand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// GitHubActionsOIDC registers a GitHub Actions OIDC request token that
// yields federated tokens for subject (e.g. "repo:contoso/audit:ref:refs/heads/main")
// and returns the values of ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN. Like GitHub's, the URL already has a
// query (api-version=2.0), so clients append "&audience=…". The tokens come
// from FederatedIssuer(); register the application that trusts subject
// with AddFederatedClient.
func (s *Server) GitHubActionsOIDC(subject string) (requestURL, requestToken string) {
	tok := randomSecret()
	s.entra.mu.Lock()
	s.entra.githubTokens[tok] = subject
	s.entra.mu.Unlock()
	return s.authorityHost + "github-actions/idtoken?api-version=2.0", tok
}

// serveGitHubIDToken answers a GitHub Actions OIDC token request.
//
// Guesses: a missing or unknown request token gets 401 with
// {"message":"Bad credentials"}; without an audience parameter the token's
// audience is GitHub's default, the URL of the repository owner
// ("https://github.com/<owner>" from a "repo:<owner>/…" subject), which
// Entra refuses as client assertion.
func (s *Server) serveGitHubIDToken(w http.ResponseWriter, r *http.Request) {
	scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	s.entra.mu.Lock()
	var subject string
	ok := false
	if found && strings.EqualFold(scheme, "Bearer") && tok != "" {
		for known, sub := range s.entra.githubTokens {
			if subtle.ConstantTimeCompare([]byte(known), []byte(tok)) == 1 {
				subject, ok = sub, true
			}
		}
	}
	s.entra.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
		return
	}
	audience := r.URL.Query().Get("audience")
	if audience == "" {
		audience = "https://github.com"
		if owner, _, ok := strings.Cut(strings.TrimPrefix(subject, "repo:"), "/"); ok && strings.HasPrefix(subject, "repo:") {
			audience += "/" + owner
		}
	}
	jwtString, err := s.issueFederatedToken(subject, audience)
	if err != nil {
		http.Error(w, "token signing failed", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": jwtString})
}

func (s *Server) issueFederatedToken(subject, audience string) (string, error) {
	now := time.Now()
	return s.federatedKey.sign(jwt.MapClaims{
		"iss": s.FederatedIssuer(),
		"sub": subject,
		"aud": audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(federatedTokenLifetime).Unix(),
		"jti": uuid.NewString(),
	})
}

// ManagedIdentity registers a managed identity with application (client)
// id clientID as an application whose application user holds all
// privileges (or those of opts), and returns the values of
// IDENTITY_ENDPOINT and IDENTITY_HEADER that make azidentity's
// ManagedIdentityCredential (App Service source) get its tokens, for the
// environment or Graph, from the login listener. Each call returns a new
// header; a client_id (or object_id) query parameter selects another
// identity registered with ManagedIdentity, as a user-assigned identity of
// the same host. TokenLifetime and AdvertisedTokenLifetime apply, as to
// the token endpoint.
func (s *Server) ManagedIdentity(clientID string, opts ...ClientOption) (endpoint, header string) {
	s.registerClient(clientID, opts, func(*appClient) {})
	h := randomSecret()
	s.entra.mu.Lock()
	s.entra.miByHeader[h] = clientID
	s.entra.managedIDs[clientID] = true
	s.entra.mu.Unlock()
	return s.authorityHost + "msi/token", h
}

// serveManagedIdentityToken answers an App Service managed identity token
// request. Error bodies ({"statusCode":…,"message":…}) are a guess: App
// Service does not document them and MSAL shows any non-200 body as is.
func (s *Server) serveManagedIdentityToken(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": uuid.NewString()})
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		fail(http.StatusMethodNotAllowed, "The managed identity endpoint only accepts GET requests.")
		return
	}
	hdr := r.Header.Get("X-IDENTITY-HEADER")
	s.entra.mu.Lock()
	clientID := ""
	for known, id := range s.entra.miByHeader {
		if hdr != "" && subtle.ConstantTimeCompare([]byte(known), []byte(hdr)) == 1 {
			clientID = id
		}
	}
	s.entra.mu.Unlock()
	if clientID == "" {
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or wrong.")
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != appServiceMSIAPIVersion {
		fail(http.StatusBadRequest, fmt.Sprintf("The api-version '%s' is not supported; use %s.", v, appServiceMSIAPIVersion))
		return
	}
	requested := q.Get("resource")
	resource := strings.TrimSuffix(strings.TrimSuffix(requested, "/.default"), "/")
	s.entra.mu.Lock()
	known := s.entra.audiences[resource]
	s.entra.mu.Unlock()
	if requested == "" || !known {
		fail(http.StatusBadRequest, fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant named %s.", requested, s.tenantID))
		return
	}
	if q.Has("mi_res_id") || q.Has("msi_res_id") || q.Has("principal_id") {
		fail(http.StatusBadRequest, "The Dynamics 365 emulator selects managed identities by client_id or object_id only.")
		return
	}
	s.entra.mu.Lock()
	if id := q.Get("client_id"); id != "" {
		clientID = ""
		if s.entra.managedIDs[id] {
			clientID = id
		}
	} else if oid := q.Get("object_id"); oid != "" {
		clientID = ""
		for id := range s.entra.managedIDs {
			if c := s.entra.clients[id]; c != nil && strings.EqualFold(c.user.objectID, oid) {
				clientID = id
			}
		}
	}
	c := s.entra.clients[clientID]
	s.entra.mu.Unlock()
	if c == nil {
		fail(http.StatusBadRequest, "Unable to load the proper Managed Identity.")
		return
	}
	now := time.Now()
	token, err := s.issueAccessToken(c, resource, "2", now, s.tokenLifetime)
	if err != nil {
		http.Error(w, "token signing failed", http.StatusInternalServerError)
		return
	}
	s.countToken(c.id)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"expires_on":   strconv.FormatInt(now.Add(s.advertisedLife).Unix(), 10),
		"resource":     requested,
		"token_type":   "Bearer",
		"client_id":    c.id,
	})
}

func (s *Server) countToken(clientID string) {
	s.counters.mu.Lock()
	s.counters.tokensIssued[clientID]++
	s.counters.mu.Unlock()
}

// TokensIssued is the number of access tokens the token endpoint and the
// managed identity endpoint issued to clientID (since Start or
// ResetCounters). Refused requests and IssueAccessToken do not count.
func (s *Server) TokensIssued(clientID string) int {
	return locked(&s.counters.mu, func() int { return s.counters.tokensIssued[clientID] })
}
