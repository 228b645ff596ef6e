package msapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestODataErrorBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		wantCode    string
		wantMessage string
		wantText    []string // substrings of Error()
		notText     []string
	}{
		{
			name:   "normal code",
			status: 404, contentType: "application/json",
			body:     `{"error":{"code":"0x80040217","message":"account With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist"}}`,
			wantCode: "0x80040217", wantMessage: "account With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist",
			wantText: []string{"HTTP 404 (0x80040217): account With Id"},
		},
		{
			name:   "annotations",
			status: 403, contentType: "application/json",
			body: `{"error":{"code":"0x80040220","message":"Principal user is missing prvReadAuditSummary privilege",` +
				`"@Microsoft.PowerApps.CDS.HelpLink":"http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a80040220",` +
				`"@Microsoft.PowerApps.CDS.TraceText":"trace","@Microsoft.PowerApps.CDS.InnerError.Message":"inner"}}`,
			wantCode: "0x80040220", wantMessage: "Principal user is missing prvReadAuditSummary privilege",
			wantText: []string{"HTTP 403 (0x80040220): Principal user is missing prvReadAuditSummary privilege (after 1 attempt)"},
		},
		{
			name:   "empty code",
			status: 404, contentType: "application/json",
			body:     `{"error":{"code":"","message":"No HTTP resource was found that matches the request URI."}}`,
			wantCode: "", wantMessage: "No HTTP resource was found that matches the request URI.",
			wantText: []string{"HTTP 404: No HTTP resource was found"},
			notText:  []string{"()"},
		},
		{
			name:   "code 0x0",
			status: 400, contentType: "application/json",
			body:     `{"error":{"code":"0x0","message":"Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.account'."}}`,
			wantCode: "0x0", wantMessage: "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.account'.",
			wantText: []string{"HTTP 400: Could not find a property named 'foo'"},
			notText:  []string{"0x0"},
		},
		{
			name:   "non-JSON body",
			status: 502, contentType: "text/html",
			body:     "<html><head><title>502 Bad Gateway</title></head>\n<body>upstream   unavailable</body></html>",
			wantText: []string{"HTTP 502: Bad Gateway: <html><head><title>502 Bad Gateway</title></head> <body>upstream unavailable</body></html>"},
		},
		{
			name:   "empty body",
			status: 409, contentType: "",
			body:     "",
			wantText: []string{"GET WhoAmI: HTTP 409: Conflict (after 1 attempt)"},
		},
		{
			name:   "other JSON",
			status: 400, contentType: "application/json",
			body:     `{"Message":"something else"}`,
			wantText: []string{"HTTP 400: Bad Request (after 1 attempt)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}, fastRetries, func(cfg *Config) { cfg.MaxRetries = -1 })
			_, err := whoAmI(context.Background(), c)
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("want *Error, got %T %v", err, err)
			}
			if e.StatusCode != tc.status || e.Code != tc.wantCode || e.Message != tc.wantMessage {
				t.Errorf("got status %d code %q message %q", e.StatusCode, e.Code, e.Message)
			}
			if string(e.Body) != tc.body {
				t.Errorf("Body = %q", e.Body)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Error() = %q, missing %q", err.Error(), s)
				}
			}
			for _, s := range tc.notText {
				if strings.Contains(err.Error(), s) {
					t.Errorf("Error() = %q, should not contain %q", err.Error(), s)
				}
			}
		})
	}
}

func TestErrorPredicates(t *testing.T) {
	t.Parallel()
	wrap := func(e *Error) error { return fmt.Errorf("reading table: %w", e) }
	if !IsNotFound(wrap(&Error{StatusCode: 404})) || IsNotFound(wrap(&Error{StatusCode: 400, Code: "0x80040217"})) {
		t.Error("IsNotFound")
	}
	if !IsForbidden(wrap(&Error{StatusCode: 403})) || !IsUnauthorized(wrap(&Error{StatusCode: 401})) ||
		!IsPreconditionFailed(wrap(&Error{StatusCode: 412})) {
		t.Error("status predicates")
	}
	if !IsThrottled(wrap(&Error{StatusCode: 429, Throttled: true})) || IsThrottled(errors.New("x")) || IsNotFound(nil) {
		t.Error("IsThrottled")
	}
	if e, ok := AsError(wrap(&Error{StatusCode: http.StatusTeapot})); !ok || e.StatusCode != http.StatusTeapot {
		t.Error("AsError")
	}
}

