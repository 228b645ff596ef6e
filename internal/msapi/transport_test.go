package msapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

// A 429 with Retry-After: 2 is retried, and not before 2 s have passed
// (measured at the server). This test really waits.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if rec.Record(r) == 1 {
			w.Header().Set("Retry-After", "2")
			writeJSON(w, http.StatusTooManyRequests, odataErr("0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds."))
			return
		}
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	}, fastRetries)

	got, err := whoAmI(context.Background(), c)
	if err != nil {
		t.Fatalf("WhoAmI: %v", err)
	}
	if got.UserID != "22222222-2222-2222-2222-222222222222" {
		t.Errorf("UserID = %q", got.UserID)
	}
	if n := rec.Count(); n != 2 {
		t.Fatalf("server saw %d requests, want 2", n)
	}
	if gap := rec.Time(1).Sub(rec.Time(0)); gap < 2*time.Second {
		t.Errorf("second attempt came %s after the first, want >= 2s (Retry-After)", gap)
	}
}

// rejectedToken is the WWW-Authenticate of a 401 from Dataverse.
const rejectedToken = "Bearer authorization_uri=https://login.microsoftonline.com/t/oauth2/authorize, resource_id=https://contoso.crm.dynamics.com/"

// failure is how a fake server answers every attempt of a failing call.
type failure struct {
	status int
	header map[string]string
	body   map[string]any // an OData error; nil sends no body
}

func (f failure) answer(w http.ResponseWriter, _ *http.Request) {
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	if f.body == nil {
		w.WriteHeader(f.status)
		return
	}
	writeJSON(w, f.status, f.body)
}

