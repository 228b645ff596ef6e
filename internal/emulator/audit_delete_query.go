package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The QueryExpression subset BulkDelete accepts on the audit table, as the
// Web API serialises the complex type ("Delete audit data" shows one):
//
//	{"EntityName":"audit","Criteria":{"FilterOperator":"And",
//	  "Conditions":[{"AttributeName":"action","Operator":"Equal",
//	                 "Values":[{"Type":"System.String","Value":"64"}]}],
//	  "Filters":[]}}
//
// Conditions on createdon, action, operation, objecttypecode, objectid and
// userid with the operators Equal, NotEqual, GreaterThan, GreaterEqual,
// LessThan, LessEqual, In and NotIn; nested Filters with And or Or. Other
// attributes or operators are refused with a 400 that says the emulator
// does not support them (chosen: the real service accepts much more).

type queryExpression struct {
	EntityName string           `json:"EntityName"`
	Criteria   *queryFilterExpr `json:"Criteria"`
}

type queryFilterExpr struct {
	FilterOperator string            `json:"FilterOperator"`
	Conditions     []queryCondition  `json:"Conditions"`
	Filters        []queryFilterExpr `json:"Filters"`
}

type queryCondition struct {
	AttributeName string            `json:"AttributeName"`
	Operator      string            `json:"Operator"`
	Values        []json.RawMessage `json:"Values"`
}

// auditPredicate matches audit rows.
type auditPredicate func(*auditRow) bool

// compileAuditQuery turns a QueryExpression on audit into a predicate, or
// returns the message of the 400 that refuses it.
func compileAuditQuery(q queryExpression) (auditPredicate, string) {
	if !strings.EqualFold(q.EntityName, auditTable) {
		return nil, fmt.Sprintf("The Dynamics 365 emulator supports BulkDelete on the '%s' table only, not '%s'.", auditTable, q.EntityName)
	}
	if q.Criteria == nil {
		return func(*auditRow) bool { return true }, ""
	}
	return compileFilter(*q.Criteria)
}

func compileFilter(f queryFilterExpr) (auditPredicate, string) {
	var parts []auditPredicate
	for _, c := range f.Conditions {
		p, msg := compileCondition(c)
		if msg != "" {
			return nil, msg
		}
		parts = append(parts, p)
	}
	for _, sub := range f.Filters {
		p, msg := compileFilter(sub)
		if msg != "" {
			return nil, msg
		}
		parts = append(parts, p)
	}
	switch strings.ToLower(f.FilterOperator) {
	case "", "and", "0":
		return func(r *auditRow) bool {
			for _, p := range parts {
				if !p(r) {
					return false
				}
			}
			return true
		}, ""
	case "or", "1":
		return func(r *auditRow) bool {
			for _, p := range parts {
				if p(r) {
					return true
				}
			}
			return len(parts) == 0
		}, ""
	}
	return nil, fmt.Sprintf("The FilterOperator '%s' is not valid: use And or Or.", f.FilterOperator)
}

