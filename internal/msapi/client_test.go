package msapi

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

func TestScopeFor(t *testing.T) {
	t.Parallel()
	checkNormalizer(t, "ScopeFor", ScopeFor, map[string]string{
		"https://contoso.crm.dynamics.com":         "https://contoso.crm.dynamics.com/.default",
		"https://Contoso.CRM4.dynamics.com/":       "https://contoso.crm4.dynamics.com/.default",
		" https://contoso.crm.dynamics.com ":       "https://contoso.crm.dynamics.com/.default",
		"https://127.0.0.1:8443":                   "https://127.0.0.1:8443/.default",
		"http://127.0.0.1:8080":                    "http://127.0.0.1:8080/.default",
		"http://localhost:8080/":                   "http://localhost:8080/.default",
		"http://[::1]:8080":                        "http://[::1]:8080/.default",
		"https://contoso.crm.microsoftdynamics.us": "https://contoso.crm.microsoftdynamics.us/.default",
	}, []string{
		"", "contoso.crm.dynamics.com", "http://contoso.crm.dynamics.com", "ftp://contoso",
		"https://contoso.crm.dynamics.com/main.aspx", "https://contoso.crm.dynamics.com/api/data/v9.2",
		"https://contoso.crm.dynamics.com?x=1", "https://user:pw@contoso.crm.dynamics.com", "https://",
	})
}

// New refuses a configuration it cannot call safely, and says why.
func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	cred := &fakeCredential{}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"plain http to a remote host", testConfig("http://contoso.crm.dynamics.com", cred), []string{"Dataverse URL", "uses plain http: use https"}},
		{"path", testConfig("https://contoso.crm.dynamics.com/main.aspx", cred), []string{"has a path (/main.aspx)", "scheme and host of Dataverse"}},
		{"not a URL", testConfig("contoso", cred), []string{"is not an absolute URL"}},
		{"no credential", testConfig("https://contoso.crm.dynamics.com", nil), []string{"Dataverse client: a credential is required"}},
		{"no API name", Config{BaseURL: "https://contoso.crm.dynamics.com", APIPath: testAPIPath, Settings: Settings{Credential: cred}}, []string{"Config.API is required"}},
		{"bad API path", Config{API: testAPI, BaseURL: "https://contoso.crm.dynamics.com", APIPath: "/a/../b/", Settings: Settings{Credential: cred}}, []string{"must be a plain path"}},
	} {
		if tc.name == "no credential" {
			tc.cfg.Credential = nil // a nil *fakeCredential in the interface is not nil
		}
		_, err := New(tc.cfg)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

// The defaults bound a call: a zero MaxRetries retries DefaultMaxRetries
// times, a negative one not at all; and a zero MaxConcurrentRequests lets
// DefaultMaxConcurrentRequests attempts run at once, no more.
func TestDefaultsBoundRetriesAndConcurrency(t *testing.T) {
	t.Parallel()
	for retries, wantAttempts := range map[int]int{0: DefaultMaxRetries + 1, -1: 1, 2: 3} {
		rec := &msapitest.Recorder{}
		c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}), fastRetries, func(cfg *Config) { cfg.MaxRetries = retries })
		_, err := c.Do(context.Background(), &Request{Path: "WhoAmI"})
		if e, ok := AsError(err); !ok || e.Attempts != wantAttempts || rec.Count() != wantAttempts {
			t.Errorf("MaxRetries %d: %d requests, error %v; want %d attempts", retries, rec.Count(), err, wantAttempts)
		}
	}

	var inFlight, highWater atomic.Int64
	release := make(chan struct{})
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		for hw := highWater.Load(); now > hw && !highWater.CompareAndSwap(hw, now); hw = highWater.Load() {
		}
		<-release
		inFlight.Add(-1)
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	})
	var wg sync.WaitGroup
	for range DefaultMaxConcurrentRequests + 4 {
		wg.Go(func() {
			if _, err := whoAmI(context.Background(), c); err != nil {
				t.Errorf("WhoAmI: %v", err)
			}
		})
	}
	// Wait until the bound is reached, give the extra calls a moment to
	// (wrongly) get through, then let all finish.
	for deadline := time.Now().Add(10 * time.Second); highWater.Load() < DefaultMaxConcurrentRequests && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if hw := highWater.Load(); hw != DefaultMaxConcurrentRequests {
		t.Errorf("server saw %d requests in flight, want %d", hw, DefaultMaxConcurrentRequests)
	}
}

