package emulator

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"time"
)

// Request instrumentation: counters, InjectFaults, service protection
// limits and fault rules around every handler.

// statusRecorder captures the status written by a handler.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// byteCounter counts the response body bytes written through it (what the
// client reads), for ResponseBytes.
type byteCounter struct {
	http.ResponseWriter
	n int64
}

func (c *byteCounter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// Hijack lets resetConnection drop an HTTP/1.1 connection through the
// counter.
func (c *byteCounter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := c.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}

// ctxKey keys the values instrument passes down in a request's context.
type ctxKey int

const (
	ctxBatchPart ctxKey = iota // set on the requests a $batch runs
	ctxUser                    // the authenticated *principal (environment listener)
)

// instrument counts every request under "<METHOD> <route>" before it is
// handled (so refused requests count too) and reports it to OnRequest.
//
// A top-level request then goes through, in order: InjectFaults (an exact
// fault answers at once, and a consumed entry, even a zero Fault, turns
// the fault rules off for that request); on the environment listener the
// service protection limits of its (authenticated) user; the fault rules'
// latency; a before-handler rule fault, or the handler followed by an
// after-handler rule fault. Requests inside a $batch only count, report
// and consume InjectFaults (see servePart).
func (s *Server) instrument(listener string, route func(*http.Request) string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		name := route(r)
		key := r.Method + " " + name
		// A $batch carries GET requests only (serveBatch refuses others), so
		// it is no write.
		s.counters.count(key, listener == ListenerEnvironment && r.Method != http.MethodGet && name != batchRoute)
		if r.Context().Value(ctxBatchPart) != nil {
			s.counters.count(batchPartPrefix+key, false)
		}
		if listener == ListenerEnvironment && strongConsistency(r) {
			s.counters.countStrongConsistency()
		}
		if r.Context().Value(ctxBatchPart) != nil {
			s.servePart(w, r, listener, name, key, start, next)
			return
		}
		counted := &byteCounter{ResponseWriter: w}
		w = counted
		defer func() { s.counters.countBytes(listener, key, counted.n) }()
		user := s.requestUser(listener, r)
		if user != nil && listener == ListenerEnvironment {
			r = r.WithContext(context.WithValue(r.Context(), ctxUser, user))
		}
		finish := func(status int) {
			end := time.Now()
			s.reportRequest(listener, r, name, status, end.Sub(start))
			rec := RequestRecord{Listener: listener, Method: r.Method, Route: name, Start: start, End: end, Status: status}
			if user != nil {
				rec.User, rec.ClientID = user.systemUserID, user.appID
			}
			s.logRequest(rec)
		}
		answer := func(f Fault) { s.answerFault(w, r, listener, f, finish) }

		f, exact := s.faults.next(key)
		if exact && (f.Reset || f.Status != 0) {
			answer(f)
			return
		}
		var ticket *limitTicket
		if listener == ListenerEnvironment && user != nil {
			t, refusal := s.limits.admit(user, s.timers.Now())
			if refusal != nil {
				s.writeLimitRefusal(w, refusal)
				finish(http.StatusTooManyRequests)
				return
			}
			ticket = t
			// Also on panics (resets); release is idempotent.
			defer s.limits.release(ticket, s.timers.Now())
		}
		var plan faultPlan
		if !exact {
			plan = s.faults.plan(listener, key)
		}
		s.wait(plan.latency, r.Context().Done())
		if plan.inject && !plan.after {
			s.limits.release(ticket, s.timers.Now())
			answer(plan.fault)
			return
		}
		if ticket == nil && !plan.inject {
			finish(serveRecordingStatus(w, r, next))
			return
		}
		// Buffer the answer, so that the request leaves the user's
		// in-flight count before the client can see it (a client that
		// sends its next request on receipt is never refused for
		// concurrency by its own finished request), and so that an
		// after-handler fault can replace it.
		buf := newBufferedResponse()
		next(buf, r)
		s.limits.release(ticket, s.timers.Now())
		if plan.inject {
			answer(plan.fault)
			return
		}
		buf.replay(w)
		finish(buf.status)
	})
}

// servePart handles a request run by $batch: it consumes InjectFaults and
// reports, nothing else (the batch is one request for limits, fault rules
// and the request log).
func (s *Server) servePart(w http.ResponseWriter, r *http.Request, listener, name, key string, start time.Time, next http.HandlerFunc) {
	report := func(status int) { s.reportRequest(listener, r, name, status, time.Since(start)) }
	if f, ok := s.faults.next(key); ok && (f.Reset || f.Status != 0) {
		s.answerFault(w, r, listener, f, report)
		return
	}
	report(serveRecordingStatus(w, r, next))
}

// serveRecordingStatus runs next unbuffered and returns the status it
// answered (200 when it wrote a body without a header).
func serveRecordingStatus(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) int {
	rec := &statusRecorder{ResponseWriter: w}
	next(rec, r)
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}

// requestUser returns the principal a resource listener's bearer token
// stands for, or nil (login listener, no or invalid token).
func (s *Server) requestUser(listener string, r *http.Request) *principal {
	var audience string
	switch listener {
	case ListenerEnvironment:
		audience = s.environment
	case ListenerGraph:
		audience = s.graphURL
	default:
		return nil
	}
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil
	}
	p, err := s.verifyAccessToken(strings.TrimSpace(token), audience)
	if err != nil {
		return nil
	}
	return p
}

// bufferedResponse holds a handler's answer until instrument replays it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}}
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) replay(w http.ResponseWriter) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// answerFault answers with an injected fault (a reset connection or the
// fault's status) and reports the status, 0 for a reset.
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, listener string, f Fault, report func(status int)) {
	s.counters.countInjected()
	s.hang(f, r)
	if f.Reset {
		report(0)
		resetConnection(w)
		return
	}
	s.writeFault(w, r, listener, f)
	report(f.Status)
}

// reportRequest calls Options.OnRequest, if set, for a handled request.
func (s *Server) reportRequest(listener string, r *http.Request, route string, status int, d time.Duration) {
	if s.onRequest != nil {
		s.onRequest(RequestInfo{Listener: listener, Method: r.Method, Path: r.URL.Path, Route: route, Status: status, Duration: d})
	}
}
