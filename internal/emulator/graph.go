package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// The Microsoft Graph listener: the Purview audit log query API
// (/{version}/security/auditLog/queries…) as dataverse-api.md describes it.
// Where Microsoft documents nothing (error wording, page size, time
// window bounds, records before a query completes) the choices are the
// emulator's own and say so in their comments.

// Graph counter route names (RequestCount keys are "<METHOD> <route>").
const (
	routeAuditLogQueries = "auditLogQueries" // POST (create) and GET (list)
	routeAuditLogQuery   = "auditLogQuery"   // GET one query
	routeAuditLogRecords = "auditLogRecords" // GET a page of records
	routeGraphOther      = "graph-other"     // no route matched
)

const (
	graphJSONContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	graphAuditQueryType  = "#microsoft.graph.security.auditLogQuery"
	graphInnerDateFormat = "2006-01-02T15:04:05"
)

// Audit log query statuses.
const (
	QueryNotStarted = "notStarted"
	QueryRunning    = "running"
	QuerySucceeded  = "succeeded"
	QueryFailed     = "failed"
)

// graphQuery is a created audit log query. Its filters never change; its
// status is a function of time.
type graphQuery struct {
	id          string
	displayName *string
	start, end  *time.Time
	recordTypes []string
	keyword     *string
	service     *string
	operations  []string
	upns        []string
	ips         []string
	objectIDs   []string
	adminUnits  []string
	created     time.Time // wall clock, monotonic
	fail        bool
	evaluated   bool
	results     []*unifiedRecord // at most the record count limit
	matched     int              // records matched, before the limit
}

// graphPart is Microsoft Graph's audit log: the Purview unified audit log
// the simulations write (unified.go) and the audit log queries that search
// it. Its handlers serve security/auditLog/queries once the Server has
// authenticated the request.
type graphPart struct {
	*shared
	delay       time.Duration // GraphQueryDelay
	pageSize    int           // GraphPageSize
	recordLimit int           // GraphRecordCountLimit
	newestFirst bool          // GraphRecordsNewestFirst

	mu          sync.Mutex
	unified     []*unifiedRecord       // in write order
	queries     map[string]*graphQuery // by id
	failQueries bool                   // FailAuditQueries
}

func newGraphPart(sh *shared, opts Options) *graphPart {
	g := &graphPart{
		shared:      sh,
		delay:       optionOrDefault(opts.GraphQueryDelay, defaultGraphQueryDelay),
		pageSize:    opts.GraphPageSize,
		queries:     map[string]*graphQuery{},
		newestFirst: opts.GraphRecordsNewestFirst,
	}
	if g.pageSize <= 0 {
		g.pageSize = defaultGraphPageSize
	}
	g.recordLimit = opts.GraphRecordCountLimit
	if g.recordLimit <= 0 {
		g.recordLimit = defaultGraphRecordCountLimit
	}
	return g
}

// FailAuditQueries makes audit log queries created from now on end
// "failed" instead of "succeeded" (on) or succeed again (off).
func (s *Server) FailAuditQueries(on bool) {
	withLock(&s.graph.mu, func() { s.graph.failQueries = on })
}

// AuditQueryCount is the number of audit log queries created.
func (s *Server) AuditQueryCount() int {
	return locked(&s.graph.mu, func() int { return len(s.graph.queries) })
}

// status: notStarted for the first half of the delay, running for the
// second, then succeeded or failed.
func (q *graphQuery) status(now time.Time, delay time.Duration) string {
	elapsed := now.Sub(q.created)
	switch {
	case elapsed >= delay:
		if q.fail {
			return QueryFailed
		}
		return QuerySucceeded
	case elapsed < delay/2:
		return QueryNotStarted
	}
	return QueryRunning
}

