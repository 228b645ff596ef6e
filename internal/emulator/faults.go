package emulator

import (
	"fmt"
	"net/http"
	"strconv"
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
type Fault struct {
	Status     int
	RetryAfter time.Duration
	Reset      bool
}

// InjectFaults queues faults for route, a request counter key such as
// "POST auditLogQueries", "GET auditLogRecords", "GET audits" or
// "POST token" (see RequestCount). The next requests with that key consume
// them in order, one each, on any listener; the requests still count in
// the counters. Requests inside a $batch count (and fault) under their own
// routes. Faults queued earlier for the same route are served first.
func (s *Server) InjectFaults(route string, faults ...Fault) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.faults[route] = append(s.faults[route], faults...)
}

// PendingFaults returns how many injected faults for route are not yet
// consumed.
func (s *Server) PendingFaults(route string) int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return len(s.faults[route])
}

func (s *Server) nextFault(key string) (Fault, bool) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	q := s.faults[key]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	if len(q) == 1 {
		delete(s.faults, key)
	} else {
		s.faults[key] = q[1:]
	}
	return f, true
}

// resetConnection drops the request without a response.
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
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
		s.writeGraphError(w, r, f.Status, code, msg)
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
