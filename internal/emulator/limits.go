package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Dataverse service protection limits (dataverse-api.md § Web API basics),
// kept per user (the principal the bearer token stands for) on the
// environment listener.
//
// What the emulator does, and what it guesses:
//   - Only authenticated top-level requests are limited and counted: a
//     request without a valid token gets its 401 whatever the limits, and
//     a $batch is one request however many requests it holds (Microsoft
//     documents no per-part accounting; requests inside it are not
//     separately limited).
//   - A request is checked when it arrives: first the concurrent requests
//     (MaxConcurrentPerUser), then the number of requests in the sliding
//     window (RequestsPerWindow over LimitWindow), then the combined
//     execution time of the requests that finished in the window
//     (ExecutionTimePerWindow). The first one exceeded answers 429 at once
//     with a Retry-After header and the Web API error body.
//   - A refused request is not in flight, does not count toward the window
//     and takes no execution time (so ConcurrencyHighWater never exceeds
//     the sum of the users' limits).
//   - Retry-After: for the request count, the time until the oldest
//     request leaves the window; for execution time, until the oldest
//     finished request leaves it; for concurrency, 1 second (the real value
//     is not documented). Always at least 1 second, rounded up.
//   - Execution time is the time from admission until the handler
//     returns, injected latency included.
//   - Messages: the request count message is Microsoft's documented one;
//     the execution time one follows Microsoft's documentation; the
//     concurrency one ("Number of concurrent requests exceeded the limit
//     of 52.") is a guess in the same style.

const (
	defaultMaxConcurrentPerUser = 52
	defaultRequestsPerWindow    = 6000
	defaultLimitWindow          = 5 * time.Minute
	defaultExecutionTime        = 20 * time.Minute
	requestLogCapacity          = 100_000

	codeRequestsExceeded      = "0x80072322"
	codeExecutionTimeExceeded = "0x80072321"
	codeConcurrencyExceeded   = "0x80072326"
)

type limitConfig struct {
	maxConcurrent int           // 0: none
	requests      int           // 0: none
	window        time.Duration // > 0
	execTime      time.Duration // 0: none
}

func newLimitConfig(o Options) limitConfig {
	c := limitConfig{
		maxConcurrent: optionOrDefault(o.MaxConcurrentPerUser, defaultMaxConcurrentPerUser),
		requests:      optionOrDefault(o.RequestsPerWindow, defaultRequestsPerWindow),
		window:        o.LimitWindow,
		execTime:      optionOrDefault(o.ExecutionTimePerWindow, defaultExecutionTime),
	}
	if c.window <= 0 {
		c.window = defaultLimitWindow
	}
	return c
}

type execEntry struct {
	end time.Time
	d   time.Duration
}

// serviceLimits is the limits part: the per-user service protection
// windows, the requests in flight and the request log, under its own lock.
type serviceLimits struct {
	cfg       limitConfig
	mu        sync.Mutex
	userLimit map[string]*userLimitState // by systemuserid
	inFlight  int
	highWater int
	reqLog    requestLog
}

func newServiceLimits(o Options) *serviceLimits {
	return &serviceLimits{cfg: newLimitConfig(o), userLimit: map[string]*userLimitState{}}
}

// userLimitState is one user's share of the limits. Guarded by
// serviceLimits.mu.
type userLimitState struct {
	inFlight int
	starts   []time.Time // admissions in the window, oldest first
	execs    []execEntry // finished requests in the window, by end
	execSum  time.Duration
}

func (u *userLimitState) prune(now time.Time, window time.Duration) {
	cutoff := now.Add(-window)
	i := 0
	for i < len(u.starts) && !u.starts[i].After(cutoff) {
		i++
	}
	u.starts = u.starts[i:]
	j := 0
	for j < len(u.execs) && !u.execs[j].end.After(cutoff) {
		u.execSum -= u.execs[j].d
		j++
	}
	u.execs = u.execs[j:]
}

// limitTicket is an admitted request; release ends it.
type limitTicket struct {
	user  *userLimitState
	start time.Time
	done  bool
}

type limitRefusal struct {
	code       string
	message    string
	retryAfter time.Duration
}

