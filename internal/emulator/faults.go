package emulator

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Fault is one injected failure (see InjectFaults).
//
// A Fault with Reset set drops the request without an answer: an HTTP/1.1
// connection is hijacked and closed, an HTTP/2 stream is reset. Otherwise a
// non-zero Status is answered at once, with the listener's usual error body
// (Graph, Dataverse or Entra style) and, when RetryAfter > 0, a Retry-After
// header in whole seconds (rounded up). A zero Fault lets its request
// through untouched, so a test can fail the second request but not the
// first.
//
// Note on resets: Go's HTTP/1.1 transport silently retries an idempotent
// request whose reused connection closes before any response (the retry
// is a new request: it counts and may consume the next fault). Over
// HTTP/2, which the emulator's HTTPClient uses, the caller sees the stream
// error.
//
// A Fault with Hang > 0 first holds the request that long on the emulator's
// clock (Options.TimeSource) without a byte of answer, like a service that
// stops responding, then answers as above; Hang with Reset is a hang that
// ends in a reset. The hang ends early when the client gives up or the
// server closes.
type Fault struct {
	Status     int
	RetryAfter time.Duration
	Reset      bool
	Hang       time.Duration
}

// InjectFaults queues faults for route, a request counter key such as
// "POST auditLogQueries", "GET auditLogRecords", "GET audits" or
// "POST token" (see RequestCount). The next requests with that key consume
// them in order, one each, on any listener; the requests still count in
// the counters. Requests inside a $batch count (and fault) under their own
// routes. Faults queued earlier for the same route are served first. A
// top-level request that consumes a fault (even a zero Fault) is not
// subject to the fault rules (SetFaultRules): exact sequences win. An
// injected fault answers before the service protection limits are checked.
func (s *Server) InjectFaults(route string, faults ...Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.pending[route] = append(s.faults.pending[route], faults...)
}

// PendingFaults returns how many injected faults for route are not yet
// consumed.
func (s *Server) PendingFaults(route string) int {
	return locked(&s.faults.mu, func() int { return len(s.faults.pending[route]) })
}

// FaultRule makes a share of the requests of a route fail, and/or slows
// them down (see SetFaultRules).
type FaultRule struct {
	// Route is a request counter key ("PUT EntityDefinitions",
	// "POST PublishXml", "POST token", …; see RequestCount) matched on any
	// listener. "" or "*" matches every request of the environment and
	// Graph listeners, but none of the login listener.
	Route string
	// Fraction is the share (0..1) of matching requests that fail, drawn
	// from SetFaultRules' seeded generator. 1 fails every request without
	// a draw; 0 none.
	Fraction float64
	// Statuses are the answers of failing requests, taken in turn (or at
	// random with RandomStatus), e.g. 429, 500, 502, 503, 504; 0 resets the
	// connection (see Fault). Empty means 503.
	Statuses     []int
	RandomStatus bool
	// RetryAfter is sent with 429 and 503 answers when positive, in whole
	// seconds rounded up (so at least 1).
	RetryAfter time.Duration
	// Latency is added to every matching request, failing or not (the
	// latencies of all matching rules add up). Service protection limits
	// count it as execution time.
	Latency time.Duration
	// Hang makes this rule's resets (status 0) hang first: the request is
	// held that long on the emulator's clock, then reset (see Fault.Hang).
	// It does not apply to status answers.
	Hang time.Duration
	// AfterHandler makes failures happen after the request was handled:
	// its change is applied (and audited) but the client gets the fault
	// instead of the answer, like a service that fails to answer a write it
	// made. By default (false) the fault answers instead of the handler,
	// so nothing is applied.
	AfterHandler bool
}

// faultInjector is the faults part: the InjectFaults queues and the fault
// rules, under its own lock.
type faultInjector struct {
	mu      sync.Mutex
	pending map[string][]Fault // InjectFaults, by counter key
	rules   faultRules         // SetFaultRules
}

func newFaultInjector() *faultInjector {
	return &faultInjector{pending: map[string][]Fault{}}
}

// faultRules is the state of SetFaultRules. Guarded by faultInjector.mu.
type faultRules struct {
	rng   *rand.Rand
	rules []FaultRule
	turn  []int // next index into Statuses, per rule
}

// faultPlan is what the rules decided for one request.
type faultPlan struct {
	latency time.Duration
	inject  bool
	fault   Fault
	after   bool
}

