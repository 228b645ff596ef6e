package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// postSet sends a SetRequest to the control endpoint.
func postSet(t *testing.T, s *Server, key string, req SetRequest) (int, SetResponse, string) {
	t.Helper()
	body, _ := json.Marshal(req)
	hreq, _ := http.NewRequest(http.MethodPost, s.EnvironmentURL()+ControlSetPath, bytes.NewReader(body))
	hreq.Header.Set(ControlKeyHeader, key)
	resp, err := s.HTTPClient().Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	var out SetResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return resp.StatusCode, out, string(raw)
	}
	var e struct{ Error string }
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, out, e.Error
}

func TestControlSetOrganization(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{ControlKey: "k"})
	rows := len(s.AuditRecords())
	status, resp, raw := postSet(t, s, "k", SetRequest{Target: SetTargetOrganization, Settings: map[string]string{
		"audit_enabled": "false", "retention_period_days": "null", "user_access_audit_interval_hours": "6",
	}})
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, raw)
	}
	o := s.Organization()
	if o.IsAuditEnabled || !o.RetentionNotSet || o.UserAccessAuditingInterval != 6 {
		t.Errorf("organization = %+v", o)
	}
	if resp.Settings["audit_enabled"] != "false" || resp.Settings["retention_period_days"] != "null" {
		t.Errorf("response = %+v", resp)
	}
	if len(s.AuditRecords()) == rows {
		t.Error("no audit row for the organization change")
	}
	if s.WriteCount() != 0 || len(s.Requests()) != 0 {
		t.Errorf("the control request was counted: %v", s.Requests())
	}
	if status, _, raw := postSet(t, s, "wrong", SetRequest{Target: SetTargetOrganization, Settings: map[string]string{"audit_enabled": "true"}}); status != http.StatusUnauthorized {
		t.Errorf("wrong key: %d %s", status, raw)
	}
}

func TestControlSetTableSavedThenPublished(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{ControlKey: "k"})
	before, _ := s.PublishedEntityAudit("account")
	want := !before.IsRetrieveAuditEnabled
	status, resp, raw := postSet(t, s, "k", SetRequest{Target: SetTargetTable, Table: "account", Settings: map[string]string{
		"retrieve_audit_enabled": map[bool]string{true: "true", false: "false"}[want],
	}})
	if status != http.StatusOK || !resp.Unpublished {
		t.Fatalf("%d %s", status, raw)
	}
	if saved, _ := s.EntityAudit("account"); saved.IsRetrieveAuditEnabled != want {
		t.Error("not saved")
	}
	if pub, _ := s.PublishedEntityAudit("account"); pub.IsRetrieveAuditEnabled != before.IsRetrieveAuditEnabled {
		t.Error("published without -publish")
	}
	// Publish alone publishes what is saved.
	status, resp, raw = postSet(t, s, "k", SetRequest{Target: SetTargetTable, Table: "account", Publish: true})
	if status != http.StatusOK || resp.Unpublished {
		t.Fatalf("%d %s", status, raw)
	}
	if pub, _ := s.PublishedEntityAudit("account"); pub.IsRetrieveAuditEnabled != want {
		t.Error("not published")
	}
}

func TestControlSetColumn(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{ControlKey: "k"})
	status, resp, raw := postSet(t, s, "k", SetRequest{Target: SetTargetColumn, Table: "account", Column: "name", Publish: true,
		Settings: map[string]string{"audit_enabled": "false", "can_be_changed": "false"}})
	if status != http.StatusOK || resp.Settings["audit_enabled"] != "false" || resp.Settings["can_be_changed"] != "false" || resp.Unpublished {
		t.Fatalf("%d %s", status, raw)
	}
	pub, _ := s.PublishedEntityAudit("account")
	if c := pub.Attributes["name"]; c.IsAuditEnabled || c.CanBeChanged {
		t.Errorf("published column = %+v", c)
	}
}

func TestControlSetRefusals(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{ControlKey: "k"})
	for _, tc := range []struct {
		req  SetRequest
		want string
	}{
		{SetRequest{Target: "org"}, `unknown target "org"`},
		{SetRequest{Target: SetTargetOrganization}, "no setting given"},
		{SetRequest{Target: SetTargetOrganization, Settings: map[string]string{"auditenabled": "true"}}, `unknown organization setting "auditenabled": use audit_enabled`},
		{SetRequest{Target: SetTargetOrganization, Settings: map[string]string{"audit_enabled": "yes"}}, "audit_enabled=yes: want true or false"},
		{SetRequest{Target: SetTargetOrganization, Settings: map[string]string{"retention_period_days": "0"}}, "want -1 (forever), 1 to 365000 days, or null"},
		{SetRequest{Target: SetTargetOrganization, Publish: true, Settings: map[string]string{"audit_enabled": "true"}}, "-publish applies to tables and columns only"},
		{SetRequest{Target: SetTargetTable, Table: "acount", Settings: map[string]string{"audit_enabled": "true"}}, `no table "acount" in the emulated environment (did you mean account?)`},
		{SetRequest{Target: SetTargetColumn, Table: "account", Column: "nme", Settings: map[string]string{"audit_enabled": "true"}}, `table "account" has no column "nme" (did you mean name?)`},
		{SetRequest{Target: SetTargetTable, Table: "account", Settings: map[string]string{"read_audit_enabled": "true"}}, `unknown table setting "read_audit_enabled"`},
	} {
		status, _, raw := postSet(t, s, "k", tc.req)
		if status != http.StatusBadRequest || !strings.Contains(raw, tc.want) {
			t.Errorf("%+v: %d %s, want %q", tc.req, status, raw, tc.want)
		}
	}
	if s.Organization().IsAuditEnabled != startServer(t, Options{}).Organization().IsAuditEnabled {
		t.Error("a refused request changed the organization")
	}
}
