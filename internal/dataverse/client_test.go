package dataverse

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"
)

func TestScopeFor(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://contoso.crm.dynamics.com":         "https://contoso.crm.dynamics.com/.default",
		"https://Contoso.CRM4.dynamics.com/":       "https://contoso.crm4.dynamics.com/.default",
		" https://contoso.crm.dynamics.com ":       "https://contoso.crm.dynamics.com/.default",
		"https://127.0.0.1:8443":                   "https://127.0.0.1:8443/.default",
		"http://127.0.0.1:8080":                    "http://127.0.0.1:8080/.default",
		"http://localhost:8080/":                   "http://localhost:8080/.default",
		"http://[::1]:8080":                        "http://[::1]:8080/.default",
		"https://contoso.crm.microsoftdynamics.us": "https://contoso.crm.microsoftdynamics.us/.default",
	} {
		got, err := ScopeFor(in)
		if err != nil || got != want {
			t.Errorf("ScopeFor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "contoso.crm.dynamics.com", "http://contoso.crm.dynamics.com", "ftp://contoso",
		"https://contoso.crm.dynamics.com/main.aspx", "https://contoso.crm.dynamics.com/api/data/v9.2",
		"https://contoso.crm.dynamics.com?x=1", "https://user:pw@contoso.crm.dynamics.com", "https://",
	} {
		if got, err := ScopeFor(in); err == nil {
			t.Errorf("ScopeFor(%q) = %q, want an error", in, got)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{EnvironmentURL: "https://contoso.crm.dynamics.com"}); err == nil {
		t.Error("missing credential accepted")
	}
	if _, err := New(Config{EnvironmentURL: "http://contoso.crm.dynamics.com", Credential: &fakeCredential{}}); err == nil {
		t.Error("http accepted")
	}
	c, err := New(Config{EnvironmentURL: "https://Contoso.crm.dynamics.com/", Credential: &fakeCredential{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.EnvironmentURL() != "https://contoso.crm.dynamics.com" || c.Scope() != "https://contoso.crm.dynamics.com/.default" {
		t.Errorf("EnvironmentURL %q Scope %q", c.EnvironmentURL(), c.Scope())
	}
	if c.maxRetries != DefaultMaxRetries || c.retryWaitMin != time.Second || c.retryWaitMax != 30*time.Second ||
		c.maxRetryAfter != 5*time.Minute || cap(c.httpClient.Transport.(*limitedTransport).slots) != 16 ||
		c.httpClient.Transport.(*limitedTransport).timeout != 2*time.Minute || c.userAgent != DefaultUserAgent {
		t.Errorf("defaults not applied: %+v", c)
	}
	c, _ = New(Config{EnvironmentURL: "https://contoso.crm.dynamics.com", Credential: &fakeCredential{}, MaxRetries: -1})
	if c.maxRetries != 0 {
		t.Errorf("MaxRetries -1 gave %d retries", c.maxRetries)
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
	cred.token = func(int, bool) string { return token }

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
