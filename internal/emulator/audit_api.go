package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// The audit trail routes:
//
//	GET audits[?$select&$filter&$orderby&$top&$skiptoken]
//	GET audits(<id>)[?$select]
//	GET audits(<id>)/Microsoft.Dynamics.CRM.RetrieveAuditDetails[()]
//	GET RetrieveRecordChangeHistory(Target=@t,PagingInfo=@p)?@t=..&@p=..

const (
	auditsEntitySet         = "audits"
	auditTable              = "audit"
	auditEntityType         = "Microsoft.Dynamics.CRM.audit"
	auditTypeCode           = 4567
	maxPageSize             = 5000
	retrieveAuditDetails    = "Microsoft.Dynamics.CRM.RetrieveAuditDetails"
	retrieveRecordHistory   = "RetrieveRecordChangeHistory"
	routeRetrieveAuditDetls = "RetrieveAuditDetails"
)

// preferences are the parsed Prefer headers of a request.
type preferences struct {
	maxPageSize     int // 1..5000 when applied, else 0
	annotations     annotations
	annotationsRaw  string // as sent, for Preference-Applied
	hasAnnotations  bool
	continueOnError bool
}

// splitPrefer splits a Prefer header value at commas outside quotes.
func splitPrefer(v string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

func parsePreferences(h http.Header) preferences {
	var p preferences
	for _, hv := range h.Values("Prefer") {
		for _, item := range splitPrefer(hv) {
			name, value, _ := strings.Cut(strings.TrimSpace(item), "=")
			name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
			switch name {
			case "odata.maxpagesize":
				// Values outside 1..5000 are ignored, as the service does.
				if n, err := strconv.Atoi(value); err == nil && n >= 1 && n <= maxPageSize {
					p.maxPageSize = n
				}
			case "odata.include-annotations":
				p.hasAnnotations = true
				p.annotationsRaw = value
				p.annotations = parseIncludeAnnotations(strings.Trim(value, `"`))
			case "odata.continue-on-error":
				p.continueOnError = value == "" || strings.EqualFold(value, "true")
			}
		}
	}
	return p
}

// auditQuery is a parsed GET audits query.
type auditQuery struct {
	sel     []int // column indexes as selected; nil: all
	filter  auditFilter
	order   int // 0 none, 1 createdon asc, -1 createdon desc
	top     int // -1 when absent
	token   *skipToken
	rawTok  string
	selText []string
	count   bool // $count=true
}

// skipToken is the position after which the next page starts: the last
// row's (createdon, insertion number) in the page's order, so that rows
// added meanwhile never shift later pages, and how many rows were returned
// so far (for $top).
type skipToken struct {
	order    int8
	created  int64
	seq      int32
	returned int32
}

func (t skipToken) encode() string {
	var b [18]byte
	b[0] = 1
	b[1] = byte(t.order)
	binary.BigEndian.PutUint64(b[2:], uint64(t.created))
	binary.BigEndian.PutUint32(b[10:], uint32(t.seq))
	binary.BigEndian.PutUint32(b[14:], uint32(t.returned))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeSkipToken(s string) (skipToken, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 18 || b[0] != 1 {
		return skipToken{}, false
	}
	t := skipToken{
		order:    int8(b[1]),
		created:  int64(binary.BigEndian.Uint64(b[2:])),
		seq:      int32(binary.BigEndian.Uint32(b[10:])),
		returned: int32(binary.BigEndian.Uint32(b[14:])),
	}
	if t.seq < 0 || t.returned < 0 || t.order < -1 || t.order > 1 {
		return skipToken{}, false
	}
	return t, true
}

func notAnAuditProperty(name string) string { return notAProperty(name, auditEntityType) }

func parseAuditSelect(v string) ([]int, []string, string) {
	var sel []int
	var names []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		i, ok := auditColumnIndex[f]
		if !ok {
			return nil, nil, notAnAuditProperty(f)
		}
		if !slices.Contains(sel, i) {
			sel = append(sel, i)
			names = append(names, f)
		}
	}
	return sel, names, ""
}

// parseAuditQuery reads the system query options; a single-row request
// takes only $select.
func parseAuditQuery(r *http.Request, collection bool) (auditQuery, string) {
	q := auditQuery{top: -1}
	values := r.URL.Query()
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		v := values[name][0]
		switch {
		case name == "$select":
			sel, selNames, msg := parseAuditSelect(v)
			if msg != "" {
				return q, msg
			}
			q.sel, q.selText = sel, selNames
		case name == "$filter" && collection:
			f, err := parseAuditFilter(v)
			if err != nil {
				return q, err.Error()
			}
			q.filter = f
		case name == "$orderby" && collection:
			fields := strings.Fields(v)
			if len(fields) >= 1 {
				col := strings.TrimSuffix(fields[0], ",")
				if _, known := auditColumnIndex[col]; !known {
					return q, notAnAuditProperty(col)
				}
			}
			switch {
			case len(fields) == 1 && fields[0] == "createdon", len(fields) == 2 && fields[0] == "createdon" && fields[1] == "asc":
				q.order = 1
			case len(fields) == 2 && fields[0] == "createdon" && fields[1] == "desc":
				q.order = -1
			default:
				return q, fmt.Sprintf("The $orderby '%s' is not supported on audits by the Dynamics 365 emulator: only 'createdon asc' and 'createdon desc' are.", v)
			}
		case name == "$top" && collection:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return q, fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v)
			}
			q.top = n
		case name == "$skiptoken" && collection:
			t, ok := decodeSkipToken(v)
			if !ok {
				return q, fmt.Sprintf("The $skiptoken '%s' is not valid.", v)
			}
			q.token, q.rawTok = &t, v
		case name == "$count" && collection:
			if v != "true" && v != "false" {
				return q, fmt.Sprintf("Invalid value '%s' for $count query option found. Valid values are 'true' and 'false'.", v)
			}
			q.count = v == "true"
		case name == "$skip":
			return q, "The query parameter $skip is not supported."
		default:
			return q, fmt.Sprintf("The query parameter '%s' is not supported by the Dynamics 365 emulator on '%s'.", name, auditsEntitySet)
		}
	}
	if q.token != nil && int(q.token.order) != q.order {
		return q, fmt.Sprintf("The $skiptoken '%s' does not belong to this query.", q.rawTok)
	}
	return q, ""
}

