package provider_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const deletionAddr = "dynamics365_audit_log_deletion.this"

var deletionCut = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

// deletionEnv is an emulator whose bulk delete jobs take 200 ms, with rows
// audit rows seeded over 2025.
func deletionEnv(t *testing.T, rows int, opts ...emulator.ClientOption) *acctest.Env {
	t.Helper()
	env := acctest.NewEnvWithOptions(t, emulator.Options{AuditDeletionJobDelay: 200 * time.Millisecond}, opts...)
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	env.Emulator.SeedAuditHistory(rows, from, from.AddDate(1, 0, 0), 5)
	return env
}

// rowsWhere counts the emulator's audit rows that match, leaving out the
// rows that record a deletion (action 111).
func rowsWhere(env *acctest.Env, match func(emulator.AuditRecord) bool) int {
	n := 0
	for _, r := range env.Emulator.AuditRecords() {
		if r.Action != emulator.ActionAuditLogDeletion && match(r) {
			n++
		}
	}
	return n
}

func before(r emulator.AuditRecord) bool { return r.CreatedOn.Before(deletionCut) }

// deletionTest plans and applies config: the plan must show matching_rows =
// want (the emulator's truth, counted before), the apply must delete
// exactly the rows match selects and keep every other row, and a second
// plan must be empty.
func deletionTest(t *testing.T, env *acctest.Env, config string, match func(emulator.AuditRecord) bool) {
	t.Helper()
	want := rowsWhere(env, match)
	others := rowsWhere(env, func(r emulator.AuditRecord) bool { return !match(r) })
	if want == 0 {
		t.Fatal("the fixture has no rows to delete")
	}
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + config,
		ConfigPlanChecks: preApply(
			plancheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("matching_rows"), knownvalue.Int64Exact(int64(want))),
			plancheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("matching_rows_is_lower_bound"), knownvalue.Bool(false)),
		),
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("deleted_rows"), knownvalue.Int64Exact(int64(want))),
			statecheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("matching_rows"), knownvalue.Int64Exact(int64(want))),
			statecheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("job_status"), knownvalue.StringExact("Succeeded")),
		},
		Check: func(*terraform.State) error {
			if left := rowsWhere(env, match); left != 0 {
				return fmt.Errorf("%d matching rows left in the emulator", left)
			}
			if got := rowsWhere(env, func(r emulator.AuditRecord) bool { return !match(r) }); got != others {
				return fmt.Errorf("other rows: %d, want %d", got, others)
			}
			return nil
		},
	}, {
		Config:           env.ProviderConfig() + config,
		ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
	}})
}

func TestAccAuditLogDeletion_tablesBefore(t *testing.T) {
	env := deletionEnv(t, 400)
	deletionTest(t, env, `
resource "dynamics365_audit_log_deletion" "this" {
  before               = "2025-07-01T00:00:00Z"
  entity_logical_names = ["account", "contact"]
}`, func(r emulator.AuditRecord) bool {
		return before(r) && (r.ObjectTypeCode == "account" || r.ObjectTypeCode == "contact")
	})
}

func TestAccAuditLogDeletion_allBefore(t *testing.T) {
	env := deletionEnv(t, 300)
	deletionTest(t, env, `
resource "dynamics365_audit_log_deletion" "this" {
  before = "2025-07-01T00:00:00Z"
}`, before)
}

func TestAccAuditLogDeletion_userAccessOnly(t *testing.T) {
	env := deletionEnv(t, 100)
	env.Emulator.UpdateOrganization(func(o *emulator.Organization) { o.IsAuditEnabled, o.IsUserAccessAuditEnabled = true, true })
	u := env.Emulator.AddUser("Robin Access")
	for i := range 4 {
		if err := env.Emulator.SimulateSignIn(deletionCut.AddDate(0, 0, 2*i-4), u, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	deletionTest(t, env, `
resource "dynamics365_audit_log_deletion" "this" {
  before                = "2025-07-01T00:00:00Z"
  user_access_logs_only = true
}`, func(r emulator.AuditRecord) bool { return before(r) && (r.Action == 64 || r.Action == 65) })
}

func TestAccAuditLogDeletion_record(t *testing.T) {
	env := deletionEnv(t, 300)
	rec := env.Emulator.AuditRecords()[0]
	deletionTest(t, env, fmt.Sprintf(`
resource "dynamics365_audit_log_deletion" "this" {
  record = {
    entity_logical_name = %q
    record_id           = %q
  }
}`, rec.ObjectTypeCode, rec.ObjectID), func(r emulator.AuditRecord) bool {
		return r.ObjectTypeCode == rec.ObjectTypeCode && r.ObjectID == rec.ObjectID
	})
}

// A table deleted since keeps its audit rows: the plan warns and the
// deletion still removes them.
func TestAccAuditLogDeletion_goneTable(t *testing.T) {
	env := deletionEnv(t, 300)
	if err := env.Emulator.DeleteTable("new_project"); err != nil {
		t.Fatal(err)
	}
	deletionTest(t, env, `
resource "dynamics365_audit_log_deletion" "this" {
  before               = "2025-07-01T00:00:00Z"
  entity_logical_names = ["new_project"]
}`, func(r emulator.AuditRecord) bool { return before(r) && r.ObjectTypeCode == "new_project" })
}

// The history of a record whose table was deleted since: the plan warns,
// and the apply still deletes the record's rows (DeleteRecordChangeHistory
// cannot name a table that is gone, so a BulkDelete does it).
func TestAccAuditLogDeletion_recordOfGoneTable(t *testing.T) {
	env := deletionEnv(t, 300)
	var rec emulator.AuditRecord
	for _, r := range env.Emulator.AuditRecords() {
		if r.ObjectTypeCode == "new_project" {
			rec = r
			break
		}
	}
	if rec.ObjectID == "" {
		t.Fatal("the fixture has no new_project rows")
	}
	if err := env.Emulator.DeleteTable("new_project"); err != nil {
		t.Fatal(err)
	}
	deletionTest(t, env, fmt.Sprintf(`
resource "dynamics365_audit_log_deletion" "this" {
  record = {
    entity_logical_name = "new_project"
    record_id           = %q
  }
}`, rec.ObjectID), func(r emulator.AuditRecord) bool {
		return r.ObjectTypeCode == "new_project" && r.ObjectID == rec.ObjectID
	})
}

// More rows than $count counts: the plan shows 5,000 as a lower bound; the
// job deletes them all.
func TestAccAuditLogDeletion_countLowerBound(t *testing.T) {
	env := deletionEnv(t, 5300)
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + `
resource "dynamics365_audit_log_deletion" "this" {
  before = "2026-01-01T00:00:00Z"
}`,
		ConfigPlanChecks: preApply(
			plancheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("matching_rows"), knownvalue.Int64Exact(5000)),
			plancheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("matching_rows_is_lower_bound"), knownvalue.Bool(true)),
		),
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(deletionAddr, tfjsonpath.New("deleted_rows"), knownvalue.Int64Exact(5300)),
		},
	}})
}