// evaluate fixes the result set: the records written before the query
// completed that match its filters, oldest first (the real order is not
// documented; clients must not rely on one), cut at the record count limit
// ("a query can complete successfully after exceeding its record-count
// limit"; which records are kept then is not documented). Caller holds g.mu.
func (g *graphPart) evaluate(q *graphQuery) {
	if q.evaluated {
		return
	}
	q.evaluated = true
	done := q.created.Add(g.delay)
	for _, r := range g.unified {
		if r.written.After(done) || !q.matches(r) {
			continue
		}
		q.results = append(q.results, r)
	}
	slices.SortStableFunc(q.results, func(a, b *unifiedRecord) int {
		c := a.CreatedDateTime.Compare(b.CreatedDateTime)
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if g.newestFirst {
			return -c
		}
		return c
	})
	q.matched = len(q.results)
	if len(q.results) > g.recordLimit {
		q.results = q.results[:g.recordLimit]
	}
}

func containsFoldAny(list []string, v string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, v) })
}

// matches applies all filters: the time window is [start, end) — start
// inclusive, end exclusive (Microsoft does not say; half-open windows
// let consecutive searches neither overlap nor miss a record).
func (q *graphQuery) matches(r *unifiedRecord) bool {
	if q.start != nil && r.CreatedDateTime.Before(*q.start) {
		return false
	}
	if q.end != nil && !r.CreatedDateTime.Before(*q.end) {
		return false
	}
	if len(q.recordTypes) > 0 && !containsFoldAny(q.recordTypes, r.AuditLogRecordType) {
		return false
	}
	if q.service != nil && *q.service != "" && !strings.EqualFold(*q.service, r.Service) {
		return false
	}
	if len(q.operations) > 0 && !containsFoldAny(q.operations, r.Operation) {
		return false
	}
	if len(q.upns) > 0 && !containsFoldAny(q.upns, r.UserPrincipalName) {
		return false
	}
	if len(q.ips) > 0 && !slices.Contains(q.ips, r.ClientIP) {
		return false
	}
	if len(q.objectIDs) > 0 && !containsFoldAny(q.objectIDs, r.ObjectID) {
		return false
	}
	if len(q.adminUnits) > 0 && !slices.ContainsFunc(q.adminUnits, func(u string) bool { return containsFoldAny(r.AdministrativeUnits, u) }) {
		return false
	}
	if q.keyword != nil && *q.keyword != "" && !keywordMatch(r.AuditData, *q.keyword) {
		return false
	}
	return true
}

// graphPath is a parsed Graph URL path.
type graphPath struct {
	version string
	route   string
	id      string
	segment string // the first segment no route knows, for the 400 message
}

func parseGraphPath(path string) graphPath {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	gp := graphPath{version: seg[0], route: routeGraphOther}
	want := []string{"security", "auditLog", "queries"}
	rest := seg[1:]
	for i, w := range want {
		if i >= len(rest) {
			gp.segment = ""
			return gp
		}
		if !strings.EqualFold(rest[i], w) {
			gp.segment = rest[i]
			return gp
		}
	}
	switch {
	case len(rest) == 3:
		gp.route = routeAuditLogQueries
	case len(rest) == 4 && rest[3] != "":
		gp.route, gp.id = routeAuditLogQuery, rest[3]
	case len(rest) == 5 && strings.EqualFold(rest[4], "records") && rest[3] != "":
		gp.route, gp.id = routeAuditLogRecords, rest[3]
	case len(rest) >= 5:
		gp.segment = rest[4]
	}
	return gp
}

func (s *Server) routeGraph(r *http.Request) string {
	return parseGraphPath(r.URL.Path).route
}

