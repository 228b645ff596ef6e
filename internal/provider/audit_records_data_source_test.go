package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// A misspelt table is an error that proposes the right name, in the audit
// search (which used to return no records) and in the table list alike.
func TestAccAuditRecordsDataSource_misspeltTable(t *testing.T) {
	env := acctest.NewEnv(t)
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + `
data "dynamics365_audit_records" "typo" {
  entity_logical_name = "acount"
}
`,
		ExpectError: phrases(`entity_logical_name`, `no table named "acount"`, `no records about it`, `Did you mean account?`),
	}, {
		Config: env.ProviderConfig() + `
data "dynamics365_entities" "typo" {
  logical_names = ["acount", "contcat"]
}
`,
		ExpectError: phrases(`logical_names`, `For "acount", did you mean account?`, `For "contcat", did you mean contact or`),
	}})
}

// A table the environment no longer has but the audit trail still knows (a
// deleted custom table keeps its history): its records come back, with a
// warning, as terraform prints it.
func TestAccAuditRecordsDataSource_deletedTableCLI(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnv(t)
	env.Emulator.SeedAuditHistory(600, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 5)
	want := 0
	for _, r := range env.Emulator.AuditRecords() {
		if r.ObjectTypeCode == "new_project" {
			want++
		}
	}
	if want == 0 {
		t.Fatal("the seed wrote no new_project rows")
	}
	if err := env.Emulator.DeleteTable("new_project"); err != nil {
		t.Fatal(err)
	}
	tf, _ := acctest.CLIWorkdir(t, acctest.BuildProvider(t), env.ProviderConfig()+`
data "dynamics365_audit_records" "deleted" {
  entity_logical_name = "new_project"
  limit               = 5000
}
output "count" {
  value = length(data.dynamics365_audit_records.deleted.records)
}
`)
	var out bytes.Buffer
	tf.SetStdout(&out)
	tf.SetStderr(&out)
	ctx := context.Background()
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if !phrases("Warning: Table not in the environment", `no table named "new_project"`,
		"the audit trail has "+strconv.Itoa(want)+" records about it", "they are returned").MatchString(out.String()) {
		t.Errorf("apply output has no warning about the deleted table:\n%s", out.String())
	}
	outputs, err := tf.Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(outputs["count"].Value); got != strconv.Itoa(want) {
		t.Errorf("records = %s, want %d", got, want)
	}
}

// Without filters the id is the canonical form of the default arguments,
// and the same in the next plan, which is empty.
func TestAccAuditRecordsDataSource_id(t *testing.T) {
	env := acctest.NewEnv(t)
	config := env.ProviderConfig() + `
data "dynamics365_audit_records" "all" {}
data "dynamics365_audit_records" "filtered" {
  operations = ["update", "create"]
  actions    = ["104", "create"]
  from       = "2026-01-01T01:00:00+01:00"
}
output "id" {
  value = data.dynamics365_audit_records.all.id
}
`
	parallelSteps(t, []resource.TestStep{{
		Config: config,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownOutputValue("id", knownvalue.StringExact("audits?limit=1000")),
			statecheck.ExpectKnownValue("data.dynamics365_audit_records.filtered", tfjsonpath.New("id"),
				knownvalue.StringExact("audits?actions=1,104&from=2026-01-01T00:00:00Z&limit=1000&operations=create,update")),
		},
	}, {
		Config:            config,
		ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
		ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownOutputValue("id", knownvalue.StringRegexp(regexp.MustCompile(`^audits\?limit=1000$`)))},
	}})
}

// historyRowsPerRecord is more than one page of audits (5000 rows), so the
// record's rows span two pages of the audit trail and six $batch requests.
const historyRowsPerRecord = 5101

// auditValueCap is the documented cap of an audit detail value: about 5,000
// characters, a capped value ending in three dots ("Retrieve the history
// of audited data changes").
const auditValueCap = 5000

