package dataverse

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// fakeCredential hands out tokens and records how it was asked.
type fakeCredential struct {
	mu         sync.Mutex
	calls      int
	claimCalls int
	scopes     []string
	lastClaims string
	// token returns the token for the n-th call (1-based) and whether claims were set.
	token func(n int, claims bool) string
}

func (f *fakeCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.scopes = opts.Scopes
	if opts.Claims != "" {
		f.claimCalls++
		f.lastClaims = opts.Claims
	}
	tok := "test-token"
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

// recorder counts requests a handler received and when.
type recorder struct {
	mu    sync.Mutex
	times []time.Time
	reqs  []*http.Request
	body  [][]byte
}

func (r *recorder) record(req *http.Request, body []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.times = append(r.times, time.Now())
	r.reqs = append(r.reqs, req)
	r.body = append(r.body, body)
	return len(r.times)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.times)
}

// fastRetries keeps retry waits tiny so tests do not sleep.
func fastRetries(cfg *Config) {
	cfg.RetryWaitMin = time.Millisecond
	cfg.RetryWaitMax = 5 * time.Millisecond
}

// newTestServer starts a TLS server and a Client pointing at it.
func newTestServer(t *testing.T, h http.HandlerFunc, opts ...func(*Config)) (*Client, *fakeCredential, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	cred := &fakeCredential{}
	cfg := Config{
		EnvironmentURL: srv.URL,
		Credential:     cred,
		HTTPClient:     srv.Client(),
		UserAgent:      "dataverse-test/1.0",
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, cred, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func odataErr(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg}}
}

func whoAmIBody() map[string]any {
	return map[string]any{
		"@odata.context": "https://x/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
		"BusinessUnitId": "11111111-1111-1111-1111-111111111111",
		"UserId":         "22222222-2222-2222-2222-222222222222",
		"OrganizationId": "33333333-3333-3333-3333-333333333333",
	}
}

func countAtomic(p *atomic.Int64) int { return int(p.Load()) }
