package dataverse

import (
	"net/http"
	"net/http/httptest"
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

// fastRetries keeps retry waits tiny so tests do not sleep.
func fastRetries(cfg *Config) {
	cfg.RetryWaitMin = time.Millisecond
	cfg.RetryWaitMax = 5 * time.Millisecond
}

// newTestServer starts a TLS server and a Client pointing at it.
func newTestServer(t *testing.T, h http.HandlerFunc, opts ...func(*Config)) (*Client, *fakeCredential, *httptest.Server) {
	t.Helper()
	srv := msapitest.NewTLSServer(t, publishedViews(h))
	cred := &fakeCredential{}
	cfg := Config{EnvironmentURL: srv.URL, Settings: msapi.Settings{
		Credential: cred,
		HTTPClient: srv.Client(),
		UserAgent:  "dataverse-test/1.0",
	}}
	return msapitest.NewClient(t, New, cfg, opts...), cred, srv
}