// A call that keeps failing is retried only where a retry can help (5xx,
// 429 within the Retry-After limit, one fresh token for a 401), then
// returns an *Error with the last answer that says what happened and what
// to do. No case waits: retries use fastRetries' milliseconds and a
// Retry-After over the limit is not waited for.
func TestFailedCalls(t *testing.T) {
	t.Parallel()
	// errorFields are the fields of Error the cases compare.
	type errorFields struct {
		StatusCode      int
		Code, Message   string
		Attempts        int
		Throttled       bool
		RetryAfterLimit time.Duration
	}
	type testCase struct {
		name   string
		answer failure
		path   string        // of the GET; WhoAmI when empty
		config func(*Config) // on top of fastRetries
		want   errorFields
		// minRetryAfter is the least Error.RetryAfter.
		minRetryAfter time.Duration
		holds         []string // which of predicates hold; the others must not
		refresh       int      // tokens asked with claims (one per rejected token)
		// wantError is the whole Error() when set; wantText are substrings of it.
		wantError string
		wantText  []string
	}
	predicates := map[string]func(error) bool{
		"throttled": IsThrottled, "not found": IsNotFound, "forbidden": IsForbidden, "unauthorized": IsUnauthorized,
	}
	overLimit := func(retryAfter string) testCase {
		return testCase{
			name: "Retry-After " + retryAfter + " over the limit fails at once",
			answer: failure{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": retryAfter},
				body: odataErr("0x80072321", "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds.")},
			config: func(cfg *Config) { cfg.MaxRetryAfter = time.Minute },
			want: errorFields{StatusCode: 429, Code: "0x80072321", Message: "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds.",
				Attempts: 1, Throttled: true, RetryAfterLimit: time.Minute},
			minRetryAfter: 9 * time.Minute,
			holds:         []string{"throttled"},
			wantText:      []string{"longer than the 1m0s", "gave up after 1 attempt", "retry later"},
		}
	}
	cases := []testCase{
		{
			name:      "bad request is not retried",
			answer:    failure{status: http.StatusBadRequest, body: odataErr("0x80040203", "Invalid argument.")},
			path:      "accounts",
			want:      errorFields{StatusCode: 400, Code: "0x80040203", Message: "Invalid argument.", Attempts: 1},
			wantError: "GET accounts: HTTP 400 (0x80040203): Invalid argument. (after 1 attempt)",
		},
		{
			name:     "5xx fails after the last attempt",
			answer:   failure{status: http.StatusServiceUnavailable, body: odataErr("0x80044151", "The service is temporarily unavailable.")},
			config:   func(cfg *Config) { cfg.MaxRetries = 2 },
			want:     errorFields{StatusCode: 503, Code: "0x80044151", Message: "The service is temporarily unavailable.", Attempts: 3},
			wantText: []string{"HTTP 503", "0x80044151", "The service is temporarily unavailable.", "after 3 attempts"},
		},
		{
			name:     "exhausted throttling says what to do",
			answer:   failure{status: http.StatusTooManyRequests, body: odataErr("0x80072326", "Number of concurrent requests exceeded the limit of 52.")},
			config:   func(cfg *Config) { cfg.MaxRetries = 1 },
			want:     errorFields{StatusCode: 429, Code: "0x80072326", Message: "Number of concurrent requests exceeded the limit of 52.", Attempts: 2, Throttled: true},
			holds:    []string{"throttled"},
			wantText: []string{"HTTP 429", "gave up after 2 attempts", "max_concurrent_requests", "retry later"},
		},
		overLimit("600"),
		overLimit(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)),
		{
			name:     "a token rejected twice is an error",
			answer:   failure{status: http.StatusUnauthorized, header: map[string]string{"WWW-Authenticate": rejectedToken}},
			want:     errorFields{StatusCode: 401, Message: "WWW-Authenticate: " + rejectedToken, Attempts: 2},
			holds:    []string{"unauthorized"},
			refresh:  1,
			wantText: []string{"HTTP 401", "token was rejected", "application user", "resource_id=https://contoso.crm.dynamics.com/"},
		},
		{name: "401 gets one fresh token", answer: failure{status: 401}, want: errorFields{StatusCode: 401, Attempts: 2}, holds: []string{"unauthorized"}, refresh: 1},
		{name: "403 is not retried", answer: failure{status: 403}, want: errorFields{StatusCode: 403, Attempts: 1}, holds: []string{"forbidden"}},
		{name: "404 is not retried", answer: failure{status: 404}, want: errorFields{StatusCode: 404, Attempts: 1}, holds: []string{"not found"}},
		{name: "409 is not retried", answer: failure{status: 409}, want: errorFields{StatusCode: 409, Attempts: 1}},
		{name: "412 is not retried", answer: failure{status: 412}, want: errorFields{StatusCode: 412, Attempts: 1}},
		{name: "501 is not retried", answer: failure{status: 501}, want: errorFields{StatusCode: 501, Attempts: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &msapitest.Recorder{}
			opts := []func(*Config){fastRetries}
			if tc.config != nil {
				opts = append(opts, tc.config)
			}
			c, cred, _ := newTestServer(t, rec.Handler(tc.answer.answer), opts...)
			path := tc.path
			if path == "" {
				path = "WhoAmI"
			}

			start := time.Now()
			_, err := c.Do(context.Background(), &Request{Method: http.MethodGet, Path: path})
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %s: should not have waited", elapsed)
			}
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("want *Error, got %T %v", err, err)
			}
			if rec.Count() != tc.want.Attempts {
				t.Errorf("server saw %d requests, want %d", rec.Count(), tc.want.Attempts)
			}
			got := errorFields{e.StatusCode, e.Code, e.Message, e.Attempts, e.Throttled, e.RetryAfterLimit}
			if got != tc.want || e.RetryAfter < tc.minRetryAfter {
				t.Errorf("error fields: %+v, RetryAfter %s\nwant        %+v, RetryAfter >= %s", got, e.RetryAfter, tc.want, tc.minRetryAfter)
			}
			for name, holds := range predicates {
				if holds(err) != slices.Contains(tc.holds, name) {
					t.Errorf("%s = %v, want it only for %v", name, holds(err), tc.holds)
				}
			}
			if calls, claimCalls := cred.Counts(); calls != 1+tc.refresh || claimCalls != tc.refresh {
				t.Errorf("GetToken calls = %d (with claims %d), want %d (%d)", calls, claimCalls, 1+tc.refresh, tc.refresh)
			}
			if tc.wantError != "" && err.Error() != tc.wantError {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tc.wantError)
			}
			for _, want := range tc.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Error() = %q, missing %q", err.Error(), want)
				}
			}
		})
	}
}

