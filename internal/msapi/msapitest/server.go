package msapitest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// NewTLSServer starts a TLS server answering with h and closes it when the
// test ends.
func NewTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// NewClient applies opts to cfg in order and builds a client from it with
// build; a build error fails the test at once.
func NewClient[C, T any](t testing.TB, build func(C) (T, error), cfg C, opts ...func(*C)) T {
	t.Helper()
	for _, opt := range opts {
		opt(&cfg)
	}
	c, err := build(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// Recorder keeps the requests a fake server received, with their bodies
// and arrival times, in order. It is safe for concurrent handlers.
type Recorder struct {
	mu     sync.Mutex
	times  []time.Time
	reqs   []*http.Request
	bodies [][]byte
}

// Record keeps req and its body, leaving the body readable again for the
// handler, and returns the request's 1-based number.
func (r *Recorder) Record(req *http.Request) int {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.times = append(r.times, time.Now())
	r.reqs = append(r.reqs, req)
	r.bodies = append(r.bodies, body)
	return len(r.reqs)
}

// Count returns how many requests were recorded.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// Request returns the i-th recorded request (0-based).
func (r *Recorder) Request(i int) *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[i]
}

// Requests returns every recorded request in order of arrival.
func (r *Recorder) Requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

// Body returns the body of the i-th recorded request (0-based).
func (r *Recorder) Body(i int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[i]
}

// Time returns when the i-th request (0-based) was recorded.
func (r *Recorder) Time(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.times[i]
}
