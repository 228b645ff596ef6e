package dataverse

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuditQuery selects rows of the audit trail (the audits entity set).
type AuditQuery struct {
	// From and To are inclusive bounds on createdon; either may be nil.
	From, To *time.Time
	// EntityLogicalName matches objecttypecode (the audited table).
	EntityLogicalName string
	// RecordID matches _objectid_value and UserID _userid_value; both must be
	// GUIDs when set.
	RecordID, UserID string
	// Operations are operation codes (1 create, 2 update, 3 delete, 4 access),
	// any of which matches.
	Operations []int
	// Actions are action codes (AuditActions), any of which matches.
	Actions []int
	// Limit is the most rows StreamAudits delivers; it must be > 0.
	Limit int
	// PageSize is sent as Prefer: odata.maxpagesize; 0 means min(Limit, 5000).
	// Values over 5000 (the server's maximum) are lowered to 5000.
	PageSize int
}

// MaxAuditPageSize is the largest page the Web API serves.
const MaxAuditPageSize = 5000

// BuildAuditFilter returns the $filter text for q's conditions, "" when there
// are none. Every value is formatted from its typed field: GUIDs are
// validated and written bare, the table name is an OData string literal with
// quotes doubled, times are RFC 3339 in UTC (fractional seconds kept). The
// conditions are joined with "and"; a list of more than one code is a
// parenthesised "or" group. Limit and PageSize are not part of the filter.
func BuildAuditFilter(q AuditQuery) (string, error) {
	var parts []string
	for _, t := range []*time.Time{q.From, q.To} {
		if t != nil && (t.UTC().Year() < 1 || t.UTC().Year() > 9999) {
			return "", fmt.Errorf("dataverse: audit query: time %s is outside the years 1 to 9999", t.UTC())
		}
	}
	if q.From != nil && q.To != nil && q.From.After(*q.To) {
		return "", fmt.Errorf("dataverse: audit query: from (%s) is after to (%s)", formatODataTime(*q.From), formatODataTime(*q.To))
	}
	if q.From != nil {
		parts = append(parts, "createdon ge "+formatODataTime(*q.From))
	}
	if q.To != nil {
		parts = append(parts, "createdon le "+formatODataTime(*q.To))
	}
	if q.EntityLogicalName != "" {
		parts = append(parts, "objecttypecode eq "+odataString(q.EntityLogicalName))
	}
	for _, g := range []struct{ field, name, value string }{
		{"_objectid_value", "record id", q.RecordID},
		{"_userid_value", "user id", q.UserID},
	} {
		if g.value == "" {
			continue
		}
		if !IsGUID(g.value) {
			return "", fmt.Errorf("dataverse: audit query: %s %q is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", g.name, g.value)
		}
		parts = append(parts, g.field+" eq "+strings.ToLower(g.value))
	}
	for _, op := range q.Operations {
		if _, ok := AuditOperations[op]; !ok {
			return "", fmt.Errorf("dataverse: audit query: operation %d is not one of 1 (create), 2 (update), 3 (delete), 4 (access)", op)
		}
	}
	if p := codeGroup("operation", q.Operations); p != "" {
		parts = append(parts, p)
	}
	for _, a := range q.Actions {
		if a < 0 {
			return "", fmt.Errorf("dataverse: audit query: action code %d is negative", a)
		}
	}
	if p := codeGroup("action", q.Actions); p != "" {
		parts = append(parts, p)
	}
	return strings.Join(parts, " and "), nil
}

// codeGroup is "field eq a" or "(field eq a or field eq b …)", duplicates dropped.
func codeGroup(field string, codes []int) string {
	seen := make(map[int]bool, len(codes))
	var terms []string
	for _, c := range codes {
		if seen[c] {
			continue
		}
		seen[c] = true
		terms = append(terms, field+" eq "+strconv.Itoa(c))
	}
	switch len(terms) {
	case 0:
		return ""
	case 1:
		return terms[0]
	}
	return "(" + strings.Join(terms, " or ") + ")"
}

// odataString is an OData string literal: single quotes, inner quotes doubled.
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// formatODataTime writes a DateTimeOffset literal in UTC; fractional seconds
// are kept (without trailing zeros) so that an inclusive bound stays exact.
func formatODataTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