// serveAudits handles audits, audits(<id>) and the bound RetrieveAuditDetails.
func (s *Server) serveAudits(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if len(req.rest) > 0 {
		if req.hasKey && len(req.rest) == 1 && (req.rest[0] == retrieveAuditDetails || req.rest[0] == retrieveAuditDetails+"()") {
			s.serveRetrieveAuditDetails(w, r, req)
			return
		}
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", req.rest[0]))
		return
	}
	if r.Method != http.MethodGet {
		writeMethodNotAllowed(w, r, http.MethodGet)
		return
	}
	var id uuid.UUID
	if req.hasKey {
		var ok bool
		if id, ok = parseKeyGUID(req.key); !ok {
			writeODataError(w, http.StatusBadRequest, codeQuerySyntax, "Bad Request - Error in query syntax.")
			return
		}
	}
	q, msg := parseAuditQuery(r, !req.hasKey)
	if msg != "" {
		writeODataError(w, http.StatusBadRequest, codeNone, msg)
		return
	}
	if !req.user.cfg.has(PrivReadAuditSummary) {
		missingMiscPrivilege(w, req.user, PrivReadAuditSummary)
		return
	}
	s.deletions.settle()
	ann := parsePreferences(r.Header)
	if req.hasKey {
		s.getAudit(w, r, id, q, ann)
		return
	}
	s.listAudits(w, r, q, ann)
}

func parseKeyGUID(key string) (uuid.UUID, bool) {
	key = strings.TrimPrefix(key, "auditid=")
	id, err := uuid.Parse(key)
	return id, err == nil && len(key) == 36
}

func (s *Server) auditContext(q auditQuery, single bool) string {
	ctx := s.environment + apiPrefix + "$metadata#" + auditsEntitySet
	if len(q.selText) > 0 {
		ctx += "(" + strings.Join(q.selText, ",") + ")"
	}
	if single {
		ctx += "/$entity"
	}
	return ctx
}

// renderer builds a row renderer; with formatted values it looks up the
// display names of the rows' tables (under the metadata lock).
func (s *Server) renderer(cols []int, ann annotations, rows []*auditRow) *rowRenderer {
	if cols == nil {
		cols = allAuditColumns
	}
	rr := &rowRenderer{cols: cols, ann: ann}
	if ann.formatted {
		rr.displayNames = map[string]string{}
		s.meta.mu.Lock()
		defer s.meta.mu.Unlock()
		for _, r := range rows {
			if _, done := rr.displayNames[r.table]; done {
				continue
			}
			name := ""
			if e := s.meta.store.entities[r.table]; e != nil {
				name = entityDisplayName(e)
			}
			rr.displayNames[r.table] = name
		}
	}
	return rr
}

func entityDisplayName(e *entityDef) string {
	raw, _ := e.props.get("DisplayName")
	var l struct {
		UserLocalizedLabel *struct{ Label string }
	}
	if json.Unmarshal(raw, &l) == nil && l.UserLocalizedLabel != nil {
		return l.UserLocalizedLabel.Label
	}
	return ""
}

func setPreferenceApplied(w http.ResponseWriter, p preferences, pageSize bool) {
	var applied []string
	if p.hasAnnotations {
		applied = append(applied, "odata.include-annotations="+p.annotationsRaw)
	}
	if pageSize && p.maxPageSize > 0 {
		applied = append(applied, "odata.maxpagesize="+strconv.Itoa(p.maxPageSize))
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ","))
	}
}

