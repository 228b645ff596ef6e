package msapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error is an API answer with a non-2xx status, after retries.
//
// Decisions are made on StatusCode first: Code is often empty or "0x0" and must
// never be required.
type Error struct {
	// API names the API that answered (Config.API): "Dataverse", "Microsoft Graph".
	API    string
	Method string
	// URL is the absolute request URL (it never carries secrets).
	URL string
	// Path is URL relative to the API base ("organizations(…)?$select=…"),
	// used to keep Error() short.
	Path       string
	StatusCode int
	// Code is the OData error code, e.g. "0x80040220"; may be "" or "0x0".
	Code    string
	Message string
	// Attempts is the number of HTTP attempts made for this call, across a
	// token refresh (1 = no retry).
	Attempts int
	// RetryAfter is the last Retry-After the server sent, if any.
	RetryAfter time.Duration
	// RetryAfterLimit is set when the call stopped without waiting because
	// RetryAfter was longer than this limit (Settings.MaxRetryAfter).
	RetryAfterLimit time.Duration
	// Throttled: HTTP 429, a service protection error code, or a Retry-After
	// over the limit.
	Throttled bool
	// Hint is an extra sentence that says what to check (set for a rejected
	// token, and by API clients for statuses they can explain).
	Hint string
	// Header holds the response headers (no request headers, so no token).
	Header http.Header
	// Body is the raw error body (capped, with anything token-like masked).
	Body []byte
}

// Dataverse service protection limit codes (hex as sent by the Web API,
// decimal as shown by the SDK): number of requests, execution time,
// concurrent requests. Other APIs do not use these codes.
var throttleCodes = map[string]bool{
	"0x80072322": true, "-2147015902": true,
	"0x80072321": true, "-2147015903": true,
	"0x80072326": true, "-2147015898": true,
}

func (e *Error) Error() string {
	var b strings.Builder
	where := e.Path
	if where == "" {
		where = e.URL
	}
	fmt.Fprintf(&b, "%s %s: HTTP %d", e.Method, where, e.StatusCode)
	if e.Code != "" && e.Code != "0x0" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	b.WriteString(": ")
	described := e.describe()
	b.WriteString(described)
	if e.Hint != "" {
		if !strings.HasSuffix(described, ".") { // servers often end their message with one
			b.WriteString(".")
		}
		b.WriteString(" ")
		b.WriteString(e.Hint)
	}
	switch {
	case e.RetryAfterLimit > 0:
		fmt.Fprintf(&b, " (throttled: the server asked to wait %s before retrying, longer than the %s this client waits; "+
			"gave up after %s without waiting: retry later, or lower the parallelism (terraform -parallelism, provider max_concurrent_requests))",
			e.RetryAfter, e.RetryAfterLimit, attemptsText(e.Attempts))
	case e.Throttled:
		fmt.Fprintf(&b, " (throttled by %s service protection limits; gave up after %s: "+
			"lower the parallelism (terraform -parallelism, provider max_concurrent_requests) or retry later)",
			e.API, attemptsText(e.Attempts))
	default:
		fmt.Fprintf(&b, " (after %s)", attemptsText(e.Attempts))
	}
	return b.String()
}

// describe returns the server's message, or something useful when there is none.
func (e *Error) describe() string {
	if e.Message != "" {
		return e.Message
	}
	text := http.StatusText(e.StatusCode)
	if text == "" {
		text = "unexpected status"
	}
	if snippet := bodySnippet(e.Body); snippet != "" {
		return text + ": " + snippet
	}
	return text
}

