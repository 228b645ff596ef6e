package dataverse

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func timePtr(t time.Time) *time.Time { return &t }

const (
	testRecordID = "6A3F1E2D-1111-4222-8333-444455556666"
	testUserID   = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

func TestBuildAuditFilter(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		q    AuditQuery
		want string
	}{
		{"empty", AuditQuery{Limit: 10, PageSize: 5}, ""},
		{
			"every field",
			AuditQuery{
				From:              timePtr(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
				To:                timePtr(time.Date(2024, 1, 31, 23, 59, 59, 500_000_000, time.UTC)),
				EntityLogicalName: "account",
				RecordID:          testRecordID,
				UserID:            testUserID,
				Operations:        []int{1, 2},
				Actions:           []int{64},
			},
			"createdon ge 2024-01-01T00:00:00Z and createdon le 2024-01-31T23:59:59.5Z" +
				" and objecttypecode eq 'account'" +
				" and _objectid_value eq 6a3f1e2d-1111-4222-8333-444455556666" +
				" and _userid_value eq aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" +
				" and (operation eq 1 or operation eq 2) and action eq 64",
		},
		{
			"times are written in UTC",
			AuditQuery{From: timePtr(time.Date(2024, 6, 1, 1, 30, 0, 0, cet))},
			"createdon ge 2024-06-01T00:30:00Z",
		},
		{
			"inclusive bounds on the same instant",
			AuditQuery{
				From: timePtr(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)),
				To:   timePtr(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)),
			},
			"createdon ge 2024-06-01T00:00:00Z and createdon le 2024-06-01T00:00:00Z",
		},
		{"quote doubled", AuditQuery{EntityLogicalName: "o'brien"}, "objecttypecode eq 'o''brien'"},
		{
			"injection stays inside the literal",
			AuditQuery{EntityLogicalName: "x' or objecttypecode ne 'y"},
			"objecttypecode eq 'x'' or objecttypecode ne ''y'",
		},
		{"one operation, no parentheses", AuditQuery{Operations: []int{3}}, "operation eq 3"},
		{"duplicates dropped", AuditQuery{Actions: []int{1, 2, 1, 2}}, "(action eq 1 or action eq 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := BuildAuditFilter(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if _, err := checkFilterSyntax(got); err != nil {
				t.Errorf("filter %q: %v", got, err)
			}
		})
	}
}

func TestBuildAuditFilterRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    AuditQuery
		want string
	}{
		{"record id not a GUID", AuditQuery{RecordID: "123"}, `record id "123" is not a GUID`},
		{"user id injection", AuditQuery{UserID: testUserID + " or 1 eq 1"}, "user id"},
		{"braced GUID", AuditQuery{RecordID: "{" + testRecordID + "}"}, "not a GUID"},
		{"unknown operation", AuditQuery{Operations: []int{1, 5}}, "operation 5"},
		{"negative action", AuditQuery{Actions: []int{-1}}, "action code -1"},
		{
			"from after to",
			AuditQuery{From: timePtr(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)), To: timePtr(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))},
			"is after to",
		},
		{"year out of range", AuditQuery{To: timePtr(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}, "outside the years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := BuildAuditFilter(tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, err %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

// Words that may appear outside string literals in a filter.
var (
	filterKeywords = map[string]bool{
		"createdon": true, "objecttypecode": true, "_objectid_value": true, "_userid_value": true,
		"operation": true, "action": true, "eq": true, "ge": true, "le": true, "and": true, "or": true,
	}
	filterValueRE = regexp.MustCompile(`^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)$`)
)

// checkFilterSyntax scans a filter as an OData lexer would: string literals
// end at a single quote (a doubled quote is an escaped one), parentheses balance, and
// every word outside literals is a known keyword or a typed value. It returns
// the unescaped literals.
func checkFilterSyntax(s string) ([]string, error) {
	var literals []string
	depth := 0
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '\'':
			var lit strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string literal")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						lit.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				lit.WriteByte(s[i])
				i++
			}
			literals = append(literals, lit.String())
		case '(':
			depth++
			i++
		case ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ')' at %d", i)
			}
			i++
		case ' ':
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune("'() ", rune(s[j])) {
				j++
			}
			w := s[i:j]
			if !filterKeywords[w] && !filterValueRE.MatchString(w) {
				return nil, fmt.Errorf("unexpected word %q outside a string literal", w)
			}
			i = j
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced parentheses")
	}
	return literals, nil
}

// FuzzBuildAuditFilter: no panic; whatever the input, a filter that is built
// scans cleanly and the table name comes back out of its literal unchanged.
// The seeds run with every go test.
func FuzzBuildAuditFilter(f *testing.F) {
	f.Add("account", testRecordID, testUserID, 1, 2, 64, int64(1704067200), int64(1706745599), true, true)
	f.Add("o'brien", "", "", 0, 0, 0, int64(0), int64(0), false, false)
	f.Add("x' or 1 eq 1 or 'a", "not-a-guid", "", 5, -1, -3, int64(-1), int64(1), true, false)
	f.Add("'')(\"\\", testRecordID+")", testUserID, 4, 4, 0, int64(253402300799), int64(253402300800), false, true)
	f.Add("\x00\xff日本", "", strings.ToUpper(testUserID), 3, 1, 113, int64(1e9), int64(-1e9), true, true)
	f.Fuzz(func(t *testing.T, entity, record, user string, op1, op2, action int, from, to int64, hasFrom, hasTo bool) {
		q := AuditQuery{EntityLogicalName: entity, RecordID: record, UserID: user, Operations: []int{op1, op2}, Actions: []int{action}}
		if hasFrom {
			q.From = timePtr(time.Unix(from, 0))
		}
		if hasTo {
			q.To = timePtr(time.Unix(to, 999))
		}
		got, err := BuildAuditFilter(q)
		if err != nil {
			return
		}
		lits, err := checkFilterSyntax(got)
		if err != nil {
			t.Fatalf("filter %q: %v", got, err)
		}
		switch {
		case entity == "" && len(lits) != 0:
			t.Fatalf("filter %q has literals %q without a table name", got, lits)
		case entity != "" && (len(lits) != 1 || lits[0] != entity):
			t.Fatalf("filter %q: literals %q, want exactly [%q]", got, lits, entity)
		}
	})
}
