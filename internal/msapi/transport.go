package msapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// newHTTPClient wraps base in a transport that bounds attempts in flight and
// times each attempt. Redirects are not followed: the Web API does not
// redirect, and a redirect should not carry the bearer token anywhere.
func newHTTPClient(base http.RoundTripper, concurrency int, timeout time.Duration) *http.Client {
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{
		Transport: &limitedTransport{
			base:    base,
			slots:   make(chan struct{}, concurrency),
			timeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// limitedTransport holds a slot of a counting semaphore for each attempt,
// from sending until its body is closed. Retries take a new slot, so a call
// sleeping in backoff holds none. It also bounds each attempt by timeout
// (sending, waiting and reading the body), without counting the wait for a slot.
type limitedTransport struct {
	base    http.RoundTripper
	slots   chan struct{}
	timeout time.Duration
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.slots <- struct{}{}:
	case <-req.Context().Done():
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, req.Context().Err()
	}
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.timeout, &attemptTimeoutError{timeout: t.timeout})
	done := sync.OnceFunc(func() {
		cancel()
		<-t.slots
	})
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timedOut := context.Cause(ctx) != nil && req.Context().Err() == nil
		done()
		if timedOut {
			return nil, &attemptTimeoutError{timeout: t.timeout, err: err}
		}
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, done: done, attempt: ctx, caller: req.Context(), timeout: t.timeout}
	return resp, nil
}