// writeGraphError writes Graph's error body. request-id is the response's
// request-id header (set here when missing); client-request-id echoes the
// caller's or repeats the request id.
func writeGraphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	reqID := w.Header().Get("request-id")
	if reqID == "" {
		reqID = uuid.NewString()
		w.Header().Set("request-id", reqID)
	}
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	w.Header().Set("client-request-id", clientReqID)
	body := object{{"error", object{
		{"code", code},
		{"message", message},
		{"innerError", object{
			{"date", time.Now().UTC().Format(graphInnerDateFormat)},
			{"request-id", reqID},
			{"client-request-id", clientReqID},
		}},
	}}}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeGraphJSON(w http.ResponseWriter, status int, body object) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", graphJSONContentType)
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// authenticateGraph checks the bearer token (signature, audience =
// GraphURL, expiry) and the audit query permission. It writes the refusal
// and returns false when the request may not go on.
func (s *Server) authenticateGraph(w http.ResponseWriter, r *http.Request) bool {
	unauthorized := func(msg string) bool {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="%scommon/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`, s.authorityHost))
		writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return false
	}
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return unauthorized("Access token is empty.")
	}
	_, claims, err := s.verifyAccessTokenClaims(token, s.graphURL)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized("Lifetime validation failed, the token is expired.")
	case errors.Is(err, errWrongAudience):
		return unauthorized("Access token validation failure. Invalid audience.")
	case err != nil:
		return unauthorized("Access token validation failure.")
	}
	var roles []string
	if list, ok := claims["roles"].([]any); ok {
		for _, v := range list {
			if r, ok := v.(string); ok {
				roles = append(roles, r)
			}
		}
	}
	if !containsFoldAny(roles, GraphPermAuditLogsQueryCRM) && !containsFoldAny(roles, GraphPermAuditLogsQuery) {
		writeGraphError(w, r, http.StatusForbidden, "Forbidden", "Insufficient privileges to complete the operation.")
		return false
	}
	return true
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.NewString()
	w.Header().Set("request-id", reqID)
	if c := r.Header.Get("client-request-id"); c != "" {
		w.Header().Set("client-request-id", c)
	} else {
		w.Header().Set("client-request-id", reqID)
	}
	if !s.authenticateGraph(w, r) {
		return
	}
	gp := parseGraphPath(r.URL.Path)
	if gp.version != "beta" && gp.version != "v1.0" {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid version: %s", gp.version))
		return
	}
	if gp.route == routeGraphOther {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", gp.segment))
		return
	}
	allowed := []string{http.MethodGet}
	if gp.route == routeAuditLogQueries && gp.version == "beta" {
		allowed = append(allowed, http.MethodPost)
	}
	if !slices.Contains(allowed, r.Method) {
		// Guess: Graph's answer to a method a segment does not support
		// (POST …/queries on v1.0, which now lists only get and list
		// records) is not documented; 405 says it plainly.
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeGraphError(w, r, http.StatusMethodNotAllowed, "BadRequest", fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method))
		return
	}
	switch gp.route {
	case routeAuditLogQueries:
		if r.Method == http.MethodPost {
			s.graph.createAuditQuery(w, r, gp)
		} else {
			s.graph.listAuditQueries(w, gp)
		}
	case routeAuditLogQuery:
		s.graph.getAuditQuery(w, r, gp)
	case routeAuditLogRecords:
		s.graph.listAuditRecords(w, r, gp)
	}
}

func (sh *shared) graphBase(version string) string { return sh.graphURL + "/" + version + "/" }

func (g *graphPart) createAuditQuery(w http.ResponseWriter, r *http.Request, gp graphPath) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeGraphError(w, r, http.StatusRequestEntityTooLarge, "BadRequest", "The request body is too large.")
		return
	}
	q, msg := parseQueryBody(body)
	if q == nil {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", msg)
		return
	}
	now := g.timers.Now()
	g.mu.Lock()
	q.id = g.newUUID().String()
	q.created = now
	q.fail = g.failQueries
	g.queries[q.id] = q
	out := append(object{{"@odata.context", g.graphBase(gp.version) + "$metadata#security/auditLog/queries/$entity"}}, g.queryBody(q, now, gp.version)...)
	g.mu.Unlock()
	w.Header().Set("Location", g.graphBase(gp.version)+"security/auditLog/queries/"+q.id)
	writeGraphJSON(w, http.StatusCreated, out)
}

