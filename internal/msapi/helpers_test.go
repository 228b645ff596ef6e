package msapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

// The tests call a Dataverse-like API: the transport is the same for every API.
const (
	testAPI     = "Dataverse"
	testAPIPath = "/api/data/v9.2/"
)

type fakeCredential = msapitest.Credential

var (
	writeJSON = msapitest.WriteJSON
	odataErr  = msapitest.ODataError
)

// testConfig is a Config for the test API at baseURL.
func testConfig(baseURL string, cred *fakeCredential) Config {
	return Config{
		API: testAPI, BaseURL: baseURL, APIPath: testAPIPath,
		RejectedTokenHint: "the client is an application user in this environment with a security role,",
		Settings:          Settings{Credential: cred},
	}
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
	cfg := testConfig(srv.URL, cred)
	cfg.HTTPClient = srv.Client()
	cfg.UserAgent = "dataverse-test/1.0"
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, cred, srv
}

type whoAmIResponse struct {
	UserID string `json:"UserId"`
}

// whoAmI calls GET WhoAmI, the cheapest Dataverse call, as tests' typical request.
func whoAmI(ctx context.Context, c *Client) (*whoAmIResponse, error) {
	var out whoAmIResponse
	if _, err := c.Do(ctx, &Request{Path: "WhoAmI", Out: &out}); err != nil {
		return nil, err
	}
	if out.UserID == "" {
		return nil, errors.New("WhoAmI answered without a UserId")
	}
	return &out, nil
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