func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// bodySnippet makes a short one-line excerpt of a non-JSON body (an HTML page
// from a gateway, plain text).
func bodySnippet(body []byte) string {
	s := strings.TrimSpace(SanitizeServerText(string(body)))
	if s == "" || json.Valid(body) {
		return ""
	}
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	const max = 200
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// SanitizeServerText removes from text a server sent what could act on a
// terminal or reorder what a reader sees, before the text reaches a
// diagnostic or an error: C0 controls except newline and tab (ESC starts
// terminal escape sequences, CR overwrites a line), DEL, C1 controls, and
// the Unicode bidirectional controls (U+061C, U+200E, U+200F,
// U+202A–U+202E, U+2066–U+2069), which can make "allowed" read as
// "denied". Invalid UTF-8 becomes U+FFFD.
func SanitizeServerText(s string) string {
	clean := func(r rune) bool {
		switch {
		case r == '\n' || r == '\t':
			return true
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return false
		}
		return !unicode.Is(unicode.Bidi_Control, r)
	}
	if strings.IndexFunc(s, func(r rune) bool { return !clean(r) }) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if clean(r) {
			return r
		}
		return -1
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// TransportError is a call that got no HTTP answer: connection errors after the
// last attempt, per-attempt timeouts, or cancellation of the caller's context.
// errors.Is(err, context.Canceled) works through it.
type TransportError struct {
	API      string
	Method   string
	URL      string
	Path     string
	Attempts int
	Err      error
	// LastAnswer is the last non-2xx answer of an earlier attempt that was
	// retried (nil if none): a call whose context ended during the backoff
	// after, say, a 429 still tells what the server said.
	LastAnswer *Error
}

func (e *TransportError) Error() string {
	where := e.Path
	if where == "" {
		where = e.URL
	}
	msg := fmt.Sprintf("%s %s: request failed after %s: %v", e.Method, where, attemptsText(e.Attempts), e.Err)
	if a := e.LastAnswer; a != nil {
		msg += fmt.Sprintf(" (the last answer was HTTP %d", a.StatusCode)
		if a.Code != "" {
			msg += " " + a.Code
		}
		if a.Message != "" {
			msg += ": " + a.Message
		}
		msg += ")"
	}
	return msg
}

func (e *TransportError) Unwrap() error { return e.Err }

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

func hasStatus(err error, status int) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode == status
}

// IsNotFound reports an HTTP 404 (record or URL segment not found).
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsForbidden reports an HTTP 403 (typically a missing privilege, code 0x80040220).
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsUnauthorized reports an HTTP 401 that survived a token refresh.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsPreconditionFailed reports an HTTP 412 (If-Match did not match).
func IsPreconditionFailed(err error) bool { return hasStatus(err, http.StatusPreconditionFailed) }

// IsThrottled reports a service-protection throttle that retries did not get past.
func IsThrottled(err error) bool {
	e, ok := AsError(err)
	return ok && e.Throttled
}

// odataError is the Web API (and Graph) error envelope.
type odataError struct {
	Error struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
}

// parseODataError extracts code and message; ok is false for bodies that are
// not an OData error (empty, HTML, other JSON).
func parseODataError(body []byte) (code, message string, ok bool) {
	var oe odataError
	if len(body) == 0 || json.Unmarshal(body, &oe) != nil {
		return "", "", false
	}
	if len(oe.Error.Code) > 0 {
		// Codes are strings, but be lenient with a numeric one.
		var s string
		if json.Unmarshal(oe.Error.Code, &s) == nil {
			code = s
		} else if string(oe.Error.Code) != "null" {
			code = string(oe.Error.Code)
		}
	}
	message = oe.Error.Message
	return code, message, code != "" || message != ""
}

// NewError completes the *Error of a non-2xx answer whose body is already
// read (also one part of a $batch answer): answer carries API, Method, URL,
// Path, StatusCode, Header and Body; NewError masks anything token-like in
// the body, reads the OData code and message, and marks throttling.
func NewError(answer Error) *Error {
	e := answer
	e.Body = maskSecretsBytes(e.Body)
	if code, msg, ok := parseODataError(e.Body); ok {
		e.Code, e.Message = SanitizeServerText(code), SanitizeServerText(msg)
	}
	if e.Message == "" && e.StatusCode == http.StatusUnauthorized {
		// Dataverse answers 401 with an empty body; its challenge names the
		// expected resource, which is the useful part.
		if wa := e.Header.Get("WWW-Authenticate"); wa != "" {
			e.Message = "WWW-Authenticate: " + SanitizeServerText(wa)
		}
	}
	e.Throttled = e.StatusCode == http.StatusTooManyRequests || throttleCodes[strings.ToLower(e.Code)]
	return &e
}
