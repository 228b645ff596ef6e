package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

func runSetCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"set"}, args...), &out, &errOut)
	return strings.TrimSpace(out.String()), err
}

func TestSetOrganization(t *testing.T) {
	t.Parallel()
	srv := acctest.StartEmulator(t, emulator.Options{ControlKey: "k"})
	envFile := controlEnvFile(t, srv, "s", "k")
	out, err := runSetCommand(t, "-env-file", envFile, "org", "audit_enabled=false", "retention_period_days=-1")
	if err != nil {
		t.Fatal(err)
	}
	if o := srv.Organization(); o.IsAuditEnabled || o.AuditRetentionPeriodV2 != -1 {
		t.Errorf("organization = %+v", o)
	}
	if !strings.HasPrefix(out, "organization: audit_enabled=false ") || !strings.Contains(out, " retention_period_days=-1 ") {
		t.Errorf("output %q", out)
	}
	// Behind Terraform's back: an administrator's change, not a Web API request.
	if srv.WriteCount() != 0 {
		t.Errorf("set was counted as %d Web API writes", srv.WriteCount())
	}
	if _, err := runSetCommand(t, "-env-file", envFile, "org", "audit_enabled=true", "-publish"); err == nil || !strings.Contains(err.Error(), "-publish applies to tables and columns only") {
		t.Errorf("org -publish: %v", err)
	}
}

// TestSetTableSavedThenPublished: flags after the settings, as in
// "set table account audit_enabled=true -publish"; without -publish the
// change is saved, not published.
func TestSetTableSavedThenPublished(t *testing.T) {
	t.Parallel()
	srv := acctest.StartEmulator(t, emulator.Options{ControlKey: "k"})
	envFile := controlEnvFile(t, srv, "s", "k")
	if err := srv.UpdateEntityAudit("account", func(st *emulator.EntityAuditState) {
		st.IsAuditEnabled, st.IsRetrieveAuditEnabled = false, false
	}); err != nil {
		t.Fatal(err)
	}
	out, err := runSetCommand(t, "-env-file", envFile, "table", "account", "audit_enabled=true")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "(saved, not published: add -publish to publish)") {
		t.Errorf("output %q", out)
	}
	if pub, _ := srv.PublishedEntityAudit("account"); pub.IsAuditEnabled {
		t.Error("published without -publish")
	}
	out, err = runSetCommand(t, "table", "account", "audit_enabled=true", "retrieve_audit_enabled=true", "-publish", "-env-file", envFile)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := srv.PublishedEntityAudit("account")
	if !pub.IsAuditEnabled || !pub.IsRetrieveAuditEnabled || !strings.HasSuffix(out, "(published)") {
		t.Errorf("published %+v, output %q", pub, out)
	}
}

func TestSetColumn(t *testing.T) {
	t.Parallel()
	srv := acctest.StartEmulator(t, emulator.Options{ControlKey: "k"})
	envFile := controlEnvFile(t, srv, "s", "k")
	out, err := runSetCommand(t, "-env-file", envFile, "column", "account.name", "audit_enabled=false", "-publish")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := srv.PublishedEntityAudit("account")
	if pub.Attributes["name"].IsAuditEnabled || out != "column account.name: audit_enabled=false can_be_changed=true (published)" {
		t.Errorf("column %+v, output %q", pub.Attributes["name"], out)
	}
}

func TestSetRefusals(t *testing.T) {
	t.Parallel()
	srv := acctest.StartEmulator(t, emulator.Options{ControlKey: "k"})
	envFile := controlEnvFile(t, srv, "s", "k")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-env-file", envFile}, "set needs a target"},
		{[]string{"-env-file", envFile, "tables", "account"}, `unknown target "tables"`},
		{[]string{"-env-file", envFile, "table", "audit_enabled=true"}, "set table needs the table's logical name"},
		{[]string{"-env-file", envFile, "column", "name", "audit_enabled=true"}, "set column needs TABLE.COLUMN"},
		{[]string{"-env-file", envFile, "org", "audit_enabled"}, `"audit_enabled" is not name=value`},
		{[]string{"-env-file", envFile, "org", "audit_enabled=true", "audit_enabled=false"}, "audit_enabled is given twice"},
		{[]string{"-env-file", envFile, "org", "audit_enabled=maybe"}, "audit_enabled=maybe: want true or false"},
		{[]string{"-env-file", envFile, "table", "acount", "audit_enabled=true"}, "did you mean account?"},
		{[]string{"-env-file", envFile, "column", "account.nme", "audit_enabled=true"}, "did you mean name?"},
		{[]string{"org", "audit_enabled=true"}, "set needs -env-file"},
		{[]string{"-env-file", envFile + ".missing", "org", "audit_enabled=true"}, "is the emulator running?"},
	} {
		if _, err := runSetCommand(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