// admit checks p's limits for a request arriving at now and, if it may
// run, counts it in flight.
func (sl *serviceLimits) admit(p *principal, now time.Time) (*limitTicket, *limitRefusal) {
	cfg := sl.cfg
	sl.mu.Lock()
	defer sl.mu.Unlock()
	u := sl.userLimit[p.systemUserID]
	if u == nil {
		u = &userLimitState{}
		sl.userLimit[p.systemUserID] = u
	}
	u.prune(now, cfg.window)
	windowSeconds := strconv.Itoa(int(cfg.window / time.Second))
	atLeastSecond := func(d time.Duration) time.Duration { return max(d, time.Second) }
	switch {
	case cfg.maxConcurrent > 0 && u.inFlight >= cfg.maxConcurrent:
		return nil, &limitRefusal{codeConcurrencyExceeded,
			"Number of concurrent requests exceeded the limit of " + strconv.Itoa(cfg.maxConcurrent) + ".",
			time.Second}
	case cfg.requests > 0 && len(u.starts) >= cfg.requests:
		return nil, &limitRefusal{codeRequestsExceeded,
			"Number of requests exceeded the limit of " + strconv.Itoa(cfg.requests) + " over time window of " + windowSeconds + " seconds.",
			atLeastSecond(u.starts[0].Add(cfg.window).Sub(now))}
	case cfg.execTime > 0 && u.execSum >= cfg.execTime:
		return nil, &limitRefusal{codeExecutionTimeExceeded,
			"Combined execution time of incoming requests exceeded limit of " + groupThousands(cfg.execTime.Milliseconds()) + " milliseconds over time window of " + windowSeconds + " seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
			atLeastSecond(u.execs[0].end.Add(cfg.window).Sub(now))}
	}
	u.inFlight++
	u.starts = append(u.starts, now)
	sl.inFlight++
	sl.highWater = max(sl.highWater, sl.inFlight)
	return &limitTicket{user: u, start: now}, nil
}

// release ends an admitted request (once; nil is ignored) at now and
// books its execution time.
func (sl *serviceLimits) release(t *limitTicket, now time.Time) {
	if t == nil {
		return
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	t.user.inFlight--
	sl.inFlight--
	t.user.execs = append(t.user.execs, execEntry{end: now, d: now.Sub(t.start)})
	t.user.execSum += now.Sub(t.start)
}

func (s *Server) writeLimitRefusal(w http.ResponseWriter, r *limitRefusal) {
	w.Header().Set("OData-Version", "4.0")
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(r.retryAfter)))
	writeODataError(w, http.StatusTooManyRequests, r.code, r.message)
}

// groupThousands formats n as 1,200,000.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// ConcurrencyHighWater is the largest number of Dataverse requests (all
// users together) in flight at once since Start or ResetCounters. Only
// requests admitted by the service protection limits count (so not those
// they refused, requests without a valid token, or requests inside a
// $batch); a request is in flight from its admission until its handler has
// returned, which is before the client can read the answer.
func (s *Server) ConcurrencyHighWater() int {
	return locked(&s.limits.mu, func() int { return s.limits.highWater })
}

// ResetLimits forgets every user's service protection windows (requests
// and execution time), as if the window had passed. Requests in flight
// stay in flight.
func (s *Server) ResetLimits() {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	for _, u := range s.limits.userLimit {
		u.starts, u.execs, u.execSum = nil, nil, 0
	}
}

// RequestRecord is one entry of RequestLog.
type RequestRecord struct {
	Listener string // ListenerLogin, ListenerEnvironment or ListenerGraph
	Method   string
	Route    string // route name as in the request counters ("WhoAmI", "token", …)
	Start    time.Time
	End      time.Time // when the answer was written (or the request reset)
	Status   int       // 0 for a reset connection
	// User is the systemuserid of the principal whose valid bearer token
	// the request carried ("" on the login listener and without a valid
	// token); ClientID is its application (client) id, "" for people.
	User     string
	ClientID string
}

// requestLog is a ring of the last requestLogCapacity records.
type requestLog struct {
	buf  []RequestRecord
	next int
}

func (s *Server) logRequest(rec RequestRecord) {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	l := &s.limits.reqLog
	if len(l.buf) < requestLogCapacity {
		l.buf = append(l.buf, rec)
		return
	}
	l.buf[l.next] = rec
	l.next = (l.next + 1) % requestLogCapacity
}

// RequestLog returns the last 100,000 top-level requests of all three
// listeners, in the order they finished (a request inside a $batch is part
// of the batch's record; the control endpoint is not logged). ResetCounters
// empties it.
func (s *Server) RequestLog() []RequestRecord {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	l := s.limits.reqLog
	if len(l.buf) < requestLogCapacity {
		return slices.Clone(l.buf)
	}
	return append(slices.Clone(l.buf[l.next:]), l.buf[:l.next]...)
}
