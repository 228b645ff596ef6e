package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

// New refuses what it cannot call safely, naming the URL and the fix.
func TestNewRefusesBadEnvironmentURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://contoso.crm.dynamics.com":                   "uses plain http: use https",
		"https://contoso.crm.dynamics.com/api/data/v9.2":    "has a path (/api/data/v9.2)",
		"contoso.crm.dynamics.com":                          "is not an absolute URL",
		"https://user:pw@contoso.crm.dynamics.com":          "must not contain credentials",
		"ftp://contoso.crm.dynamics.com":                    "must start with https://",
		"https://contoso.crm.dynamics.com/?$select=auditid": "must not contain credentials, a query",
	} {
		_, err := New(Config{EnvironmentURL: in, Settings: msapiSettings(&fakeCredential{})})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), in) {
			t.Errorf("New(%q): %v, want an error naming the URL and %q", in, err, want)
		}
	}
	if _, err := New(Config{EnvironmentURL: "https://contoso.crm.dynamics.com"}); err == nil {
		t.Error("missing credential accepted")
	}
}

// The client calls the Web API of the environment with a token for it; a
// WhoAmI answer without a user is an error.
func TestClientTargetsEnvironment(t *testing.T) {
	t.Parallel()
	var path string
	c, cred, srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	})
	if _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	if path != "/api/data/v9.2/WhoAmI" || cred.Scopes()[0] != srv.URL+"/.default" || c.Scope() != srv.URL+"/.default" {
		t.Errorf("path %q, scopes %q, Scope() %q", path, cred.Scopes(), c.Scope())
	}
	if c.EnvironmentURL() != srv.URL {
		t.Errorf("EnvironmentURL %q, want %q", c.EnvironmentURL(), srv.URL)
	}

	// Answers of a server that is not Dataverse: ErrNotWhoAmI, quoting the answer.
	for _, body := range []string{`{}`, `{"value":[]}`, `<html>sign in</html>`, `{"UserId":"admin"}`} {
		foreign, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		})
		_, err := foreign.WhoAmI(context.Background())
		if !errors.Is(err, ErrNotWhoAmI) || !strings.Contains(err.Error(), fmt.Sprintf("%q", body)) {
			t.Errorf("WhoAmI answered %s: %v", body, err)
		}
	}
}

// Errors of the transport are Dataverse's: the predicates see them, and
// IsCustomizationLock recognises the publish lock by code or message.
func TestErrors(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusTooManyRequests, odataErr("0x80071151", "Cannot start another [Publish] because there is a previous [Publish] running at this moment."))
	}, func(cfg *Config) { cfg.MaxRetries = -1 })
	_, err := c.Do(context.Background(), &Request{Method: http.MethodPost, Path: "PublishXml"})
	e, ok := AsError(err)
	if !ok || e.API != APIName || !IsThrottled(err) || !IsCustomizationLock(err) || IsNotFound(err) {
		t.Fatalf("got %#v", err)
	}
	for _, e := range []*Error{
		{StatusCode: 429, Code: "0x80071151"},
		{StatusCode: 400, Code: "-2147020463"},
		{StatusCode: 500, Message: "Cannot start another [Publish] because there is a previous [Publish] running at this moment. Please try again later."},
		{StatusCode: 429, Message: "Cannot start the requested operation [PublishAll] because there is another [Import] running at this moment."},
		{StatusCode: 400, Message: "Microsoft.Crm.CrmException: CustomizationLockException"},
	} {
		if !IsCustomizationLock(e) {
			t.Errorf("IsCustomizationLock(%+v) = false", e)
		}
	}
	if IsCustomizationLock(&Error{StatusCode: 429, Code: "0x80072322"}) {
		t.Error("throttle is not a customization lock")
	}
	if e := newErrorFromResponse("GET", "u", "p", 404, http.Header{}, []byte(`{"error":{"code":"0x80040217","message":"m"}}`)); !IsNotFound(e) || e.Code != "0x80040217" || e.API != APIName {
		t.Errorf("batch part error %+v", e)
	}
}
