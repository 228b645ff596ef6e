package msapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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

// fastRetries keeps retry waits tiny so tests do not sleep.
func fastRetries(cfg *Config) {
	cfg.RetryWaitMin = time.Millisecond
	cfg.RetryWaitMax = 5 * time.Millisecond
}

// newTestServer starts a TLS server and a Client pointing at it.
func newTestServer(t *testing.T, h http.HandlerFunc, opts ...func(*Config)) (*Client, *fakeCredential, *httptest.Server) {
	t.Helper()
	srv := msapitest.NewTLSServer(t, h)
	cred := &fakeCredential{}
	cfg := testConfig(srv.URL, cred)
	cfg.HTTPClient = srv.Client()
	cfg.UserAgent = "dataverse-test/1.0"
	return msapitest.NewClient(t, New, cfg, opts...), cred, srv
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

func countAtomic(p *atomic.Int64) int { return int(p.Load()) }

// checkNormalizer checks that normalize maps every key of valid to its value
// and refuses every input of invalid.
func checkNormalizer(t *testing.T, name string, normalize func(string) (string, error), valid map[string]string, invalid []string) {
	t.Helper()
	for in, want := range valid {
		got, err := normalize(in)
		if err != nil || got != want {
			t.Errorf("%s(%q) = %q, %v; want %q", name, in, got, err, want)
		}
	}
	for _, in := range invalid {
		if got, err := normalize(in); err == nil {
			t.Errorf("%s(%q) = %q, want an error", name, in, got)
		}
	}
}
