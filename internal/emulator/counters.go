package emulator

import "sync"

// requestCounters is the counters part: requests by route, Dataverse
// writes, injected faults and issued tokens, under their own lock.
type requestCounters struct {
	mu     sync.Mutex
	counts map[string]int
	writes int
	// strong counts environment requests with Consistency: Strong.
	strong int
	// injected counts answers replaced by InjectFaults or SetFaultRules.
	injected int
	// tokensIssued counts access tokens issued by the token and managed
	// identity endpoints, by client id.
	tokensIssued map[string]int
	// bytes are the response body bytes of top-level requests, by counter
	// key and by listener.
	bytes           map[string]int64
	bytesByListener map[string]int64
}

func newRequestCounters() *requestCounters {
	return &requestCounters{counts: map[string]int{}, tokensIssued: map[string]int{}, bytes: map[string]int64{}, bytesByListener: map[string]int64{}}
}

// countBytes adds n response body bytes to key and listener.
func (c *requestCounters) countBytes(listener, key string, n int64) {
	c.mu.Lock()
	c.bytes[key] += n
	c.bytesByListener[listener] += n
	c.mu.Unlock()
}

// ResponseBytes returns how many response body bytes the requests counted
// under key (see RequestCount) were answered with, since the last
// ResetCounters: what a client read. A $batch answer counts once, under
// "POST $batch" (its parts are inside it), injected faults and service
// protection refusals count with their error bodies.
func (s *Server) ResponseBytes(key string) int64 {
	return locked(&s.counters.mu, func() int64 { return s.counters.bytes[key] })
}

// ListenerResponseBytes returns the response body bytes of all requests to
// a listener (ListenerLogin, ListenerEnvironment or ListenerGraph) since the
// last ResetCounters.
func (s *Server) ListenerResponseBytes(listener string) int64 {
	return locked(&s.counters.mu, func() int64 { return s.counters.bytesByListener[listener] })
}

// count counts one request under key; a Dataverse write also in writes.
func (c *requestCounters) count(key string, dataverseWrite bool) {
	c.mu.Lock()
	c.counts[key]++
	if dataverseWrite {
		c.writes++
	}
	c.mu.Unlock()
}

func (c *requestCounters) countStrongConsistency() {
	c.mu.Lock()
	c.strong++
	c.mu.Unlock()
}

func (c *requestCounters) countInjected() {
	c.mu.Lock()
	c.injected++
	c.mu.Unlock()
}

// batchPartPrefix prefixes the key under which a request inside a $batch
// is counted a second time: RequestCount(key) - RequestCount(batchPartPrefix
// + key) is the number of HTTP requests of that route on the wire.
const batchPartPrefix = "batch-part "

// HTTPRequestCount is RequestCount(key) without the requests that came
// inside a $batch: the HTTP requests of that route on the wire.
func (s *Server) HTTPRequestCount(key string) int {
	return locked(&s.counters.mu, func() int { return s.counters.counts[key] - s.counters.counts[batchPartPrefix+key] })
}

// RequestCount returns how many requests were received for key, which is
// "<METHOD> <route>", e.g. "POST token", "GET openid-configuration",
// "GET keys", "GET github-idtoken" (GitHubActionsOIDC), "GET msi-token"
// (ManagedIdentity), "GET WhoAmI", "GET organizations", "PATCH organizations",
// "GET EntityDefinitions" (every metadata read, columns included),
// "PUT EntityDefinitions" (every metadata write), "POST PublishXml",
// "POST PublishAllXml", "GET audits" (collection and single row),
// "GET RetrieveAuditDetails", "GET RetrieveRecordChangeHistory",
// "POST $batch" (each request inside a batch also counts under its own
// route, and again under "batch-part <METHOD> <route>"), or "GET other" for requests no route matched; on the Graph
// listener "POST auditLogQueries", "GET auditLogQueries" (list),
// "GET auditLogQuery", "GET auditLogRecords", or "GET graph-other". The
// control endpoint is not counted. Refused requests (401, 403, 4xx,
// service protection 429s, injected faults) count too.
func (s *Server) RequestCount(key string) int {
	return locked(&s.counters.mu, func() int { return s.counters.counts[key] })
}

// Requests returns a copy of all request counters.
func (s *Server) Requests() map[string]int {
	s.counters.mu.Lock()
	defer s.counters.mu.Unlock()
	out := make(map[string]int, len(s.counters.counts))
	for k, v := range s.counters.counts {
		out[k] = v
	}
	return out
}

// WriteCount is the number of non-GET requests received by the Dataverse
// listener, whether accepted or refused.
func (s *Server) WriteCount() int {
	return locked(&s.counters.mu, func() int { return s.counters.writes })
}

// ResetCounters sets all request counters, ResponseBytes, WriteCount,
// InjectedFaultCount and TokensIssued to zero, empties RequestLog and lowers
// ConcurrencyHighWater to the requests in flight now. It does not touch
// pending faults, fault rules or the service protection windows (see
// ResetLimits).
func (s *Server) ResetCounters() {
	s.counters.mu.Lock()
	s.counters.counts = map[string]int{}
	s.counters.writes = 0
	s.counters.injected = 0
	s.counters.strong = 0
	s.counters.tokensIssued = map[string]int{}
	s.counters.bytes = map[string]int64{}
	s.counters.bytesByListener = map[string]int64{}
	s.counters.mu.Unlock()
	s.limits.mu.Lock()
	s.limits.highWater = s.limits.inFlight
	s.limits.reqLog = requestLog{}
	s.limits.mu.Unlock()
}