func TestEncodeQuery(t *testing.T) {
	t.Parallel()
	q := url.Values{
		"$select":  {"a,b"},
		"$filter":  {"objecttypecode eq 'account' and createdon ge 2026-01-01T00:00:00Z"},
		"@target":  {"{'@odata.id':'accounts(1)'}"},
		"$orderby": {"createdon desc"},
		"x":        {"a&b=c+d%"},
	}
	got := encodeQuery(q)
	want := "$filter=objecttypecode%20eq%20'account'%20and%20createdon%20ge%202026-01-01T00:00:00Z" +
		"&$orderby=createdon%20desc&$select=a,b&@target=%7B'@odata.id':'accounts(1)'%7D&x=a%26b%3Dc%2Bd%25"
	if got != want {
		t.Errorf("encodeQuery:\n got %s\nwant %s", got, want)
	}
	back, err := url.ParseQuery(got)
	if err != nil {
		t.Fatal(err)
	}
	for k := range q {
		if back.Get(k) != q.Get(k) {
			t.Errorf("round trip %s: %q != %q", k, back.Get(k), q.Get(k))
		}
	}
}

// Logs carry method, URL and status, bodies at TRACE, and never a token,
// not even one the server echoes back.
func TestLoggingMasksTokens(t *testing.T) {
	t.Parallel()
	const token = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2NvbnRvc28uY3JtLmR5bmFtaWNzLmNvbSJ9.c2lnbmF0dXJlLXNlY3JldA"
	var calls atomic.Int64
	c, cred, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeJSON(w, http.StatusServiceUnavailable, odataErr("", "busy, your header was "+r.Header.Get("Authorization")))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"echo": r.Header.Get("Authorization"), "raw": token, "UserId": "u"})
	}, fastRetries)
	cred.Token = func(int, bool) string { return token }

	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	if _, err := c.Do(ctx, &Request{Method: http.MethodPost, Path: "WhoAmI", Body: map[string]string{"note": "Bearer " + token}}); err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	for _, secret := range []string{token, "c2lnbmF0dXJlLXNlY3JldA", "Bearer eyJ"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{`"method":"POST"`, `"status":200`, `"status":503`, `"attempt":2`, `"duration_ms":`, `"retry_wait_ms":`, `Dataverse response body`, `/api/data/v9.2/WhoAmI`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	entries, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil || len(entries) < 4 {
		t.Errorf("decoded %d entries, err %v", len(entries), err)
	}
}

// Config.APIPath and Config.Scope let every API (Dataverse, Microsoft
// Graph) share the transport.
func TestAPIBaseAndScope(t *testing.T) {
	t.Parallel()
	checkNormalizer(t, "normalizeAPIPath", normalizeAPIPath, map[string]string{
		"/beta/":          "/beta/",
		"beta":            "/beta/",
		" /v1.0 ":         "/v1.0/",
		"/api/data/v9.1/": "/api/data/v9.1/",
	}, []string{"", "/", "//", "/a//b/", "/../x/", "/./", "/a?b/", "/a#/", "/a%2F/", "/a b/", "/a\\b/"})

	var path string
	c, cred, srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		writeJSON(w, http.StatusOK, map[string]any{})
	}, func(cfg *Config) {
		cfg.APIPath = "/beta/"
		cfg.Scope = "https://graph.example.com/.default"
	})
	if c.Scope() != "https://graph.example.com/.default" {
		t.Errorf("Scope %q", c.Scope())
	}
	if _, err := c.Do(context.Background(), &Request{Path: "security/auditLog/queries"}); err != nil {
		t.Fatal(err)
	}
	if path != "/beta/security/auditLog/queries" || cred.Scopes()[0] != "https://graph.example.com/.default" {
		t.Errorf("path %q scopes %q", path, cred.Scopes())
	}
	if _, err := c.Do(context.Background(), &Request{Path: srv.URL + "/beta/next?$skiptoken=x"}); err != nil || path != "/beta/next" {
		t.Errorf("absolute link: path %q, %v", path, err)
	}
}
