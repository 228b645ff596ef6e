package provider_test

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
)

// A misspelt table is an error that proposes the right name, in the audit
// search (which used to return no records) and in the table list alike.
func TestAccAuditRecordsDataSource_misspeltTable(t *testing.T) {
	env := acctest.NewEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
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
		}},
	})
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
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
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
		}},
	})
}
