package graph

import (
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

// fakeCredential hands out tokens and fails a request for any scope other
// than the Graph one.
type fakeCredential struct {
	scope string

	mu         sync.Mutex
	calls      int
	claimCalls int
	// token returns the token for the n-th call (1-based).
	token func(n int, claims bool) string
}

func (f *fakeCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(opts.Scopes) != 1 || opts.Scopes[0] != f.scope {
		return azcore.AccessToken{}, fmt.Errorf("fake credential: scopes %q, want [%q]", opts.Scopes, f.scope)
	}
	f.calls++
	if opts.Claims != "" {
		f.claimCalls++
	}
	tok := "graph-token"
	if f.token != nil {
		tok = f.token(f.calls, opts.Claims != "")
	}
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (f *fakeCredential) counts() (calls, claimCalls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.claimCalls
}

// seen is one request as the server got it.
type seen struct {
	at     time.Time
	method string
	path   string // escaped path
	query  string
	auth   string
	body   []byte
}

// fakeGraph is a TLS server recording requests; handle answers them.
type fakeGraph struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []seen
	handle func(w http.ResponseWriter, r *http.Request, n int, body []byte)
}

func (g *fakeGraph) requests() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.reqs...)
}

// newFake starts a fake Graph and a Client for it; opts adjust the Config.
func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int, body []byte), opts ...func(*Config)) (*Client, *fakeCredential, *fakeGraph) {
	t.Helper()
	g := &fakeGraph{handle: handle}
	g.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.reqs = append(g.reqs, seen{
			at: time.Now(), method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
			auth: r.Header.Get("Authorization"), body: body,
		})
		n := len(g.reqs)
		g.mu.Unlock()
		g.handle(w, r, n, body)
	}))
	t.Cleanup(g.srv.Close)
	cred := &fakeCredential{scope: g.srv.URL + "/.default"}
	cfg := Config{
		GraphURL:     g.srv.URL,
		Credential:   cred,
		HTTPClient:   g.srv.Client(),
		UserAgent:    "graph-test/1.0",
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, cred, g
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	if s, ok := v.(string); ok {
		_, _ = io.WriteString(w, s)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func graphError(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"date": "2026-01-01T00:00:00", "request-id": "r-1", "client-request-id": "c-1"},
	}}
}

func queryBody(id, status string) map[string]any {
	return map[string]any{
		"@odata.context":      "https://graph.microsoft.com/beta/$metadata#security/auditLog/queries/$entity",
		"id":                  id,
		"displayName":         "test",
		"filterStartDateTime": "2026-01-01T00:00:00Z",
		"filterEndDateTime":   "2026-01-02T00:00:00Z",
		"recordTypeFilters":   []string{"crm"},
		"status":              status,
	}
}
