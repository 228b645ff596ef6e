package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// --- RetrieveRecordChangeHistory ---

// splitParams splits "A=x,B=y" at commas outside quotes, braces and
// parentheses.
func splitParams(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// odataJSON converts an OData JSON literal, which may use single-quoted
// strings, to JSON.
func odataJSON(s string) []byte {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return append(b, s[i:]...)
			}
			b = append(b, s[i:j+1]...)
			i = j
		case '\'':
			var str strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						str.WriteByte('\'')
						j++
						continue
					}
					break
				}
				str.WriteByte(s[j])
			}
			b = appendJSONString(b, str.String())
			i = j
		default:
			b = append(b, c)
		}
	}
	return b
}

type pagingInfo struct {
	PageNumber             *int
	Count                  *int
	ReturnTotalRecordCount bool
	PagingCookie           *string
}

func (s *Server) serveRecordChangeHistory(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if !functionGetOnly(w, r, req) {
		return
	}
	bad := func(msg string) { writeODataError(w, http.StatusBadRequest, codeNone, msg) }
	params := map[string]string{}
	if req.hasKey && strings.TrimSpace(req.key) != "" {
		for _, p := range splitParams(req.key) {
			name, value, ok := strings.Cut(p, "=")
			name = strings.TrimSpace(name)
			if !ok {
				bad(fmt.Sprintf("Syntax error in the parameters of '%s': '%s'.", retrieveRecordHistory, p))
				return
			}
			value = strings.TrimSpace(value)
			if strings.HasPrefix(value, "@") {
				alias, present := r.URL.Query()[value]
				if !present {
					bad(fmt.Sprintf("The parameter alias '%s' of parameter '%s' has no value in the query string.", value, name))
					return
				}
				value = alias[0]
			}
			switch name {
			case "Target", "PagingInfo":
				params[name] = value
			default:
				bad(fmt.Sprintf("The parameter '%s' is not a parameter of the function '%s'.", name, retrieveRecordHistory))
				return
			}
		}
	}
	target, ok := params["Target"]
	if !ok {
		bad(fmt.Sprintf("The parameter 'Target' of the function '%s' is required.", retrieveRecordHistory))
		return
	}
	var tgt map[string]json.RawMessage
	if err := json.Unmarshal(odataJSON(target), &tgt); err != nil {
		bad(fmt.Sprintf("The value of parameter 'Target' is not a valid entity reference: %s", target))
		return
	}
	page, count, total := 1, maxPageSize, false
	if pi, ok := params["PagingInfo"]; ok {
		var p pagingInfo
		if err := json.Unmarshal(odataJSON(pi), &p); err != nil {
			bad(fmt.Sprintf("The value of parameter 'PagingInfo' is not a valid PagingInfo: %s", pi))
			return
		}
		if p.PageNumber != nil {
			page = *p.PageNumber
		}
		if p.Count != nil {
			count = *p.Count
		}
		total = p.ReturnTotalRecordCount
		if page < 1 || count < 1 || count > maxPageSize {
			writeODataError(w, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("Invalid PagingInfo: PageNumber must be at least 1 and Count between 1 and %d (got PageNumber %d, Count %d).", maxPageSize, page, count))
			return
		}
	}
	if !req.user.cfg.has(PrivReadRecordAuditHistory) {
		missingMiscPrivilege(w, req.user, PrivReadRecordAuditHistory)
		return
	}
	p := parsePreferences(r.Header)

	s.meta.mu.Lock()
	e, id, msg := s.resolveTarget(tgt)
	s.meta.mu.Unlock()
	if msg != "" {
		if e == nil {
			writeODataError(w, http.StatusNotFound, codeSegmentNotFound, msg)
		} else {
			bad(msg)
		}
		return
	}
	rows := s.audits.history(e.logicalName, id)
	if len(rows) == 0 && !s.sim.hasRecord(e.logicalName, id) {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", e.logicalName, id))
		return
	}
	all := len(rows)
	from := min((page-1)*count, all)
	to := min(from+count, all)
	rows = rows[from:to]

	b := []byte(`{"@odata.context":`)
	b = appendJSONString(b, s.environment+apiPrefix+"$metadata#Microsoft.Dynamics.CRM.RetrieveRecordChangeHistoryResponse")
	b = append(b, `,"AuditDetailCollection":{"MoreRecords":`...)
	b = strconv.AppendBool(b, to < all)
	b = append(b, `,"PagingCookie":`...)
	cookie := ""
	if len(rows) > 0 {
		// The documented form ("Retrieve the history of audited data
		// changes"); the token's content is the emulator's own and opaque.
		// The emulator pages by PageNumber and never reads a cookie back.
		last := rows[len(rows)-1].id
		cookie = fmt.Sprintf(`<cookie page="%d"><cookieExtensions ContinuationToken="%s" /></cookie>`, page, base64.StdEncoding.EncodeToString(last[:]))
	}
	b = appendStringOrNull(b, cookie)
	b = append(b, `,"TotalRecordCount":`...)
	if total {
		b = strconv.AppendInt(b, int64(all), 10)
	} else {
		b = append(b, "-1"...)
	}
	b = append(b, `,"AuditDetails":[`...)
	for i, row := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAuditDetail(b, row, s.auditValues)
	}
	b = append(b, "]}}"...)
	setPreferenceApplied(w, p, false)
	writeRawOData(w, http.StatusOK, b)
}