// releasingBody frees the attempt's slot and timer when the body is closed.
// A read cut short by the attempt's timeout says so, instead of passing on
// what the timeout caused: a connection error ("use of closed network
// connection") or, at times, a clean io.EOF on a body that was not complete.
type releasingBody struct {
	io.ReadCloser
	done            func()
	attempt, caller context.Context
	timeout         time.Duration
	read            int64
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if err != nil && b.caller.Err() == nil {
		var timedOut *attemptTimeoutError
		if errors.As(context.Cause(b.attempt), &timedOut) {
			err = &attemptTimeoutError{timeout: b.timeout, bodyBytes: b.read, inBody: true}
		}
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

// attemptTimeoutError is one attempt running longer than RequestTimeout. It
// deliberately does not wrap context.DeadlineExceeded: the caller's context
// is fine, and the attempt is retried.
type attemptTimeoutError struct {
	timeout time.Duration
	err     error
	// inBody: the answer had begun (bodyBytes of its body had arrived).
	inBody    bool
	bodyBytes int64
}

func (e *attemptTimeoutError) Error() string {
	if e.inBody {
		return fmt.Sprintf("the response body was still arriving (%d bytes read) when the request timeout of the attempt ran out: timed out after %s", e.bodyBytes, e.timeout)
	}
	if e.err != nil {
		return fmt.Sprintf("attempt timed out after %s (request timeout): %v", e.timeout, e.err)
	}
	return fmt.Sprintf("attempt timed out after %s (request timeout)", e.timeout)
}

func (e *attemptTimeoutError) Timeout() bool { return true }

// errRetryAfterTooLong stops the retry loop without sleeping.
var errRetryAfterTooLong = errors.New("retry-after exceeds the maximum wait")

// apiCall is the state of one Client.Do or DoStream: it is shared by both
// passes (before and after a token refresh) and by the retryablehttp hooks,
// which run sequentially on the calling goroutine.
type apiCall struct {
	c      *Client
	ctx    context.Context
	method string
	url    string
	path   string
	body   []byte
	header http.Header
	// stream, when set, receives the body of a 2xx answer (DoStream);
	// streamed records that it was called, so nothing is sent again.
	stream   func(http.Header, io.Reader) error
	streamed bool

	token        azcore.AccessToken
	attempts     int // across both passes
	attemptStart time.Time
	retryAfter   time.Duration // last Retry-After seen
	// lastAnswer is the last retried non-2xx answer: a call that then ends
	// without an answer (its context ended during the backoff) still says
	// what the server last said.
	lastAnswer *Error
}

// send runs one pass of retries with tok. It returns the 2xx answer, an *Error
// or a *TransportError.
func (call *apiCall) send(tok azcore.AccessToken) (*Response, error) {
	c := call.c
	var body any // untyped nil: no body, no Content-Length: 0 on a GET
	if call.body != nil {
		body = call.body
	}
	req, err := retryablehttp.NewRequestWithContext(call.ctx, call.method, call.url, body)
	if err != nil {
		return nil, fmt.Errorf("%s: building %s %s: %w", c.api, call.method, call.path, err)
	}
	h := req.Header
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	h.Set("User-Agent", c.userAgent)
	if call.body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, vs := range call.header {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	call.token = tok
	h.Set("Authorization", "Bearer "+tok.Token)

	rc := &retryablehttp.Client{
		HTTPClient:      c.httpClient,
		Logger:          nil, // the default logs to stderr; we log through tflog
		RetryWaitMin:    c.retryWaitMin,
		RetryWaitMax:    c.retryWaitMax,
		RetryMax:        c.maxRetries,
		RequestLogHook:  call.logRequest,
		ResponseLogHook: call.logResponse,
		CheckRetry:      call.checkRetry,
		Backoff:         call.backoff,
		ErrorHandler:    call.handleError,
		PrepareRetry:    call.prepareRetry,
	}
	// The hooks are bound to this call (a fresh retryablehttp.Client per pass
	// costs a struct): retryablehttp's Backoff gets no context when an attempt
	// failed without a response, and the attempt count must reach the errors.
	resp, err := rc.Do(req)
	if err != nil {
		var apiErr *Error
		var trErr *TransportError
		if errors.As(err, &apiErr) || errors.As(err, &trErr) {
			return nil, err
		}
		// Returned by retryablehttp itself: the context ended during a backoff sleep.
		return nil, call.transportError(err)
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if call.stream != nil {
			call.streamed = true
			if err := call.streamBody(resp); err != nil {
				return nil, err
			}
			return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Attempts: call.attempts}, nil
		}
		data, err := call.readBody(resp)
		var tooLarge *ResponseTooLargeError
		if errors.As(err, &tooLarge) {
			tflog.Debug(call.ctx, call.c.api+" response too large", call.fields(map[string]any{"error": err.Error()}))
			return nil, err
		}
		if err != nil {
			return nil, call.transportError(fmt.Errorf("reading response body: %w", err))
		}
		return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data, Attempts: call.attempts}, nil
	}
	// A status that is not retried (4xx other than 429, 501, 3xx).
	return nil, call.errorFromResponse(resp, nil)
}

// readBody reads the body of a successful answer, capped at MaxResponseBytes.
func (call *apiCall) readBody(resp *http.Response) ([]byte, error) {
	body, err := call.cappedBody(resp)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if tflog.IsTrace(call.ctx) && len(data) > 0 {
		tflog.Trace(call.ctx, call.c.api+" response body", call.fields(map[string]any{
			"status": resp.StatusCode, "body": loggedBody(data, int64(len(data))),
		}))
	}
	return data, nil
}

// streamBody hands the capped body of a successful answer to the DoStream
// function; at TRACE the start of what it read is logged afterwards.
func (call *apiCall) streamBody(resp *http.Response) error {
	body, err := call.cappedBody(resp)
	if err != nil {
		return err
	}
	if !tflog.IsTrace(call.ctx) {
		return call.stream(resp.Header, &streamBody{r: body, call: call})
	}
	head := &bodyHead{}
	err = call.stream(resp.Header, &streamBody{r: io.TeeReader(body, head), call: call})
	if head.total > 0 {
		tflog.Trace(call.ctx, call.c.api+" response body (streamed)", call.fields(map[string]any{
			"status": resp.StatusCode, "body": loggedBody(head.head, head.total),
		}))
	}
	return err
}

// cappedBody returns resp's body capped at MaxResponseBytes, counted after
// the decompression Go's transport does when it asked for gzip itself; a
// Content-Length over the limit fails before anything is read.
func (call *apiCall) cappedBody(resp *http.Response) (io.Reader, error) {
	tooLarge := &ResponseTooLargeError{
		API: call.c.api, Method: call.method, Path: pathWithoutQuery(call.path),
		What: "the response body", Limit: call.c.maxBody, Decompressed: resp.Uncompressed,
	}
	if resp.ContentLength > call.c.maxBody {
		tooLarge.Announced = resp.ContentLength
		return nil, tooLarge
	}
	return newCappedReader(resp.Body, call.c.maxBody, func() error { return tooLarge }), nil
}

// errorFromResponse reads and closes resp's body and builds the *Error.
func (call *apiCall) errorFromResponse(resp *http.Response, cause error) error {
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	_ = resp.Body.Close()
	if readErr != nil && len(data) == 0 {
		// Status known, body lost: the status still decides.
		tflog.Debug(call.ctx, call.c.api+" error body could not be read", call.fields(map[string]any{"error": readErr.Error()}))
	}
	e := NewError(Error{
		API: call.c.api, Method: call.method, URL: call.url, Path: call.path,
		StatusCode: resp.StatusCode, Header: resp.Header, Body: data,
	})
	e.Attempts = call.attempts
	e.RetryAfter = call.retryAfter
	if errors.Is(cause, errRetryAfterTooLong) {
		e.Throttled = true
		e.RetryAfterLimit = call.c.maxRetryAfter
	}
	fields := map[string]any{
		"status": e.StatusCode, "code": e.Code, "message": e.Message, "throttled": e.Throttled,
	}
	tflog.Debug(call.ctx, call.c.api+" request failed", call.fields(fields))
	if tflog.IsTrace(call.ctx) && len(e.Body) > 0 {
		tflog.Trace(call.ctx, call.c.api+" error body", call.fields(map[string]any{"status": e.StatusCode, "body": loggedBody(e.Body, int64(len(e.Body)))}))
	}
	return e
}

func (call *apiCall) transportError(err error) error {
	tflog.Debug(call.ctx, call.c.api+" request failed without a response", call.fields(map[string]any{"error": err.Error()}))
	return &TransportError{API: call.c.api, Method: call.method, URL: call.url, Path: call.path, Attempts: call.attempts, Err: err, LastAnswer: call.lastAnswer}
}

// fields returns the common log fields plus extra.
func (call *apiCall) fields(extra map[string]any) map[string]any {
	f := map[string]any{"method": call.method, "url": call.url, "attempt": call.attempts}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// logRequest runs before each attempt (retryablehttp.RequestLogHook).
func (call *apiCall) logRequest(_ retryablehttp.Logger, _ *http.Request, _ int) {
	call.attempts++
	call.attemptStart = time.Now()
	tflog.Debug(call.ctx, call.c.api+" request", call.fields(nil))
}

// logResponse runs after each attempt that got a response.
func (call *apiCall) logResponse(_ retryablehttp.Logger, resp *http.Response) {
	f := map[string]any{
		"status":      resp.StatusCode,
		"duration_ms": time.Since(call.attemptStart).Milliseconds(),
	}
	// Support asks for the request id; the rate limit headers show how close
	// the caller is to the service protection limits.
	for field, header := range map[string]string{
		"request_id":                "x-ms-service-request-id",
		"retry_after":               "Retry-After",
		"ratelimit_burst_remaining": "x-ms-ratelimit-burst-remaining-xrm-requests",
		"ratelimit_time_remaining":  "x-ms-ratelimit-time-remaining-xrm-requests",
	} {
		if v := resp.Header.Get(header); v != "" {
			f[field] = v
		}
	}
	tflog.Debug(call.ctx, call.c.api+" response", call.fields(f))
}

// checkRetry decides whether to retry an attempt (retryablehttp.CheckRetry).
// Returning false with an error hands the last response to handleError.
func (call *apiCall) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		retry := retryableTransportError(err)
		tflog.Debug(call.ctx, call.c.api+" request attempt failed", call.fields(map[string]any{
			"error": err.Error(), "retryable": retry, "duration_ms": time.Since(call.attemptStart).Milliseconds(),
		}))
		if !retry {
			return false, err
		}
		return true, nil
	}
	if !retryableStatus(resp.StatusCode) {
		return false, nil
	}
	call.rememberAnswer(resp)
	if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), call.c.now()); ok {
		call.retryAfter = wait
		if wait > call.c.maxRetryAfter {
			return false, errRetryAfterTooLong
		}
	}
	return true, nil
}