// conditionValue reads one element of Values: {"Type":..,"Value":..} as
// the documented example writes it, or a bare JSON string or number.
func conditionValue(raw json.RawMessage) (string, bool) {
	var typed struct {
		Value json.RawMessage `json:"Value"`
	}
	if json.Unmarshal(raw, &typed) == nil && typed.Value != nil {
		raw = typed.Value
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// auditKey extracts the compared value of a row: an int64, a string or a
// GUID string, by attribute.
func auditKey(attr string) (func(*auditRow) string, func(string) (string, bool), bool) {
	num := func(s string) (string, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return fmt.Sprintf("%020d", n), err == nil
	}
	guid := func(s string) (string, bool) {
		id, err := uuid.Parse(s)
		return id.String(), err == nil
	}
	switch attr {
	case "createdon":
		return func(r *auditRow) string { return fmt.Sprintf("%020d", r.created) }, func(s string) (string, bool) {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return "", false
			}
			// createdon is stored in whole seconds; a later fraction makes
			// "less than" include that second, as the comparison does.
			sec := t.Unix()
			if t.Nanosecond() > 0 {
				sec++
			}
			return fmt.Sprintf("%020d", sec), true
		}, true
	case "action":
		return func(r *auditRow) string { return fmt.Sprintf("%020d", r.action) }, num, true
	case "operation":
		return func(r *auditRow) string { return fmt.Sprintf("%020d", r.operation) }, num, true
	case "objecttypecode":
		return func(r *auditRow) string { return r.table }, func(s string) (string, bool) { return strings.ToLower(s), s != "" }, true
	case "objectid":
		return func(r *auditRow) string { return r.objectID.String() }, guid, true
	case "userid":
		return func(r *auditRow) string { return r.userID.String() }, guid, true
	}
	return nil, nil, false
}

func compileCondition(c queryCondition) (auditPredicate, string) {
	attr := strings.ToLower(c.AttributeName)
	key, parse, ok := auditKey(attr)
	if !ok {
		return nil, fmt.Sprintf("The Dynamics 365 emulator does not support conditions on the audit attribute '%s' in BulkDelete.", c.AttributeName)
	}
	values := make([]string, 0, len(c.Values))
	for _, raw := range c.Values {
		s, ok := conditionValue(raw)
		if !ok {
			return nil, fmt.Sprintf("A value of the condition on '%s' is not a string or number: %s", c.AttributeName, raw)
		}
		v, ok := parse(s)
		if !ok {
			return nil, fmt.Sprintf("The value '%s' is not valid for the attribute '%s'.", s, c.AttributeName)
		}
		values = append(values, v)
	}
	op := c.Operator
	single := func(cmp func(a, b string) bool) (auditPredicate, string) {
		if len(values) != 1 {
			return nil, fmt.Sprintf("The condition operator '%s' on '%s' takes exactly one value, got %d.", op, c.AttributeName, len(values))
		}
		v := values[0]
		return func(r *auditRow) bool { return cmp(key(r), v) }, ""
	}
	switch op {
	case "Equal":
		return single(func(a, b string) bool { return a == b })
	case "NotEqual":
		return single(func(a, b string) bool { return a != b })
	case "GreaterThan":
		return single(func(a, b string) bool { return a > b })
	case "GreaterEqual":
		return single(func(a, b string) bool { return a >= b })
	case "LessThan":
		return single(func(a, b string) bool { return a < b })
	case "LessEqual":
		return single(func(a, b string) bool { return a <= b })
	case "In", "NotIn":
		if len(values) == 0 {
			return nil, fmt.Sprintf("The condition operator '%s' on '%s' needs at least one value.", op, c.AttributeName)
		}
		in := op == "In"
		return func(r *auditRow) bool { return slices.Contains(values, key(r)) == in }, ""
	}
	return nil, fmt.Sprintf("The Dynamics 365 emulator does not support the condition operator '%s' in BulkDelete.", op)
}

// Counting audit rows ("Count rows using OData"): $count=true adds
// @odata.count, the matching rows up to 5,000; the annotations
// Microsoft.Dynamics.CRM.totalrecordcount (-1 without $count) and
// totalrecordcountlimitexceeded tell 5,000 from more.
const (
	auditCountLimit  = 5000
	annTotalCount    = "Microsoft.Dynamics.CRM.totalrecordcount"
	annCountExceeded = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
)

// countAudits counts the rows f matches, up to limit.
func (a *auditStore) countAudits(f auditFilter, limit int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, seq := range a.order {
		if f == nil || f.match(a.rows[seq]) {
			if n++; n >= limit {
				break
			}
		}
	}
	return n
}

// appendAuditCount writes the count members of a GET audits answer.
func (s *Server) appendAuditCount(b []byte, q auditQuery, p preferences) []byte {
	count, exceeded := -1, false
	if q.count {
		n := s.audits.countAudits(q.filter, auditCountLimit+1)
		count, exceeded = min(n, auditCountLimit), n > auditCountLimit
		b = append(b, `,"@odata.count":`...)
		b = strconv.AppendInt(b, int64(count), 10)
	}
	if p.annotations.count {
		b = append(b, `,"@`+annTotalCount+`":`...)
		b = strconv.AppendInt(b, int64(count), 10)
		b = append(b, `,"@`+annCountExceeded+`":`...)
		b = strconv.AppendBool(b, exceeded)
	}
	return b
}
