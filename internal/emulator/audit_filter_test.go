package emulator

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	filterUser1 = uuid.MustParse("11111111-1111-4111-8111-111111111111")
	filterUser2 = uuid.MustParse("22222222-2222-4222-8222-222222222222")
	filterObjA  = uuid.MustParse("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
	filterObjB  = uuid.MustParse("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
)

func filterRows() []*auditRow {
	day := func(d int) int64 { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC).Unix() }
	return []*auditRow{
		{seq: 0, created: day(1), action: 1, operation: 1, table: "account", objectID: filterObjA, userID: filterUser1},
		{seq: 1, created: day(2), action: 2, operation: 2, table: "contact", objectID: filterObjB, userID: filterUser2},
		{seq: 2, created: day(3), action: 3, operation: 3, table: "it's", objectID: filterObjA, userID: filterUser2},
		{seq: 3, created: day(4), action: 64, operation: 4, table: "systemuser", objectID: filterUser1, userID: filterUser1},
	}
}

func matching(t *testing.T, filter string) []int {
	t.Helper()
	f, err := parseAuditFilter(filter)
	if err != nil {
		t.Fatalf("parse %q: %v", filter, err)
	}
	var out []int
	for _, r := range filterRows() {
		if f.match(r) {
			out = append(out, int(r.seq))
		}
	}
	return out
}

func TestAuditFilterMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter string
		want   []int
	}{
		{"createdon eq 2026-01-02T00:00:00Z", []int{1}},
		{"createdon ne 2026-01-02T00:00:00Z", []int{0, 2, 3}},
		{"createdon gt 2026-01-02T00:00:00Z", []int{2, 3}},
		{"createdon ge 2026-01-02T00:00:00Z", []int{1, 2, 3}},
		{"createdon lt 2026-01-02T00:00:00Z", []int{0}},
		{"createdon le 2026-01-02T00:00:00Z", []int{0, 1}},
		{"createdon le 2026-01-02", []int{0, 1}},
		{"createdon lt 2026-01-02T00:00:00.5Z", []int{0, 1}},
		{"createdon ge 2026-01-02T00:00:00.5Z", []int{2, 3}},
		{"createdon ge 2026-01-02T01:00:00+01:00", []int{1, 2, 3}},
		{"action eq 2", []int{1}},
		{"action ge 3", []int{2, 3}},
		{"operation ne 4", []int{0, 1, 2}},
		{"operation lt 2", []int{0}},
		{"objecttypecode eq 'account'", []int{0}},
		{"objecttypecode eq 'it''s'", []int{2}},
		{"objecttypecode ne 'account'", []int{1, 2, 3}},
		{"objecttypecode gt 'd'", []int{2, 3}},
		{"_objectid_value eq aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", []int{0, 2}},
		{"_objectid_value eq AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA", []int{0, 2}},
		{"_objectid_value ne null", []int{0, 1, 2, 3}},
		{"_objectid_value eq null", nil},
		{"_userid_value eq 22222222-2222-4222-8222-222222222222", []int{1, 2}},
		// and binds tighter than or
		{"action eq 1 or action eq 2 and operation eq 3", []int{0}},
		{"(action eq 1 or action eq 2) and operation eq 2", []int{1}},
		{"action eq 3 and operation eq 3 or action eq 64", []int{2, 3}},
		{"not action eq 1", []int{1, 2, 3}},
		{"not (action eq 1 or action eq 2)", []int{2, 3}},
		{"not not action eq 1", []int{0}},
		{"not action eq 1 and not action eq 2", []int{2, 3}},
		{"((action eq 1))", []int{0}},
		{"  action   eq   1  ", []int{0}},
		{"createdon ge 2026-01-02T00:00:00Z and createdon le 2026-01-03T00:00:00Z and (objecttypecode eq 'contact' or objecttypecode eq 'it''s')", []int{1, 2}},
	} {
		if got := matching(t, tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestAuditFilterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter, want string
	}{
		{"", "Syntax error at position 0"},
		{"foo eq 1", "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.audit'."},
		{"transactionid eq 11111111-1111-4111-8111-111111111111", "Filtering audits on 'transactionid' is not supported"},
		{"contains(objecttypecode,'acc')", "The function 'contains'"},
		{"action in (1,2)", "The 'in' operator"},
		{"action eq '1'", "incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'"},
		{"createdon ge '2026-01-01T00:00:00Z'", "Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'"},
		{"createdon ge 2026-13-01T00:00:00Z", "Unrecognized 'Edm.DateTimeOffset' literal '2026-13-01T00:00:00Z'"},
		{"createdon ge 5", "Found operand types 'Edm.DateTimeOffset' and 'Edm.Int32'"},
		{"action eq 1.5", "Found operand types 'Edm.Int32' and 'Edm.Decimal'"},
		{"action eq 99999999999", "Unrecognized 'Edm.Int32' literal"},
		{"_userid_value eq 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'", "Found operand types 'Edm.Guid' and 'Edm.String'"},
		{"_userid_value eq aaaa", "Unrecognized 'Edm.Guid' literal 'aaaa'"},
		{"objecttypecode eq account", "Could not find a property named 'account'"},
		{"objecttypecode eq 1", "Found operand types 'Edm.String' and 'Edm.Int32'"},
		{"objecttypecode eq 'account", "unterminated string literal at position 18"},
		{"(action eq 1", "')' or operator expected at position 12"},
		{"action eq 1)", "Syntax error at position 11"},
		{"action eq 1 and", "Syntax error at position 15"},
		{"action eq 1 AND action eq 2", "Syntax error at position 12"},
		{"action eq", "Syntax error at position 9"},
		{"action 1", "Syntax error at position 7"},
		{"action lte 1", "Syntax error at position 7"},
		{"1 eq action", "must be a property of audit: literal '1'"},
		{"action eq null", "Comparing 'action' with null"},
		{"()", "Syntax error at position 1"},
		{strings.Repeat("(", 200) + "action eq 1" + strings.Repeat(")", 200), "nested too deeply"},
	} {
		_, err := parseAuditFilter(tc.filter)
		var fe *filterError
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v, want a filterError", tc.filter, err)
			continue
		}
		if !strings.Contains(fe.msg, tc.want) {
			t.Errorf("%q: %q does not contain %q", tc.filter, fe.msg, tc.want)
		}
	}
}

func FuzzAuditFilter(f *testing.F) {
	for _, seed := range []string{
		"createdon ge 2026-01-01T00:00:00Z and createdon le 2026-12-31T23:59:59Z",
		"action eq 1 or action eq 2 and not (operation eq 3)",
		"objecttypecode eq 'it''s' or _objectid_value eq aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
		"_userid_value ne null",
		"((((action eq 1))))",
		"contains(objecttypecode,'x')",
		"action in (1,2)",
		"'unterminated",
		"not",
		"(",
		")",
		"createdon ge 2026-01-01T00:00:00.123456789+05:30",
		"objecttypecode eq ''''",
		"\x00\xff",
	} {
		f.Add(seed)
	}
	rows := filterRows()
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseAuditFilter(s)
		if err != nil {
			var fe *filterError
			if !errors.As(err, &fe) || fe.msg == "" {
				t.Fatalf("%q: unexpected error %v", s, err)
			}
			return
		}
		for _, r := range rows {
			flt.match(r)
		}
	})
}