// rememberAnswer keeps resp as lastAnswer; its body stays readable.
func (call *apiCall) rememberAnswer(resp *http.Response) {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	call.lastAnswer = NewError(Error{
		API: call.c.api, Method: call.method, URL: call.url, Path: call.path,
		StatusCode: resp.StatusCode, Header: resp.Header, Body: data, Attempts: call.attempts,
	})
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableTransportError: connection errors (reset, EOF, refused) and
// attempt timeouts are retried; bad certificates, unknown hosts, bad URLs and
// redirect loops are not, since another attempt would fail the same way.
func retryableTransportError(err error) bool {
	var dnsErr *net.DNSError
	switch {
	case IsCertificateError(err):
		return false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Not an attempt timeout (that is attemptTimeoutError): the caller's context.
		return false
	}
	return !containsAny(err.Error(), "unsupported protocol scheme", "invalid header", "stopped after")
}

// backoff returns the wait before the next attempt (retryablehttp.Backoff):
// exponential min·2^n capped at max with equal jitter, but never less than
// the response's Retry-After (on any retried status).
func (call *apiCall) backoff(minWait, maxWait time.Duration, attemptNum int, resp *http.Response) time.Duration {
	wait := Backoff(minWait, maxWait, attemptNum)
	f := map[string]any{}
	if resp != nil {
		f["status"] = resp.StatusCode
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), call.c.now()); ok {
			f["retry_after_ms"] = ra.Milliseconds()
			if ra > wait {
				wait = ra
			}
		}
	}
	f["retry_wait_ms"] = wait.Milliseconds()
	f["retries_left"] = call.c.maxRetries - attemptNum
	tflog.Debug(call.ctx, call.c.api+" request will be retried", call.fields(f))
	return wait
}