// refusedTest runs steps that must fail, then checks that the emulator still
// holds all rows audit rows.
func refusedTest(t *testing.T, env *acctest.Env, rows int, steps ...resource.TestStep) {
	t.Helper()
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps:                    steps,
	})
	if got := env.Emulator.AuditCount(); got != rows {
		t.Errorf("a refused or failed deletion deleted rows: %d left of %d", got, rows)
	}
}

func TestAccAuditLogDeletion_failedJob(t *testing.T) {
	env := deletionEnv(t, 50)
	env.Emulator.FailAuditDeletionJobs("The audit partition is locked by another operation")
	refusedTest(t, env, 50, resource.TestStep{
		Config: env.ProviderConfig() + `
resource "dynamics365_audit_log_deletion" "this" {
  before = "2025-07-01T00:00:00Z"
}`,
		ExpectError: regexp.MustCompile(`(?s)Audit log deletion failed.*ended Failed with\s+the message: The audit partition is\s+locked by another operation`),
	})
}

func TestAccAuditLogDeletion_missingPrivileges(t *testing.T) {
	env := deletionEnv(t, 50, emulator.WithPrivileges(emulator.PrivReadAuditSummary, emulator.PrivReadEntity, emulator.PrivReadAttribute))
	rec := env.Emulator.AuditRecords()[0]
	refusedTest(t, env, 50, resource.TestStep{
		Config: env.ProviderConfig() + `
resource "dynamics365_audit_log_deletion" "this" {
  before = "2025-07-01T00:00:00Z"
}`,
		ExpectError: regexp.MustCompile(`(?s)lacks the privilege prvBulkDelete \(Bulk Delete`),
	}, resource.TestStep{
		Config: env.ProviderConfig() + fmt.Sprintf(`
resource "dynamics365_audit_log_deletion" "this" {
  record = {
    entity_logical_name = %q
    record_id           = %q
  }
}`, rec.ObjectTypeCode, rec.ObjectID),
		ExpectError: regexp.MustCompile(`lacks the privilege\s+prvDeleteRecordChangeHistory`),
	})
}

func TestAccAuditLogDeletion_badInput(t *testing.T) {
	env := deletionEnv(t, 5)
	future := time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)
	step := func(body string, want string) resource.TestStep {
		return resource.TestStep{
			Config:      env.ProviderConfig() + "resource \"dynamics365_audit_log_deletion\" \"this\" {\n" + body + "\n}",
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(want),
		}
	}
	refusedTest(t, env, 5,
		step(fmt.Sprintf("before = %q", future), `(?s)Timestamp in the future.*before is `+regexp.QuoteMeta(future)),
		step(`before = "last year"`, `before must be an RFC 3339 timestamp`),
		step(`entity_logical_names = ["account"]`, `Exactly one of these attributes must be configured: \[before,record\]`),
		step("before = \"2025-01-01T00:00:00Z\"\nrecord = {\n entity_logical_name = \"account\"\n record_id = \"6f9619ff-8b86-d011-b42d-00c04fc964ff\"\n}",
			`(?s)Invalid Attribute Combination`),
		step("before = \"2025-01-01T00:00:00Z\"\nentity_logical_names = [\"account\"]\nuser_access_logs_only = true", `(?s)Invalid Attribute Combination`),
	)
	if env.Emulator.AuditDeletionJobCount() != 0 {
		t.Error("a refused configuration submitted a job")
	}
}
