package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

func TestAccOrganizationAuditSettingsDataSource(t *testing.T) {
	env := acctest.NewEnv(t)
	env.Emulator.UpdateOrganization(func(o *emulator.Organization) {
		o.IsAuditEnabled = true
		o.AuditRetentionPeriodV2 = 2555
		o.UserAccessAuditingInterval = 6
		o.AuditSettings = `{"StoreLabelNameforPicklistAudits":true}`
	})
	addr := "data.dynamics365_organization_audit_settings.this"
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + `data "dynamics365_organization_audit_settings" "this" {}`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(env.Emulator.OrganizationID())),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("audit_enabled"), knownvalue.Bool(true)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("user_access_audit_enabled"), knownvalue.Bool(false)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("read_audit_enabled"), knownvalue.Bool(false)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("retention_period_days"), knownvalue.Int64Exact(2555)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("user_access_audit_interval_hours"), knownvalue.Int64Exact(6)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("audit_settings_json"), knownvalue.StringExact(`{"StoreLabelNameforPicklistAudits":true}`)),
		},
	}})
}

// The filters of dynamics365_entities, checked against an oracle computed
// from the emulator's catalogue.
func TestAccEntitiesDataSource(t *testing.T) {
	env := acctest.NewEnv(t)
	all := env.Emulator.EntityNames()
	oracle := func(keep func(name string, st emulator.EntityAuditState) bool) []string {
		out := []string{}
		for _, n := range all {
			st, _ := env.Emulator.EntityAudit(n)
			if keep(n, st) {
				out = append(out, n)
			}
		}
		return out
	}
	sales := []string{"competitor", "invoice", "opportunity", "quote", "salesorder"}
	audited := oracle(func(_ string, st emulator.EntityAuditState) bool { return st.IsAuditEnabled })
	customUnaudited := oracle(func(n string, st emulator.EntityAuditState) bool {
		return strings.HasPrefix(n, "new_") && !st.IsAuditEnabled
	})
	if len(audited) == 0 || len(customUnaudited) == 0 || len(audited) == len(all) {
		t.Fatalf("the catalogue does not exercise the filters: %d audited, %d custom unaudited of %d", len(audited), len(customUnaudited), len(all))
	}
	// A column of account saved but not published: has_unpublished_audit_changes
	// comes from the columns of the tables returned.
	if st, _ := env.Emulator.EntityAudit("account"); len(st.Attributes) == 0 {
		t.Fatal("account has no columns")
	} else if _, ok := st.Attributes["name"]; !ok {
		t.Fatal("account has no column name")
	}
	if err := env.Emulator.SaveEntityAudit("account", func(a *emulator.EntityAuditState) {
		c := a.Attributes["name"]
		c.IsAuditEnabled = !c.IsAuditEnabled
		a.Attributes["name"] = c
	}); err != nil {
		t.Fatal(err)
	}
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + `
data "dynamics365_entities" "all" {}
data "dynamics365_entities" "sales" {
  area = "sales"
}
data "dynamics365_entities" "audited" {
  audit_enabled = true
}
data "dynamics365_entities" "custom_unaudited" {
  custom_only   = true
  audit_enabled = false
}
data "dynamics365_entities" "named" {
  logical_names = ["uom", "account"]
}
data "dynamics365_entities" "none" {
  logical_names = []
}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("data.dynamics365_entities.all", tfjsonpath.New("names"), stringList(all)),
			statecheck.ExpectKnownValue("data.dynamics365_entities.sales", tfjsonpath.New("names"), stringList(sales)),
			statecheck.ExpectKnownValue("data.dynamics365_entities.audited", tfjsonpath.New("names"), stringList(audited)),
			statecheck.ExpectKnownValue("data.dynamics365_entities.custom_unaudited", tfjsonpath.New("names"), stringList(customUnaudited)),
			statecheck.ExpectKnownValue("data.dynamics365_entities.none", tfjsonpath.New("names"), stringList(nil)),
			statecheck.ExpectKnownValue("data.dynamics365_entities.named", tfjsonpath.New("entities"), knownvalue.ListExact([]knownvalue.Check{
				knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"logical_name": knownvalue.StringExact("account"), "display_name": knownvalue.StringExact("Account"),
					"audit_can_be_changed": knownvalue.Bool(true), "is_custom": knownvalue.Bool(false),
					"has_unpublished_audit_changes": knownvalue.Bool(true),
				}),
				knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"logical_name": knownvalue.StringExact("uom"), "audit_can_be_changed": knownvalue.Bool(false),
					"has_unpublished_audit_changes": knownvalue.Bool(false),
				}),
			})),
		},
	}})
}

func stringList(values []string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(values))
	for i, v := range values {
		checks[i] = knownvalue.StringExact(v)
	}
	return knownvalue.ListExact(checks)
}

// auditIDs is a state check that compares the ids of an audit_records data
// source with the oracle (as sets) and checks newest-first order.
type auditIDs struct {
	addr      string
	want      []string
	truncated bool
}

func (c auditIDs) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	records, truncated, err := auditRecordsState(req.State, c.addr)
	if err != nil {
		resp.Error = err
		return
	}
	got := make([]string, 0, len(records))
	var prev string
	for i, r := range records {
		m := r.(map[string]any)
		got = append(got, m["id"].(string))
		created := m["created_on"].(string)
		if i > 0 && created > prev {
			resp.Error = fmt.Errorf("%s: record %d (%s) is newer than the one before (%s): not newest first", c.addr, i, created, prev)
			return
		}
		prev = created
	}
	want := slices.Clone(c.want)
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		resp.Error = fmt.Errorf("%s: %d records, want %d (first difference in %s)", c.addr, len(got), len(want), firstDiff(got, want))
		return
	}
	if truncated != c.truncated {
		resp.Error = fmt.Errorf("%s: truncated = %t, want %t", c.addr, truncated, c.truncated)
	}
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("position %d: %s vs %s", i, a[i], b[i])
		}
	}
	return "length"
}

// auditRecordsState is the records and the truncated flag of the
// audit_records data source at addr in the state.
func auditRecordsState(state *tfjson.State, addr string) (records []any, truncated bool, err error) {
	attrs, err := resourceAttributes(state, addr)
	if err != nil {
		return nil, false, err
	}
	records, _ = attrs["records"].([]any)
	truncated, _ = attrs["truncated"].(bool)
	return records, truncated, nil
}

func resourceAttributes(state *tfjson.State, addr string) (map[string]any, error) {
	if state == nil || state.Values == nil || state.Values.RootModule == nil {
		return nil, fmt.Errorf("no state")
	}
	for _, r := range state.Values.RootModule.Resources {
		if r.Address == addr {
			return r.AttributeValues, nil
		}
	}
	return nil, fmt.Errorf("%s not in state", addr)
}

// Every filter of dynamics365_audit_records against an oracle computed in
// the test from the emulator's rows.
func TestAccAuditRecordsDataSource_filters(t *testing.T) {
	env := acctest.NewEnv(t)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	env.Emulator.SeedAuditHistory(3000, from, to, 7)
	rows := env.Emulator.AuditRecords()

	// Pick real values from the seeded rows so every filter matches something.
	var table, record, user string
	for _, r := range rows {
		if r.Operation == 2 && r.ObjectTypeCode != "" {
			table, record, user = r.ObjectTypeCode, r.ObjectID, r.UserID
			break
		}
	}
	winFrom := rows[len(rows)/3].CreatedOn.UTC().Truncate(time.Second)
	winTo := rows[2*len(rows)/3].CreatedOn.UTC().Truncate(time.Second)
	ids := func(keep func(r emulator.AuditRecord) bool) []string {
		out := []string{}
		for _, r := range rows {
			if keep(r) {
				out = append(out, r.AuditID)
			}
		}
		return out
	}
	inWindow := func(r emulator.AuditRecord) bool {
		c := r.CreatedOn.UTC().Truncate(time.Second)
		return !c.Before(winFrom) && !c.After(winTo)
	}
	cases := map[string]struct {
		hcl  string
		keep func(r emulator.AuditRecord) bool
	}{
		"window": {fmt.Sprintf("from = %q\n  to = %q", winFrom.Format(time.RFC3339), winTo.Format(time.RFC3339)), inWindow},
		"table_updates": {fmt.Sprintf("entity_logical_name = %q\n  operations = [\"update\"]", table),
			func(r emulator.AuditRecord) bool { return r.ObjectTypeCode == table && r.Operation == 2 }},
		"record": {fmt.Sprintf("record_id = %q", record), func(r emulator.AuditRecord) bool { return r.ObjectID == record }},
		"user_creates_deletes": {fmt.Sprintf("user_id = %q\n  actions = [\"create\", \"3\"]", user),
			func(r emulator.AuditRecord) bool { return r.UserID == user && (r.Action == 1 || r.Action == 3) }},
		"user_in_window": {fmt.Sprintf("user_id = %q\n  from = %q\n  to = %q", user, winFrom.Format(time.RFC3339), winTo.Format(time.RFC3339)),
			func(r emulator.AuditRecord) bool { return r.UserID == user && inWindow(r) }},
	}
	var cfg strings.Builder
	cfg.WriteString(env.ProviderConfig())
	var checks []statecheck.StateCheck
	for name, c := range cases {
		want := ids(c.keep)
		if len(want) == 0 || len(want) > 5000 {
			t.Fatalf("case %s: oracle has %d rows; the seed does not exercise it", name, len(want))
		}
		fmt.Fprintf(&cfg, "data \"dynamics365_audit_records\" %q {\n  %s\n  limit = 5000\n}\n", name, c.hcl)
		checks = append(checks, auditIDs{addr: "data.dynamics365_audit_records." + name, want: want})
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps:                    []resource.TestStep{{Config: cfg.String(), ConfigStateChecks: checks}},
	})
}

// 12,000 rows, limit 8,000: exactly 8,000 come back and truncated is set.
func TestAccAuditRecordsDataSource_limit(t *testing.T) {
	env := acctest.NewEnv(t)
	env.Emulator.SeedAuditHistory(12000, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 11)
	addr := "data.dynamics365_audit_records.all"
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + `
data "dynamics365_audit_records" "all" {
  limit = 8000
}
output "count" {
  value = length(data.dynamics365_audit_records.all.records)
}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("truncated"), knownvalue.Bool(true)),
			statecheck.ExpectKnownOutputValue("count", knownvalue.Int64Exact(8000)),
		},
	}})
}