// prepareRetry renews the token before a retry if it is about to expire:
// throttling waits can add up to many minutes.
func (call *apiCall) prepareRetry(req *http.Request) error {
	if call.token.ExpiresOn.IsZero() || call.token.ExpiresOn.Sub(call.c.now()) > 2*time.Minute {
		return nil
	}
	tok, err := call.c.token(call.ctx, tokenFromCache)
	if err != nil {
		return err
	}
	call.token = tok
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	return nil
}

// handleError runs when retries end without a usable answer
// (retryablehttp.ErrorHandler): retries exhausted, a Retry-After over the
// limit, a non-retryable connection error, or the context ending.
func (call *apiCall) handleError(resp *http.Response, err error, _ int) (*http.Response, error) {
	ctxErr := call.ctx.Err()
	if resp != nil {
		if ctxErr != nil {
			_ = resp.Body.Close()
			return nil, call.transportError(ctxErr)
		}
		return nil, call.errorFromResponse(resp, err)
	}
	if err == nil {
		err = errors.New("no response")
	}
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return nil, call.transportError(err)
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second) // avoid overflow; far over any limit anyway
		}
		return time.Duration(secs) * time.Second, true
	}
	// Fractional seconds are not in the RFC but cost nothing to accept.
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && secs < 86400 {
		return time.Duration(secs * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// Patterns of secrets that must never reach a log: bearer tokens and JWTs.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/=-]+`),
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`),
}

// maskSecrets configures the tflog logger in ctx (if any) to mask secrets in
// messages and field values, and fields named like credentials.
func maskSecrets(ctx context.Context) context.Context {
	ctx = tflog.MaskFieldValuesWithFieldKeys(ctx, "authorization", "Authorization", "access_token", "token", "client_secret")
	return tflog.MaskLogRegexes(ctx, secretPatterns...)
}

// maskSecretsBytes removes token-like text from a body kept in an error.
func maskSecretsBytes(b []byte) []byte {
	for _, re := range secretPatterns {
		if re.Match(b) {
			b = re.ReplaceAll(b, []byte("***"))
		}
	}
	return b
}