// 500, 502, 504 and a connection reset are retried; the call then succeeds.
func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeJSON(w, http.StatusInternalServerError, odataErr("0x80040216", "An unexpected error occurred."))
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 3:
			// A fresh connection for the next request: on a reused one, net/http
			// itself would retry the reset GET and hide it from our retry loop.
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusGatewayTimeout)
		case 4:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
				if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
					_ = tcp.SetLinger(0) // RST rather than FIN
				}
			}
			_ = conn.Close()
		default:
			writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
		}
	}, fastRetries)

	resp, err := c.Do(context.Background(), &Request{Path: "WhoAmI"})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if got := countAtomic(&n); got != 5 {
		t.Errorf("server saw %d requests, want 5", got)
	}
	if resp.Attempts != 5 {
		t.Errorf("Attempts = %d, want 5", resp.Attempts)
	}
}

func TestConnectionErrorAfterLastAttempt(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens: connection refused

	cfg := testConfig("http://"+addr, &fakeCredential{})
	cfg.MaxRetries = 2
	cfg.RetryWaitMin = time.Millisecond
	cfg.RetryWaitMax = time.Millisecond
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = whoAmI(context.Background(), c)
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("want *TransportError, got %T %v", err, err)
	}
	if te.Attempts != 3 || !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Error() = %q (attempts %d)", err.Error(), te.Attempts)
	}
}

// An attempt longer than RequestTimeout is abandoned and retried.
func TestSlowAttemptTimesOutAndIsRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	}, fastRetries, func(cfg *Config) { cfg.RequestTimeout = 200 * time.Millisecond })

	resp, err := c.Do(context.Background(), &Request{Path: "WhoAmI"})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Attempts != 2 {
		t.Errorf("Attempts = %d, want 2", resp.Attempts)
	}
}

func TestUnauthorizedGetsOneFreshToken(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, cred, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.Header().Set("WWW-Authenticate", rejectedToken)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	}))
	cred.Token = func(n int, claims bool) string {
		if claims {
			return "fresh"
		}
		return "stale"
	}

	if _, err := whoAmI(context.Background(), c); err != nil {
		t.Fatalf("WhoAmI: %v", err)
	}
	calls, claimCalls := cred.Counts()
	if calls != 2 || claimCalls != 1 {
		t.Errorf("GetToken calls = %d (with claims %d), want 2 (1)", calls, claimCalls)
	}
	if !strings.Contains(cred.LastClaims(), `"nbf":{"essential":true,"value":"`) {
		t.Errorf("claims = %s", cred.LastClaims())
	}
	if rec.Count() != 2 {
		t.Errorf("server saw %d requests, want 2", rec.Count())
	}
	if got := cred.Scopes(); len(got) != 1 || got[0] != c.Scope() {
		t.Errorf("scopes = %v, want [%s]", got, c.Scope())
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	var inFlight, highWater atomic.Int64
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		for {
			hw := highWater.Load()
			if now <= hw || highWater.CompareAndSwap(hw, now) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1) // before the answer is written, so the client cannot start the next one first
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	}, func(cfg *Config) { cfg.MaxConcurrentRequests = 4 })

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			if _, err := whoAmI(context.Background(), c); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("WhoAmI: %v", err)
	}
	if hw := highWater.Load(); hw > 4 {
		t.Errorf("server saw %d requests in flight, want <= 4", hw)
	} else {
		t.Logf("high-water mark: %d", hw)
	}
}

// Waiting for a free slot honours the context.
func TestWaitForSlotHonoursContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	}, func(cfg *Config) { cfg.MaxConcurrentRequests = 1 })

	done := make(chan error, 1)
	go func() { _, err := whoAmI(context.Background(), c); done <- err }()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := whoAmI(ctx, c)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want deadline exceeded, got %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first call: %v", err)
	}
}

func TestCancelDuringBackoffReturnsPromptly(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusServiceUnavailable, odataErr("", "busy"))
	}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := whoAmI(ctx, c)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("returned after %s, want < 1s", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}
	var te *TransportError
	if !errors.As(err, &te) || te.Attempts != 1 {
		t.Errorf("want *TransportError with 1 attempt, got %#v", err)
	}
	if rec.Count() != 1 {
		t.Errorf("server saw %d requests, want 1", rec.Count())
	}
}