// resolveTarget finds the table and id of an entity reference:
// {"@odata.id":"accounts(<id>)"} (relative or absolute) or
// {"@odata.type":"Microsoft.Dynamics.CRM.account","accountid":"<id>"}.
// Caller holds s.meta.mu. A nil table with a message means an unknown entity set.
func (s *Server) resolveTarget(tgt map[string]json.RawMessage) (*entityDef, uuid.UUID, string) {
	var odataID, odataType string
	_ = json.Unmarshal(tgt["@odata.id"], &odataID)
	_ = json.Unmarshal(tgt["@odata.type"], &odataType)
	switch {
	case odataID != "":
		ref := odataID
		if i := strings.Index(ref, apiPrefix); i >= 0 {
			ref = ref[i+len(apiPrefix):]
		}
		open := strings.IndexByte(ref, '(')
		if open < 0 || !strings.HasSuffix(ref, ")") {
			return &entityDef{}, uuid.UUID{}, fmt.Sprintf("The @odata.id '%s' of parameter 'Target' is not an entity reference.", odataID)
		}
		set, key := ref[:open], ref[open+1:len(ref)-1]
		e := s.entityBySet(set)
		if e == nil {
			return nil, uuid.UUID{}, fmt.Sprintf("Resource not found for the segment '%s'.", set)
		}
		id, err := uuid.Parse(key)
		if err != nil || len(key) != 36 {
			return e, uuid.UUID{}, fmt.Sprintf("The key '%s' in the @odata.id of parameter 'Target' is not a GUID.", key)
		}
		return e, id, ""
	case odataType != "":
		table := strings.TrimPrefix(strings.TrimPrefix(odataType, "#"), "Microsoft.Dynamics.CRM.")
		e := s.meta.store.entities[table]
		if e == nil {
			return nil, uuid.UUID{}, fmt.Sprintf("Resource not found for the segment '%s'.", table)
		}
		var key string
		_ = json.Unmarshal(tgt[readString(e.props, "PrimaryIdAttribute")], &key)
		id, err := uuid.Parse(key)
		if err != nil || len(key) != 36 {
			return e, uuid.UUID{}, fmt.Sprintf("The parameter 'Target' has no valid '%s'.", readString(e.props, "PrimaryIdAttribute"))
		}
		return e, id, ""
	}
	return &entityDef{}, uuid.UUID{}, "The parameter 'Target' must carry '@odata.id' (e.g. {'@odata.id':'accounts(<id>)'})."
}

// entityBySet finds a table by its EntitySetName. Caller holds s.meta.mu.
func (s *Server) entityBySet(set string) *entityDef {
	for _, name := range s.meta.store.names {
		e := s.meta.store.entities[name]
		if readString(e.props, "EntitySetName") == set {
			return e
		}
	}
	return nil
}