// Old and new values: RetrieveAuditDetails in $batch, for a table search and
// a record search alike; both must agree with what the simulation changed.
func TestAccAuditRecordsDataSource_changes(t *testing.T) {
	env := acctest.NewEnv(t)
	user := auditedTable(t, env, "account", "name", "revenue", "creditonhold", "industrycode")
	at := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	id, err := env.Emulator.SimulateCreate(at, user, "account", map[string]any{"name": "Contoso", "revenue": 88800, "industrycode": 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Emulator.SimulateUpdate(at.Add(time.Minute), user, "account", id, map[string]any{"revenue": 99900, "creditonhold": true}); err != nil {
		t.Fatal(err)
	}
	expectUpdate := func(addr string) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(addr, tfjsonpath.New("records").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"action_name": knownvalue.StringExact("update"),
			"operation":   knownvalue.StringExact("update"),
			"record_id":   knownvalue.StringExact(id),
			"user_name":   knownvalue.StringExact("Avery Auditor"),
			"changes": knownvalue.ListExact([]knownvalue.Check{
				knownvalue.ObjectExact(map[string]knownvalue.Check{
					"attribute": knownvalue.StringExact("creditonhold"), "old_value": knownvalue.Null(), "new_value": knownvalue.StringExact("true"),
				}),
				knownvalue.ObjectExact(map[string]knownvalue.Check{
					"attribute": knownvalue.StringExact("revenue"), "old_value": knownvalue.StringRegexp(regexpMust(`^88800(\.0+)?$`)),
					"new_value": knownvalue.StringRegexp(regexpMust(`^99900(\.0+)?$`)),
				}),
			}),
		}))
	}
	expectCreate := func(addr string) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(addr, tfjsonpath.New("records").AtSliceIndex(1), knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"action_name": knownvalue.StringExact("create"),
			"changes": knownvalue.ListPartial(map[int]knownvalue.Check{
				0: knownvalue.ObjectExact(map[string]knownvalue.Check{
					"attribute": knownvalue.StringExact("industrycode"), "old_value": knownvalue.Null(), "new_value": knownvalue.StringExact("1"),
				}),
				1: knownvalue.ObjectExact(map[string]knownvalue.Check{
					"attribute": knownvalue.StringExact("name"), "old_value": knownvalue.Null(), "new_value": knownvalue.StringExact("Contoso"),
				}),
			}),
		}))
	}
	parallelSteps(t, []resource.TestStep{{
		PreConfig: env.Emulator.ResetCounters,
		Config: env.ProviderConfig() + fmt.Sprintf(`
data "dynamics365_audit_records" "table" {
  entity_logical_name = "account"
  include_changes     = true
}
data "dynamics365_audit_records" "record" {
  record_id       = %q
  include_changes = true
}
`, id),
		ConfigStateChecks: []statecheck.StateCheck{
			expectUpdate("data.dynamics365_audit_records.table"), expectCreate("data.dynamics365_audit_records.table"),
			expectUpdate("data.dynamics365_audit_records.record"), expectCreate("data.dynamics365_audit_records.record"),
		},
	}})
	if env.Emulator.RequestCount("POST $batch") == 0 || env.Emulator.RequestCount("GET RetrieveRecordChangeHistory") != 0 {
		t.Errorf("expected RetrieveAuditDetails in $batch for both searches: %v", env.Emulator.Requests())
	}
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// auditedTable turns on organization auditing and the auditing of table and
// columns, and adds the user whose simulated actions a test then reads back.
func auditedTable(t *testing.T, env *acctest.Env, table string, columns ...string) emulator.SimUser {
	t.Helper()
	env.Emulator.UpdateOrganization(func(o *emulator.Organization) { o.IsAuditEnabled = true })
	err := env.Emulator.UpdateEntityAudit(table, func(s *emulator.EntityAuditState) {
		s.IsAuditEnabled = true
		for _, col := range columns {
			a := s.Attributes[col]
			a.IsAuditEnabled = true
			s.Attributes[col] = a
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return env.Emulator.AddUser("Avery Auditor")
}