func TestHeadersAndBody(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			writeJSON(w, http.StatusOK, map[string]any{"n": json.Number("12345678901234567890")})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))

	var out map[string]any
	if _, err := c.Do(context.Background(), &Request{Path: "things", Out: &out}); err != nil {
		t.Fatal(err)
	}
	if n, ok := out["n"].(interface{ String() string }); !ok || n.String() != "12345678901234567890" {
		t.Errorf("number not kept as json.Number: %#v", out["n"])
	}
	_, err := c.Do(context.Background(), &Request{
		Method: http.MethodPut,
		Path:   "EntityDefinitions(LogicalName='account')",
		Body:   map[string]any{"a": 1},
		Header: http.Header{"Mscrm.mergelabels": {"true"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	get, put := rec.Request(0), rec.Request(1)
	for k, v := range map[string]string{
		"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0",
		"User-Agent": "dataverse-test/1.0", "Authorization": "Bearer test-token",
	} {
		if got := get.Header.Get(k); got != v {
			t.Errorf("GET header %s = %q, want %q", k, got, v)
		}
	}
	if get.Header.Get("Content-Type") != "" || get.ContentLength != 0 {
		t.Errorf("GET sent a body: %q %d", get.Header.Get("Content-Type"), get.ContentLength)
	}
	if put.Header.Get("Content-Type") != "application/json; charset=utf-8" || put.Header.Get("MSCRM.MergeLabels") != "true" {
		t.Errorf("PUT headers = %v", put.Header)
	}
	if put.URL.Path != "/api/data/v9.2/EntityDefinitions(LogicalName='account')" {
		t.Errorf("PUT path = %q", put.URL.Path)
	}
	if string(rec.Body(1)) != `{"a":1}` {
		t.Errorf("PUT body = %s", rec.Body(1))
	}
}

func TestBodyIsReplayedOnRetry(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if rec.Record(r) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, fastRetries)
	if _, err := c.Do(context.Background(), &Request{Method: "POST", Path: "PublishXml", Body: []byte(`{"ParameterXml":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	if rec.Count() != 2 || string(rec.Body(0)) != string(rec.Body(1)) || string(rec.Body(1)) != `{"ParameterXml":"x"}` {
		t.Errorf("bodies = %q, %q", rec.Body(0), rec.Body(1))
	}
}

func TestAbsoluteURLs(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, srv := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{}})
	}))
	next := srv.URL + "/api/data/v9.2/audits?$select=auditid&$skiptoken=%3Ccookie%20pagenumber=%222%22/%3E"
	if _, err := c.Do(context.Background(), &Request{Path: next}); err != nil {
		t.Fatal(err)
	}
	if got := rec.Request(0).URL.Query().Get("$skiptoken"); got != `<cookie pagenumber="2"/>` {
		t.Errorf("skiptoken = %q", got)
	}
	_, err := c.Do(context.Background(), &Request{Path: "https://evil.example.com/api/data/v9.2/audits"})
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("want refusal for another host, got %v", err)
	}
	if rec.Count() != 1 {
		t.Errorf("server saw %d requests", rec.Count())
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n := range 10 {
		base := min(time.Second<<n, 30*time.Second)
		for range 50 {
			w := Backoff(time.Second, 30*time.Second, n)
			if w < base/2 || w > base {
				t.Fatalf("attempt %d: wait %s outside [%s, %s]", n, w, base/2, base)
			}
		}
	}
	if w := Backoff(time.Second, 30*time.Second, 200); w < 15*time.Second || w > 30*time.Second {
		t.Errorf("huge attempt number: %s", w)
	}

	c, err := New(testConfig("https://contoso.crm.dynamics.com", &fakeCredential{}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c.now = func() time.Time { return now }
	call := &apiCall{c: c, ctx: context.Background()}
	for _, tc := range []struct {
		status     int
		retryAfter string
		min        time.Duration
	}{
		{503, "7", 7 * time.Second},
		{429, "3", 3 * time.Second},
		{500, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{429, "", 0},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.retryAfter != "" {
			resp.Header.Set("Retry-After", tc.retryAfter)
		}
		w := call.backoff(time.Millisecond, 4*time.Millisecond, 0, resp)
		if w < tc.min || (tc.min == 0 && w > 4*time.Millisecond) {
			t.Errorf("%d Retry-After %q: wait %s", tc.status, tc.retryAfter, w)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"0":                             0,
		"120":                           2 * time.Minute,
		"1.5":                           1500 * time.Millisecond,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0, // in the past
	} {
		got, ok := parseRetryAfter(in, now)
		if !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "soon"} {
		if _, ok := parseRetryAfter(in, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", in)
		}
	}
}
