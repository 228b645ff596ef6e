package dataverse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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
	resp.Body = &releasingBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// releasingBody frees the attempt's slot and timer when the body is closed.
type releasingBody struct {
	io.ReadCloser
	done func()
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
}

func (e *attemptTimeoutError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("attempt timed out after %s (request timeout): %v", e.timeout, e.err)
	}
	return fmt.Sprintf("attempt timed out after %s (request timeout)", e.timeout)
}

func (e *attemptTimeoutError) Timeout() bool { return true }

// errRetryAfterTooLong stops the retry loop without sleeping.
var errRetryAfterTooLong = errors.New("retry-after exceeds the maximum wait")

// call is the state of one Client.Do or DoStream: it is shared by both
// passes (before and after a token refresh) and by the retryablehttp hooks,
// which run sequentially on the calling goroutine.
type call struct {
	c      *Client
	ctx    context.Context
	method string
	url    string
	path   string
	body   []byte
	header http.Header
	// stream, when set, receives the body of a 2xx answer (DoStream);
	// streamed records that it was called, so nothing is sent again.
	stream   func(io.Reader) error
	streamed bool

	token        azcore.AccessToken
	attempts     int // across both passes
	attemptStart time.Time
	retryAfter   time.Duration // last Retry-After seen
}

// send runs one pass of retries with tok. It returns the 2xx answer, an *Error
// or a *TransportError.
func (cl *call) send(tok azcore.AccessToken) (*Response, error) {
	c := cl.c
	var body any // untyped nil: no body, no Content-Length: 0 on a GET
	if cl.body != nil {
		body = cl.body
	}
	req, err := retryablehttp.NewRequestWithContext(cl.ctx, cl.method, cl.url, body)
	if err != nil {
		return nil, fmt.Errorf("dataverse: building %s %s: %w", cl.method, cl.path, err)
	}
	h := req.Header
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	h.Set("User-Agent", c.userAgent)
	if cl.body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, vs := range cl.header {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	cl.token = tok
	h.Set("Authorization", "Bearer "+tok.Token)

	rc := &retryablehttp.Client{
		HTTPClient:      c.httpClient,
		Logger:          nil, // the default logs to stderr; we log through tflog
		RetryWaitMin:    c.retryWaitMin,
		RetryWaitMax:    c.retryWaitMax,
		RetryMax:        c.maxRetries,
		RequestLogHook:  cl.logRequest,
		ResponseLogHook: cl.logResponse,
		CheckRetry:      cl.checkRetry,
		Backoff:         cl.backoff,
		ErrorHandler:    cl.handleError,
		PrepareRetry:    cl.prepareRetry,
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
		return nil, cl.transportError(err)
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if cl.stream != nil {
			cl.streamed = true
			if err := cl.stream(resp.Body); err != nil {
				return nil, err
			}
			return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Attempts: cl.attempts}, nil
		}
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, cl.transportError(fmt.Errorf("reading response body: %w", err))
		}
		if tflog.IsTrace(cl.ctx) && len(data) > 0 {
			tflog.Trace(cl.ctx, "Dataverse response body", cl.fields(map[string]any{
				"status": resp.StatusCode, "body": string(data),
			}))
		}
		return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data, Attempts: cl.attempts}, nil
	}
	// A status that is not retried (4xx other than 429, 501, 3xx).
	return nil, cl.errorFromResponse(resp, nil)
}

// errorFromResponse reads and closes resp's body and builds the *Error.
func (cl *call) errorFromResponse(resp *http.Response, cause error) error {
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	_ = resp.Body.Close()
	if readErr != nil && len(data) == 0 {
		// Status known, body lost: the status still decides.
		tflog.Debug(cl.ctx, "Dataverse error body could not be read", cl.fields(map[string]any{"error": readErr.Error()}))
	}
	e := newErrorFromResponse(cl.method, cl.url, cl.path, resp.StatusCode, resp.Header, data)
	e.Attempts = cl.attempts
	e.RetryAfter = cl.retryAfter
	if errors.Is(cause, errRetryAfterTooLong) {
		e.Throttled = true
		e.RetryAfterLimit = cl.c.maxRetryAfter
	}
	fields := map[string]any{
		"status": e.StatusCode, "code": e.Code, "message": e.Message, "throttled": e.Throttled,
	}
	tflog.Debug(cl.ctx, "Dataverse request failed", cl.fields(fields))
	if tflog.IsTrace(cl.ctx) && len(e.Body) > 0 {
		tflog.Trace(cl.ctx, "Dataverse error body", cl.fields(map[string]any{"status": e.StatusCode, "body": string(e.Body)}))
	}
	return e
}

