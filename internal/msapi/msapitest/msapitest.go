// Package msapitest has test doubles for clients built on internal/msapi:
// a credential that records how it was asked, a TLS server whose requests
// are recorded, and JSON answer helpers.
package msapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// DefaultToken is the token a Credential hands out when Token is nil.
const DefaultToken = "test-token"

// Credential is a fake azcore.TokenCredential that hands out tokens valid
// for an hour and records how it was asked. Set its fields before use.
type Credential struct {
	// Scope, when set, is the only scope served: asking for another fails.
	Scope string
	// Token returns the token for the n-th call (1-based), asked with
	// claims (a fresh token) or not; nil means DefaultToken.
	Token func(n int, claims bool) string

	mu         sync.Mutex
	calls      int
	claimCalls int
	scopes     []string
	lastClaims string
}

// GetToken implements azcore.TokenCredential.
func (f *Credential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Scope != "" && (len(opts.Scopes) != 1 || opts.Scopes[0] != f.Scope) {
		return azcore.AccessToken{}, fmt.Errorf("fake credential: scopes %q, want [%q]", opts.Scopes, f.Scope)
	}
	f.calls++
	f.scopes = opts.Scopes
	if opts.Claims != "" {
		f.claimCalls++
		f.lastClaims = opts.Claims
	}
	tok := DefaultToken
	if f.Token != nil {
		tok = f.Token(f.calls, opts.Claims != "")
	}
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Counts returns the tokens handed out, and how many of them were asked with claims.
func (f *Credential) Counts() (calls, claimCalls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.claimCalls
}

// Scopes returns the scopes of the last successful call.
func (f *Credential) Scopes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.scopes...)
}

// LastClaims returns the claims of the last call that had some.
func (f *Credential) LastClaims() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastClaims
}

// WriteJSON answers with status and v as JSON; a string v is sent as is.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	if s, ok := v.(string); ok {
		_, _ = io.WriteString(w, s)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// ODataError is the OData error envelope with code and message.
func ODataError(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg}}
}

// WhoAmIUserID is the UserId of WhoAmIBody.
const WhoAmIUserID = "22222222-2222-2222-2222-222222222222"

// WhoAmIBody is Dataverse's answer to GET WhoAmI, the cheapest call and so
// the typical request of transport tests.
func WhoAmIBody() map[string]any {
	return map[string]any{
		"@odata.context": "https://x/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
		"BusinessUnitId": "11111111-1111-1111-1111-111111111111",
		"UserId":         WhoAmIUserID,
		"OrganizationId": "33333333-3333-3333-3333-333333333333",
	}
}

// NewTLSServer starts a TLS server answering with h and closes it when the
// test ends.
func NewTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// NewClient applies opts to cfg in order and builds a client from it with
// build; a build error fails the test at once.
func NewClient[C, T any](t testing.TB, build func(C) (T, error), cfg C, opts ...func(*C)) T {
	t.Helper()
	for _, opt := range opts {
		opt(&cfg)
	}
	c, err := build(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// Recorder keeps the requests a fake server received, with their bodies
// and arrival times, in order. It is safe for concurrent handlers.
type Recorder struct {
	mu     sync.Mutex
	times  []time.Time
	reqs   []*http.Request
	bodies [][]byte
}

// Record keeps req and its body, leaving the body readable again for the
// handler, and returns the request's 1-based number.
func (r *Recorder) Record(req *http.Request) int {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.times = append(r.times, time.Now())
	r.reqs = append(r.reqs, req)
	r.bodies = append(r.bodies, body)
	return len(r.reqs)
}

// Count returns how many requests were recorded.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// Request returns the i-th recorded request (0-based).
func (r *Recorder) Request(i int) *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[i]
}

// Requests returns every recorded request in order of arrival.
func (r *Recorder) Requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

// Body returns the body of the i-th recorded request (0-based).
func (r *Recorder) Body(i int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[i]
}

// Handler returns an http.HandlerFunc that records each request, then
// answers it with answer.
func (r *Recorder) Handler(answer http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		r.Record(req)
		answer(w, req)
	}
}

// NoContent answers 204 No Content, as Dataverse does to a successful write.
func NoContent(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// Time returns when the i-th request (0-based) was recorded.
func (r *Recorder) Time(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.times[i]
}
