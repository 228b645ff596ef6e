package emulator

import (
	"net/http"
	"strings"
	"testing"
)

// An environment where nobody ever set a retention reports
// auditretentionperiodv2 as null; setting it writes an audit row whose old
// value is null.
func TestOrganizationNullRetention(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{NullRetention: true})
	if o := s.Organization(); !o.RetentionNotSet || o.AuditRetentionPeriodV2 != 0 {
		t.Fatalf("organization = %+v, want retention not set", o)
	}
	row := callAPI(t, s, http.MethodGet, "organizations?$select=auditretentionperiodv2", token, nil, nil).json(t)["value"].([]any)[0].(map[string]any)
	if v, ok := row["auditretentionperiodv2"]; !ok || v != nil {
		t.Fatalf("auditretentionperiodv2 = %v (present %v), want null", v, ok)
	}

	path := "organizations(" + s.OrganizationID() + ")"
	if r := callAPI(t, s, http.MethodPatch, path, token, `{"auditretentionperiodv2":90}`, nil); r.status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	if o := s.Organization(); o.RetentionNotSet || o.AuditRetentionPeriodV2 != 90 {
		t.Errorf("after PATCH: %+v", o)
	}
	rows := s.AuditRecords()
	if len(rows) != 1 || rows[0].OldValues["auditretentionperiodv2"] != nil || rows[0].NewValues["auditretentionperiodv2"] != 90 {
		t.Errorf("audit rows = %+v", rows)
	}

	// An administrator can clear it again (the test's way back to null).
	s.UpdateOrganization(func(o *Organization) { o.RetentionNotSet = true })
	if o := s.Organization(); !o.RetentionNotSet {
		t.Errorf("UpdateOrganization did not clear the retention: %+v", o)
	}
}

// The organization table reference gives useraccessauditinginterval
// MinValue 0.
func TestOrganizationIntervalZero(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	path := "organizations(" + s.OrganizationID() + ")"
	if r := callAPI(t, s, http.MethodPatch, path, token, `{"useraccessauditinginterval":0}`, nil); r.status != http.StatusNoContent {
		t.Fatalf("PATCH interval 0: %d %s", r.status, r.body)
	}
	if o := s.Organization(); o.UserAccessAuditingInterval != 0 {
		t.Errorf("interval = %d", o.UserAccessAuditingInterval)
	}
}

// MaxRetentionDays models a service that enforces the admin center's
// maximum (24855 days).
func TestOrganizationMaxRetentionDays(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{MaxRetentionDays: 24855})
	path := "organizations(" + s.OrganizationID() + ")"
	r := callAPI(t, s, http.MethodPatch, path, token, `{"auditretentionperiodv2":24856}`, nil)
	code, msg := r.odataError(t)
	if r.status != http.StatusBadRequest || code != "0x80040203" || !strings.Contains(msg, "1 to 24855") || !strings.Contains(msg, "'auditretentionperiodv2'") {
		t.Errorf("24856: %d %s %q", r.status, code, msg)
	}
	for _, days := range []string{"24855", "-1"} {
		if r := callAPI(t, s, http.MethodPatch, path, token, `{"auditretentionperiodv2":`+days+`}`, nil); r.status != http.StatusNoContent {
			t.Errorf("%s: %d %s", days, r.status, r.body)
		}
	}
}

// auditsettings ("Configure auditing": a JSON string of audit feature
// settings) has no documented default: a new environment reports null; the
// documented self-serve example is stored as sent and audited as a setting.
func TestOrganizationAuditSettingsColumn(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	row := callAPI(t, s, http.MethodGet, "organizations?$select=auditsettings", token, nil, nil).json(t)["value"].([]any)[0].(map[string]any)
	if v, ok := row["auditsettings"]; !ok || v != nil {
		t.Fatalf("auditsettings = %v (present %v), want null", v, ok)
	}
	const documented = `{"StoreLabelNameforPicklistAudits":true}`
	path := "organizations(" + s.OrganizationID() + ")"
	if r := callAPI(t, s, http.MethodPatch, path, token, `{"auditsettings":"{\"StoreLabelNameforPicklistAudits\":true}"}`, nil); r.status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	if got := s.Organization().AuditSettings; got != documented {
		t.Errorf("AuditSettings = %q, want %q", got, documented)
	}
	rows := s.AuditRecords()
	if len(rows) != 1 || rows[0].Action != ActionAuditChangeAtOrgLevel || rows[0].NewValues["auditsettings"] != documented {
		t.Errorf("audit rows = %+v", rows)
	}
	s.UpdateOrganization(func(o *Organization) { o.AuditSettings = "" })
	row = callAPI(t, s, http.MethodGet, "organizations?$select=auditsettings", token, nil, nil).json(t)["value"].([]any)[0].(map[string]any)
	if v := row["auditsettings"]; v != nil {
		t.Errorf("after clearing: auditsettings = %v, want null", v)
	}
}