func (g *graphPart) listAuditQueries(w http.ResponseWriter, gp graphPath) {
	now := g.timers.Now()
	g.mu.Lock()
	qs := make([]*graphQuery, 0, len(g.queries))
	for _, q := range g.queries {
		qs = append(qs, q)
	}
	slices.SortFunc(qs, func(a, b *graphQuery) int { return a.created.Compare(b.created) })
	value := make([]object, len(qs))
	for i, q := range qs {
		value[i] = g.queryBody(q, now, gp.version)
	}
	g.mu.Unlock()
	writeGraphJSON(w, http.StatusOK, object{
		{"@odata.context", g.graphBase(gp.version) + "$metadata#security/auditLog/queries"},
		{"value", value},
	})
}

// lockQuery takes g.mu and finds a query. If there is none it releases
// the lock, writes the 404 and returns nil; otherwise the caller holds g.mu.
func (g *graphPart) lockQuery(w http.ResponseWriter, r *http.Request, id string) *graphQuery {
	g.mu.Lock()
	q := g.queries[strings.ToLower(id)]
	if q == nil {
		g.mu.Unlock()
		// Guess: the wording of Graph's 404 for an unknown query id.
		writeGraphError(w, r, http.StatusNotFound, "NotFound", fmt.Sprintf("The audit log query '%s' was not found.", id))
	}
	return q
}

func (g *graphPart) getAuditQuery(w http.ResponseWriter, r *http.Request, gp graphPath) {
	now := g.timers.Now()
	q := g.lockQuery(w, r, gp.id)
	if q == nil {
		return
	}
	out := append(object{{"@odata.context", g.graphBase(gp.version) + "$metadata#security/auditLog/queries/$entity"}}, g.queryBody(q, now, gp.version)...)
	g.mu.Unlock()
	writeGraphJSON(w, http.StatusOK, out)
}

func encodeGraphSkipToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func decodeGraphSkipToken(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "o:") {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[2:]))
	return n, err == nil && n >= 0
}

// listAuditRecords serves a page of a completed query's records. Pages
// hold GraphPageSize records (or $top, if smaller); @odata.nextLink is an
// absolute URL with an opaque $skiptoken (and the same $top).
func (g *graphPart) listAuditRecords(w http.ResponseWriter, r *http.Request, gp graphPath) {
	query := r.URL.Query()
	size := g.pageSize
	topGiven := query.Has("$top")
	if topGiven {
		n, err := strconv.Atoi(query.Get("$top"))
		if err != nil || n < 1 {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", query.Get("$top")))
			return
		}
		size = min(size, n)
	}
	offset := 0
	if query.Has("$skiptoken") {
		var ok bool
		if offset, ok = decodeGraphSkipToken(query.Get("$skiptoken")); !ok {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "The $skiptoken is invalid.")
			return
		}
	}
	now := g.timers.Now()
	q := g.lockQuery(w, r, gp.id)
	if q == nil {
		return
	}
	if st := q.status(now, g.delay); st != QuerySucceeded {
		g.mu.Unlock()
		// Guess: Microsoft does not document listing the records of a
		// query that has not succeeded.
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The audit log query '%s' has status '%s': records are available once it has succeeded.", q.id, st))
		return
	}
	g.evaluate(q)
	end := min(offset+size, len(q.results))
	page := make([]UnifiedAuditRecord, 0, max(end-offset, 0))
	for i := offset; i < end; i++ {
		page = append(page, q.results[i].UnifiedAuditRecord)
	}
	more := end < len(q.results)
	g.mu.Unlock()

	out := object{{"@odata.context", g.graphBase(gp.version) + "$metadata#security/auditLog/queries('" + q.id + "')/records"}}
	if more {
		next := g.graphBase(gp.version) + "security/auditLog/queries/" + q.id + "/records?"
		if topGiven {
			next += "$top=" + strconv.Itoa(size) + "&"
		}
		out = append(out, member{"@odata.nextLink", next + "$skiptoken=" + encodeGraphSkipToken(end)})
	}
	out = append(out, member{"value", page})
	writeGraphJSON(w, http.StatusOK, out)
}