// One record's history, with record_id: every row of that record (more than
// a page), each with the same id, time, action, user and old/new values as
// the emulator's audit trail holds, long values capped. Real Dataverse
// returns no AuditRecord in RetrieveRecordChangeHistory details, so this
// cannot be read from the record history call.
func TestAccAuditRecordsDataSource_recordHistoryPages(t *testing.T) {
	env := acctest.NewEnv(t)
	user := auditedTable(t, env, "email", "subject", "description")
	at := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	id, err := env.Emulator.SimulateCreate(at, user, "email", map[string]any{"subject": "Quarterly report", "description": strings.Repeat("x", 6000)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := env.Emulator.SimulateCreate(at, user, "email", map[string]any{"subject": "Other"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < historyRowsPerRecord; i++ {
		values := map[string]any{"subject": fmt.Sprint("Quarterly report v", i)}
		switch i % 1000 {
		case 1: // just over the cap, with characters outside ASCII
			values["description"] = strings.Repeat("é", auditValueCap+i/1000)
		case 2: // exactly at the cap: not cut
			values["description"] = strings.Repeat("d", auditValueCap)
		}
		if err := env.Emulator.SimulateUpdate(at.Add(time.Duration(i)*time.Second), user, "email", id, values); err != nil {
			t.Fatal(err)
		}
		if i%2000 == 0 {
			if err := env.Emulator.SimulateUpdate(at.Add(time.Duration(i)*time.Second), user, "email", other, map[string]any{"subject": fmt.Sprint("Other ", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want, wantCreates []emulator.AuditRecord
	for _, r := range env.Emulator.AuditRecords() {
		if r.ObjectID == id {
			want = append(want, r)
			if r.Operation == emulator.OperationCreate {
				wantCreates = append(wantCreates, r)
			}
		}
	}
	if len(want) != historyRowsPerRecord {
		t.Fatalf("the emulator holds %d rows of the record, want %d", len(want), historyRowsPerRecord)
	}
	parallelSteps(t, []resource.TestStep{{
		PreConfig: env.Emulator.ResetCounters,
		Config: env.ProviderConfig() + fmt.Sprintf(`
data "dynamics365_audit_records" "record" {
  record_id       = %[1]q
  include_changes = true
  limit           = 6000
}
data "dynamics365_audit_records" "record_creates" {
  record_id       = %[1]q
  operations      = ["create"]
  include_changes = true
}
`, id),
		ConfigStateChecks: []statecheck.StateCheck{
			auditRowsMatch{addr: "data.dynamics365_audit_records.record", want: want},
			auditRowsMatch{addr: "data.dynamics365_audit_records.record_creates", want: wantCreates},
		},
	}})
	if n := env.Emulator.RequestCount("GET RetrieveRecordChangeHistory"); n != 0 {
		t.Errorf("RetrieveRecordChangeHistory called %d times; its details carry no AuditRecord", n)
	}
}

// auditRowsMatch is a state check comparing every record of an audit_records
// data source, in order (newest first), with the emulator's rows: id, time,
// action, operation, user and each changed column's old and new value.
type auditRowsMatch struct {
	addr string
	want []emulator.AuditRecord // in insertion order
}

func (c auditRowsMatch) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	records, truncated, err := auditRecordsState(req.State, c.addr)
	if err != nil {
		resp.Error = err
		return
	}
	// Newest first; rows of one second newest insertion first.
	want := slices.Clone(c.want)
	slices.Reverse(want)
	sort.SliceStable(want, func(i, j int) bool { return want[i].CreatedOn.After(want[j].CreatedOn) })
	if len(records) != len(want) {
		resp.Error = fmt.Errorf("%s: %d records, want %d", c.addr, len(records), len(want))
		return
	}
	if truncated {
		resp.Error = fmt.Errorf("%s: truncated, want every row", c.addr)
		return
	}
	for i, raw := range records {
		got := raw.(map[string]any)
		if msg := compareAuditRow(got, want[i]); msg != "" {
			resp.Error = fmt.Errorf("%s: record %d (%s): %s", c.addr, i, want[i].AuditID, msg)
			return
		}
	}
}

func compareAuditRow(got map[string]any, w emulator.AuditRecord) string {
	scalars := map[string]string{
		"id":         w.AuditID,
		"created_on": w.CreatedOn.UTC().Format(time.RFC3339),
		"record_id":  w.ObjectID,
		"user_id":    w.UserID,
		"operation":  map[int]string{1: "create", 2: "update", 3: "delete", 4: "access"}[w.Operation],
	}
	for k, v := range scalars {
		if got[k] != v {
			return fmt.Sprintf("%s = %v, want %s", k, got[k], v)
		}
	}
	if fmt.Sprint(got["action"]) != strconv.Itoa(w.Action) {
		return fmt.Sprintf("action = %v, want %d", got["action"], w.Action)
	}
	changes, _ := got["changes"].([]any)
	attrs := map[string]bool{}
	for k := range w.OldValues {
		attrs[k] = true
	}
	for k := range w.NewValues {
		attrs[k] = true
	}
	if len(changes) != len(attrs) {
		return fmt.Sprintf("%d changes, want %d (%v)", len(changes), len(attrs), attrs)
	}
	for _, raw := range changes {
		ch := raw.(map[string]any)
		name, _ := ch["attribute"].(string)
		if !attrs[name] {
			return fmt.Sprintf("unexpected change of %q", name)
		}
		for side, values := range map[string]map[string]any{"old_value": w.OldValues, "new_value": w.NewValues} {
			want, present := renderTruth(values[name])
			gotValue, gotPresent := ch[side].(string)
			if gotPresent != present || gotValue != want {
				return fmt.Sprintf("%s.%s = …%q (%d chars), want …%q (%d chars)", name, side,
					tail(gotValue), utf8.RuneCountInString(gotValue), tail(want), utf8.RuneCountInString(want))
			}
		}
	}
	return ""
}

// renderTruth renders an emulator value as the provider shows it; a string
// over the documented cap is cut so that it ends in three dots and is
// auditValueCap characters long.
func renderTruth(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		if utf8.RuneCountInString(x) > auditValueCap {
			r := []rune(x)
			return string(r[:auditValueCap-3]) + "...", true
		}
		return x, true
	default:
		return fmt.Sprint(x), true
	}
}

// tail is the last ten characters of s, where a cap shows.
func tail(s string) string {
	r := []rune(s)
	return string(r[max(len(r)-10, 0):])
}
