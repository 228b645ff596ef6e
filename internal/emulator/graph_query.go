package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// An auditLogQuery: its create body, its rendering and its status over time.

func graphTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func strOrNull(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// queryListFilter is one of the string-collection filters of a query.
type queryListFilter struct {
	name   string
	values *[]string
}

// listFilters are q's string-collection filters other than
// recordTypeFilters, in the order Graph writes them.
func (q *graphQuery) listFilters() []queryListFilter {
	return []queryListFilter{
		{"operationFilters", &q.operations},
		{"userPrincipalNameFilters", &q.upns},
		{"ipAddressFilters", &q.ips},
		{"objectIdFilters", &q.objectIDs},
		{"administrativeUnitIdFilters", &q.adminUnits},
	}
}

// queryBody renders a query as Graph's version documents it ("auditLogQuery
// resource type"): beta has serviceFilter, one string; v1.0 has
// serviceFilters, a collection, and the record-count properties
// approximateReturnedRecordCount, isRecordCountLimitExceeded and
// recordCountLimit. Caller holds g.mu.
func (g *graphPart) queryBody(q *graphQuery, now time.Time, version string) object {
	status := q.status(now, g.delay)
	body := object{
		{"id", q.id},
		{"displayName", strOrNull(q.displayName)},
		{"filterStartDateTime", graphTime(q.start)},
		{"filterEndDateTime", graphTime(q.end)},
		{"recordTypeFilters", nonNil(q.recordTypes)},
		{"keywordFilter", strOrNull(q.keyword)},
	}
	if version == "beta" {
		body = append(body, member{"serviceFilter", strOrNull(q.service)})
	} else {
		services := []string{}
		if q.service != nil && *q.service != "" {
			services = append(services, *q.service)
		}
		body = append(body, member{"serviceFilters", services})
	}
	for _, f := range q.listFilters() {
		body = append(body, member{f.name, nonNil(*f.values)})
	}
	body = append(body, member{"status", status})
	if version == "beta" {
		return body
	}
	// The count is known once the query has run (chosen: null before;
	// the default of isRecordCountLimitExceeded is documented as false).
	var count any
	if status == QuerySucceeded {
		g.evaluate(q)
		count = q.matched
	}
	return append(body,
		member{"approximateReturnedRecordCount", count},
		member{"isRecordCountLimitExceeded", q.evaluated && q.matched > g.recordLimit},
		member{"recordCountLimit", g.recordLimit},
	)
}

// queryProperties are the auditLogQuery properties a create body may carry.
var queryProperties = []string{
	"@odata.type", "id", "displayName", "filterStartDateTime", "filterEndDateTime", "recordTypeFilters",
	"keywordFilter", "serviceFilter", "operationFilters", "userPrincipalNameFilters", "ipAddressFilters",
	"objectIdFilters", "administrativeUnitIdFilters", "status",
}

// parseQueryBody reads a create body; the error is the 400 message.
// Unknown properties are refused as OData refuses them on a closed type.
func parseQueryBody(body []byte) (*graphQuery, string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, "Invalid request body: a JSON object is required."
	}
	q := &graphQuery{}
	for name, v := range raw {
		if !slices.Contains(queryProperties, name) {
			return nil, fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.security.auditLogQuery'. Make sure to only use property names that are defined by the type or mark the type as open type.", name)
		}
		if string(v) == "null" {
			continue
		}
		var bad bool
		str := func() *string {
			var x string
			if json.Unmarshal(v, &x) != nil {
				bad = true
				return nil
			}
			return &x
		}
		list := func() []string {
			var x []string
			if json.Unmarshal(v, &x) != nil {
				bad = true
			}
			return x
		}
		when := func() (*time.Time, string) {
			p := str()
			if p == nil {
				return nil, ""
			}
			t, err := time.Parse(time.RFC3339Nano, *p)
			if err != nil {
				return nil, fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", *p)
			}
			t = t.UTC()
			return &t, ""
		}
		var msg string
		switch name {
		case "@odata.type":
			if p := str(); p != nil && strings.TrimPrefix(*p, "#") != strings.TrimPrefix(graphAuditQueryType, "#") {
				msg = fmt.Sprintf("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", strings.TrimPrefix(*p, "#"))
			}
		case "id", "status":
			str() // read-only: ignored, as Graph ignores server-set values
		case "displayName":
			q.displayName = str()
		case "filterStartDateTime":
			q.start, msg = when()
		case "filterEndDateTime":
			q.end, msg = when()
		case "recordTypeFilters":
			q.recordTypes = list()
			for _, rt := range q.recordTypes {
				if !knownRecordType(rt) {
					msg = fmt.Sprintf("Requested value '%s' was not found.", rt)
				}
			}
		case "keywordFilter":
			q.keyword = str()
		case "serviceFilter":
			q.service = str()
		default:
			for _, f := range q.listFilters() {
				if f.name == name {
					*f.values = list()
				}
			}
		}
		if bad {
			return nil, fmt.Sprintf("Invalid value for property '%s'.", name)
		}
		if msg != "" {
			return nil, msg
		}
	}
	if q.start != nil && q.end != nil && q.start.After(*q.end) {
		return nil, "filterStartDateTime must be earlier than or equal to filterEndDateTime."
	}
	return q, ""
}
