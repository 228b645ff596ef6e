package dataverse

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

type fakeCredential = msapitest.Credential

var (
	writeJSON = msapitest.WriteJSON
	odataErr  = msapitest.ODataError
)

// msapiSettings are transport settings with cred and nothing else.
func msapiSettings(cred *fakeCredential) msapi.Settings { return msapi.Settings{Credential: cred} }

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
	cfg := Config{EnvironmentURL: srv.URL, Settings: msapiSettings(cred)}
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

func whoAmIBody() map[string]any {
	return map[string]any{
		"@odata.context": "https://x/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
		"BusinessUnitId": "11111111-1111-1111-1111-111111111111",
		"UserId":         "22222222-2222-2222-2222-222222222222",
		"OrganizationId": "33333333-3333-3333-3333-333333333333",
	}
}