func (cl *call) transportError(err error) error {
	tflog.Debug(cl.ctx, "Dataverse request failed without a response", cl.fields(map[string]any{"error": err.Error()}))
	return &TransportError{Method: cl.method, URL: cl.url, Path: cl.path, Attempts: cl.attempts, Err: err}
}

// fields returns the common log fields plus extra.
func (cl *call) fields(extra map[string]any) map[string]any {
	f := map[string]any{"method": cl.method, "url": cl.url, "attempt": cl.attempts}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// logRequest runs before each attempt (retryablehttp.RequestLogHook).
func (cl *call) logRequest(_ retryablehttp.Logger, _ *http.Request, _ int) {
	cl.attempts++
	cl.attemptStart = time.Now()
	tflog.Debug(cl.ctx, "Dataverse request", cl.fields(nil))
}

// logResponse runs after each attempt that got a response.
func (cl *call) logResponse(_ retryablehttp.Logger, resp *http.Response) {
	f := map[string]any{
		"status":      resp.StatusCode,
		"duration_ms": time.Since(cl.attemptStart).Milliseconds(),
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
	tflog.Debug(cl.ctx, "Dataverse response", cl.fields(f))
}

// checkRetry decides whether to retry an attempt (retryablehttp.CheckRetry).
// Returning false with an error hands the last response to handleError.
func (cl *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		retry := retryableTransportError(err)
		tflog.Debug(cl.ctx, "Dataverse request attempt failed", cl.fields(map[string]any{
			"error": err.Error(), "retryable": retry, "duration_ms": time.Since(cl.attemptStart).Milliseconds(),
		}))
		if !retry {
			return false, err
		}
		return true, nil
	}
	if !retryableStatus(resp.StatusCode) {
		return false, nil
	}
	if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), cl.c.now()); ok {
		cl.retryAfter = wait
		if wait > cl.c.maxRetryAfter {
			return false, errRetryAfterTooLong
		}
	}
	return true, nil
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
	var certInvalid x509.CertificateInvalidError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &certInvalid), errors.As(err, &unknownAuthority),
		errors.As(err, &hostname), errors.As(err, &verify):
		return false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Not an attempt timeout (that is attemptTimeoutError): the caller's context.
		return false
	}
	msg := err.Error()
	for _, s := range []string{"unsupported protocol scheme", "invalid header", "stopped after", "certificate is not trusted"} {
		if strings.Contains(msg, s) {
			return false
		}
	}
	return true
}

// backoff returns the wait before the next attempt (retryablehttp.Backoff):
// exponential min·2^n capped at max with equal jitter, but never less than
// the response's Retry-After (on any retried status).
func (cl *call) backoff(minWait, maxWait time.Duration, attemptNum int, resp *http.Response) time.Duration {
	wait := jitteredBackoff(minWait, maxWait, attemptNum)
	f := map[string]any{}
	if resp != nil {
		f["status"] = resp.StatusCode
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), cl.c.now()); ok {
			f["retry_after_ms"] = ra.Milliseconds()
			if ra > wait {
				wait = ra
			}
		}
	}
	f["retry_wait_ms"] = wait.Milliseconds()
	f["retries_left"] = cl.c.maxRetries - attemptNum
	tflog.Debug(cl.ctx, "Dataverse request will be retried", cl.fields(f))
	return wait
}

// jitteredBackoff is "equal jitter": half of min·2^n (capped at max) plus a
// random part of the other half, so clients spread out but never retry at once.
func jitteredBackoff(minWait, maxWait time.Duration, n int) time.Duration {
	base := maxWait
	if n < 62 {
		if m := minWait << uint(n); m > 0 && m>>uint(n) == minWait && m < maxWait {
			base = m
		}
	}
	half := base / 2
	return half + rand.N(base-half+1)
}

// prepareRetry renews the token before a retry if it is about to expire:
// throttling waits can add up to many minutes.
func (cl *call) prepareRetry(req *http.Request) error {
	if cl.token.ExpiresOn.IsZero() || cl.token.ExpiresOn.Sub(cl.c.now()) > 2*time.Minute {
		return nil
	}
	tok, err := cl.c.token(cl.ctx, false)
	if err != nil {
		return err
	}
	cl.token = tok
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	return nil
}

// handleError runs when retries end without a usable answer
// (retryablehttp.ErrorHandler): retries exhausted, a Retry-After over the
// limit, a non-retryable connection error, or the context ending.
func (cl *call) handleError(resp *http.Response, err error, _ int) (*http.Response, error) {
	ctxErr := cl.ctx.Err()
	if resp != nil {
		if ctxErr != nil {
			_ = resp.Body.Close()
			return nil, cl.transportError(ctxErr)
		}
		return nil, cl.errorFromResponse(resp, err)
	}
	if err == nil {
		err = errors.New("no response")
	}
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return nil, cl.transportError(err)
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