// SetFaultRules replaces the fault rules. Rules apply to top-level requests
// only: a $batch is one request (matched as "POST $batch"), the requests
// inside it are not (InjectFaults still reaches those). For each request,
// every matching rule adds its latency; the rules are then tried in order
// and the first whose draw fails the request decides the fault (each rule
// with 0 < Fraction < 1 that is tried takes one number from the generator).
// So for a seed, the same requests in the same order fail the same way.
// Rules do not apply to a request that consumed an InjectFaults entry
// (exact sequences win), nor to requests the service protection limits
// refuse. Rule faults use the listener's error body, as InjectFaults does.
// With no rules, no rule applies.
func (s *Server) SetFaultRules(seed int64, rules ...FaultRule) {
	rs := make([]FaultRule, len(rules))
	for i, r := range rules {
		r.Fraction = min(max(r.Fraction, 0), 1)
		r.Statuses = slices.Clone(r.Statuses)
		if len(r.Statuses) == 0 {
			r.Statuses = []int{http.StatusServiceUnavailable}
		}
		rs[i] = r
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.rules = faultRules{
		rng:   rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		rules: rs,
		turn:  make([]int, len(rs)),
	}
}

// InjectedFaultCount is the number of answers InjectFaults and fault rules
// replaced (statuses and resets; zero Faults and latency do not count),
// since Start or ResetCounters. Service protection refusals do not count.
func (s *Server) InjectedFaultCount() int {
	return locked(&s.counters.mu, func() int { return s.counters.injected })
}

// plan decides what the fault rules do to one request.
func (fi *faultInjector) plan(listener, key string) faultPlan {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	var plan faultPlan
	fr := &fi.rules
	for i, rule := range fr.rules {
		if rule.Route == "" || rule.Route == "*" {
			if listener == ListenerLogin {
				continue
			}
		} else if rule.Route != key {
			continue
		}
		plan.latency += rule.Latency
		if plan.inject || rule.Fraction == 0 {
			continue
		}
		if rule.Fraction < 1 && fr.rng.Float64() >= rule.Fraction {
			continue
		}
		var status int
		if rule.RandomStatus {
			status = rule.Statuses[fr.rng.IntN(len(rule.Statuses))]
		} else {
			status = rule.Statuses[fr.turn[i]%len(rule.Statuses)]
			fr.turn[i]++
		}
		f := Fault{Status: status, Reset: status == 0}
		if f.Reset {
			f.Hang = rule.Hang
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			f.RetryAfter = rule.RetryAfter
		}
		plan.inject, plan.fault, plan.after = true, f, rule.AfterHandler
	}
	return plan
}

// next consumes the first InjectFaults entry queued for key.
func (fi *faultInjector) next(key string) (Fault, bool) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	q := fi.pending[key]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	if len(q) == 1 {
		delete(fi.pending, key)
	} else {
		fi.pending[key] = q[1:]
	}
	return f, true
}

// hang holds a faulted request for f.Hang on the server's clock before its
// answer, or less if the client goes away or the server closes.
func (s *Server) hang(f Fault, r *http.Request) {
	s.wait(f.Hang, r.Context().Done())
}

// resetConnection drops the request without a response.
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 (and $batch parts): the server resets the stream.
	panic(http.ErrAbortHandler)
}

// retryAfterSeconds rounds d up to whole seconds, as Retry-After carries.
func retryAfterSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// writeFault answers an injected status in the listener's own error style.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, listener string, f Fault) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(f.RetryAfter)))
	}
	switch listener {
	case ListenerGraph:
		code, msg := "UnknownError", "An injected fault."
		switch {
		case f.Status == http.StatusTooManyRequests:
			code, msg = "TooManyRequests", "Too many requests."
		case f.Status == http.StatusServiceUnavailable:
			code, msg = "ServiceUnavailable", "The service is temporarily unavailable. Please retry later."
		case f.Status == http.StatusGatewayTimeout:
			code, msg = "GatewayTimeout", "The gateway timed out."
		case f.Status >= 500:
			code, msg = "InternalServerError", "An internal server error occurred."
		case f.Status >= 400:
			code, msg = "BadRequest", "An injected fault."
		}
		writeGraphError(w, r, f.Status, code, msg)
	case ListenerEnvironment:
		w.Header().Set("OData-Version", "4.0")
		switch f.Status {
		case http.StatusTooManyRequests:
			writeODataError(w, f.Status, "0x80072322", "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
		default:
			writeODataError(w, f.Status, "", fmt.Sprintf("An injected fault (HTTP %d).", f.Status))
		}
	default: // login
		code := "temporarily_unavailable"
		if f.Status < 500 && f.Status != http.StatusTooManyRequests {
			code = "invalid_request"
		}
		writeJSON(w, f.Status, map[string]any{
			"error":             code,
			"error_description": fmt.Sprintf("An injected fault (HTTP %d).", f.Status),
		})
	}
}
