package graph

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

type fakeCredential = msapitest.Credential

var writeJSON = msapitest.WriteJSON

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
	g.srv = msapitest.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	cred := &fakeCredential{Scope: g.srv.URL + "/.default", Token: func(int, bool) string { return "graph-token" }}
	cfg := Config{GraphURL: g.srv.URL, Settings: msapi.Settings{
		Credential:   cred,
		HTTPClient:   g.srv.Client(),
		UserAgent:    "graph-test/1.0",
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
	}}
	return msapitest.NewClient(t, New, cfg, opts...), cred, g
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
