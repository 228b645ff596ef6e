package dataverse

import (
	"strings"
	"testing"
)

func TestParseAuditAction(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"create": 1, "UPDATE": 2, " user_access_via_web ": 64, "User Access via Web Services": 65,
		"audit-change-at-org-level": 104, "unknown": 0, "0": 0, "64": 64, "9999": 9999,
	} {
		got, err := ParseAuditAction(in)
		if err != nil || got != want {
			t.Errorf("ParseAuditAction(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "creat", "1.5", "user access"} {
		_, err := ParseAuditAction(in)
		if err == nil || !strings.Contains(err.Error(), "user_access_via_web (64)") || !strings.Contains(err.Error(), "numeric code") {
			t.Errorf("ParseAuditAction(%q): %v", in, err)
		}
	}
	// Every name parses back to its code.
	for code, name := range AuditActions {
		if got, err := ParseAuditAction(name); err != nil || got != code {
			t.Errorf("%s: %d, %v", name, got, err)
		}
	}
}

func TestAuditActionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code  int
		label string
		want  string
	}{
		{104, "Audit Change at Org Level", "audit_change_at_org_level"},
		{64, "", "user_access_via_web"},
		{120, "Export To Excel (Preview)", "export_to_excel_preview"},
		{121, "  --  ", "action_121"},
		{122, "", "action_122"},
	}
	for _, tt := range tests {
		if got := AuditActionName(tt.code, tt.label); got != tt.want {
			t.Errorf("AuditActionName(%d, %q) = %q, want %q", tt.code, tt.label, got, tt.want)
		}
	}
}

func TestParseAuditOperation(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"create": 1, "Update": 2, "delete": 3, "ACCESS": 4, "1": 1, "4": 4} {
		got, err := ParseAuditOperation(in)
		if err != nil || got != want {
			t.Errorf("ParseAuditOperation(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "5", "read", "assign"} {
		if _, err := ParseAuditOperation(in); err == nil || !strings.Contains(err.Error(), "create (1), update (2), delete (3), access (4)") {
			t.Errorf("ParseAuditOperation(%q): %v", in, err)
		}
	}
}