func TestThrottleCodesMarkThrottled(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"0x80072322", "0x80072321", "0x80072326"} {
		e := NewError(Error{Method: "GET", URL: "u", Path: "p", StatusCode: 503, Header: http.Header{}, Body: []byte(`{"error":{"code":"` + code + `","message":"m"}}`)})
		if !e.Throttled {
			t.Errorf("%s not throttled", code)
		}
	}
	if e := NewError(Error{Method: "GET", URL: "u", Path: "p", StatusCode: 400}); e.Throttled {
		t.Error("400 throttled")
	}
}

func TestErrorBodyIsMasked(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	e := NewError(Error{Method: "GET", URL: "u", Path: "p", StatusCode: 400, Header: http.Header{}, Body: []byte(`{"error":{"code":"0x1","message":"echo Bearer ` + jwt + `"}}`)})
	if strings.Contains(string(e.Body), jwt) || strings.Contains(e.Message, jwt) || strings.Contains(e.Error(), "c2lnbmF0dXJl") {
		t.Errorf("token leaked: %s / %s", e.Body, e.Message)
	}
}

// Text the server wrote reaches errors (and so Terraform's diagnostics)
// without terminal controls or bidirectional overrides: an error message
// cannot recolour the terminal, rewrite a line or read backwards.
func TestServerTextLosesControlCharacters(t *testing.T) {
	t.Parallel()
	const hostile = "Principal user\x1b[2J\x1b[31m is missing\r prvRead\u202Eetirw\u202C privilege\u2066\u2069\u0085\u009b\x07\nsee\tdocs\x00"
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusForbidden, odataErr("0x80040220\x1b]0;pwned\x07", hostile))
	})
	_, err := c.Do(context.Background(), &Request{Path: "organizations"})
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	const want = "Principal user[2J[31m is missing prvReadetirw privilege\nsee\tdocs"
	if e.Message != want {
		t.Errorf("Message = %q, want %q", e.Message, want)
	}
	for _, s := range []string{e.Error(), e.Code} {
		if strings.ContainsFunc(s, func(r rune) bool {
			return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
		}) {
			t.Errorf("control character left in %q", s)
		}
	}

	// A body that is not an OData error is quoted in the message: cleaned too.
	snippet := NewError(Error{Method: "GET", Path: "p", StatusCode: 502, Header: http.Header{}, Body: []byte("<html>\x1b[5mbad\u202Egateway\xff</html>")})
	if got := snippet.Error(); !strings.Contains(got, "<html>[5mbadgateway\uFFFD</html>") {
		t.Errorf("Error() = %q", got)
	}
	if got := SanitizeServerText("plain text, ünïcode\n\tand tabs"); got != "plain text, ünïcode\n\tand tabs" {
		t.Errorf("clean text changed: %q", got)
	}
}

// A hint follows the server's sentence with one period, whether or not the
// server ended it with one (issue 14: "was not found.. No audit log query").
func TestErrorHintPunctuation(t *testing.T) {
	t.Parallel()
	for _, message := range []string{"The audit log query 'q1' was not found.", "The audit log query 'q1' was not found"} {
		e := &Error{Method: "GET", Path: "security/auditLog/queries/q1", StatusCode: http.StatusNotFound,
			Message: message, Hint: "No audit log query with this id is visible to this app", Attempts: 1}
		got := e.Error()
		if !strings.Contains(got, "was not found. No audit log query") || strings.Contains(got, "..") {
			t.Errorf("%q gave %q", message, got)
		}
	}
}