func writeRawOData(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", odataJSONContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request, id uuid.UUID, q auditQuery, p preferences) {
	row := s.audits.get(id)
	if row == nil {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", auditTable, id))
		return
	}
	rr := s.renderer(q.sel, p.annotations, []*auditRow{row})
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, s.auditContext(q, true))
	b = append(b, ',')
	body := rr.appendRow(nil, row)
	b = append(b, body[1:]...)
	setPreferenceApplied(w, p, false)
	writeRawOData(w, http.StatusOK, b)
}

// keyAfter reports whether row r comes after position (created, seq).
func keyAfter(r *auditRow, created int64, seq int32) bool {
	if r.created != created {
		return r.created > created
	}
	return r.seq > seq
}

// collectAudits returns up to want rows matching q after its skip token,
// in q's order.
func (s *Server) collectAudits(q auditQuery, want int) []*auditRow {
	a := s.audits
	var out []*auditRow
	if want <= 0 {
		return out
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	take := func(r *auditRow) bool {
		if q.filter == nil || q.filter.match(r) {
			out = append(out, r)
		}
		return len(out) < want
	}
	switch q.order {
	case 0: // insertion order
		start := 0
		if q.token != nil {
			start = int(q.token.seq) + 1
		}
		for i := start; i < len(a.rows); i++ {
			if a.rows[i] != nil && !take(a.rows[i]) { // nil: deleted
				break
			}
		}
	case 1:
		start := 0
		if t := q.token; t != nil {
			start = sort.Search(len(a.order), func(i int) bool { return keyAfter(a.rows[a.order[i]], t.created, t.seq) })
		}
		for i := start; i < len(a.order); i++ {
			if !take(a.rows[a.order[i]]) {
				break
			}
		}
	case -1:
		end := len(a.order)
		if t := q.token; t != nil {
			// first index at or after the token: everything before it
			// comes next in descending order.
			end = sort.Search(len(a.order), func(i int) bool {
				r := a.rows[a.order[i]]
				return keyAfter(r, t.created, t.seq) || (r.created == t.created && r.seq == t.seq)
			})
		}
		for i := end - 1; i >= 0; i-- {
			if !take(a.rows[a.order[i]]) {
				break
			}
		}
	}
	return out
}

func (s *Server) listAudits(w http.ResponseWriter, r *http.Request, q auditQuery, p preferences) {
	pageSize := maxPageSize
	if p.maxPageSize > 0 {
		pageSize = p.maxPageSize
	}
	returned := 0
	if q.token != nil {
		returned = int(q.token.returned)
	}
	limit := pageSize
	if q.top >= 0 && q.top-returned < limit {
		limit = max(q.top-returned, 0)
	}
	rows := s.collectAudits(q, limit+1)
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if q.top >= 0 && returned+len(rows) >= q.top {
		more = false
	}
	rr := s.renderer(q.sel, p.annotations, rows)

	b := make([]byte, 0, 256+len(rows)*(450+300*boolInt(p.annotations.any())))
	b = append(b, `{"@odata.context":`...)
	b = appendJSONString(b, s.auditContext(q, false))
	b = s.appendAuditCount(b, q, p)
	b = append(b, `,"value":[`...)
	for i, row := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = rr.appendRow(b, row)
	}
	b = append(b, ']')
	if more && len(rows) > 0 {
		last := rows[len(rows)-1]
		tok := skipToken{order: int8(q.order), created: last.created, seq: last.seq, returned: int32(returned + len(rows))}
		b = append(b, `,"@odata.nextLink":`...)
		b = appendJSONString(b, s.nextLink(r, tok.encode()))
	}
	b = append(b, '}')
	setPreferenceApplied(w, p, true)
	writeRawOData(w, http.StatusOK, b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nextLink is the request's absolute URL with $skiptoken replaced.
func (s *Server) nextLink(r *http.Request, token string) string {
	var parts []string
	for _, p := range strings.Split(r.URL.RawQuery, "&") {
		if p == "" {
			continue
		}
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == "$skiptoken" {
			continue
		}
		parts = append(parts, p)
	}
	parts = append(parts, "$skiptoken="+token)
	return s.environment + r.URL.Path + "?" + strings.Join(parts, "&")
}

func (s *Server) serveRetrieveAuditDetails(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if r.Method != http.MethodGet {
		writeMethodNotAllowed(w, r, http.MethodGet)
		return
	}
	id, ok := parseKeyGUID(req.key)
	if !ok {
		writeODataError(w, http.StatusBadRequest, codeQuerySyntax, "Bad Request - Error in query syntax.")
		return
	}
	if !req.user.cfg.has(PrivReadAuditSummary) {
		missingMiscPrivilege(w, req.user, PrivReadAuditSummary)
		return
	}
	row := s.audits.get(id)
	if row == nil {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", auditTable, id))
		return
	}
	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, s.environment+apiPrefix+"$metadata#Microsoft.Dynamics.CRM.RetrieveAuditDetailsResponse")
	b = append(b, `,"AuditDetail":`...)
	b = appendAuditDetail(b, row, s.auditValues)
	b = append(b, '}')
	writeRawOData(w, http.StatusOK, b)
}
