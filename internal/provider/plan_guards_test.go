package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
)

// entityResource is one dynamics365_entity_audit_settings named name.
func entityResource(name, table, body string) string {
	return fmt.Sprintf(`
resource "dynamics365_entity_audit_settings" %q {
  entity_logical_name = %q
%s
}
`, name, table, body)
}

// noWrites fails when the emulator saw a write request.
func noWrites(env *acctest.Env) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if n := env.Emulator.WriteCount(); n != 0 {
			return fmt.Errorf("the emulator saw %d write requests, want none: %v", n, env.Emulator.Requests())
		}
		return nil
	}
}

// Two resources for one table overwrite each other on every apply: the
// plan refuses the second, naming the table and the columns both set.
func TestAccEntityAuditSettings_twoResourcesOneTable(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := env.ProviderConfig() +
		entityResource("first", "account", "audit_enabled = true\n  attributes = { name = true, telephone1 = true }") +
		entityResource("second", "account", "audit_enabled = false\n  attributes = { name = false, fax = true }")
	parallelSteps(t, []resource.TestStep{{
		Config: cfg, PlanOnly: true,
		ExpectError: phrases("Table managed by another resource", `table "account"`, `Both set the columns "name"`),
	}})
	if n := env.Emulator.WriteCount(); n != 0 {
		t.Errorf("the emulator saw %d write requests, want none", n)
	}
}

// A resource being destroyed, or replaced by one for another table, does
// not hold its old table: another resource may take it in the same plan.
func TestAccEntityAuditSettings_tableHandedOver(t *testing.T) {
	env := acctest.NewEnv(t)
	parallelSteps(t, []resource.TestStep{
		{Config: env.ProviderConfig() + entityResource("old", "account", "audit_enabled = true")},
		// old is destroyed, new takes account.
		{Config: env.ProviderConfig() + entityResource("new", "account", "audit_enabled = true\n  attributes = { name = true }"),
			Check: expectEntity(env, "account", true, false, false, map[string]bool{"name": true})},
		// new is replaced (contact), other takes account.
		{Config: env.ProviderConfig() + entityResource("new", "contact", "audit_enabled = true") +
			entityResource("other", "account", "audit_enabled = true\n  attributes = { name = false }"),
			Check: resource.ComposeTestCheckFunc(
				expectEntity(env, "account", true, false, false, map[string]bool{"name": false}),
				expectEntity(env, "contact", true, false, false, nil))},
	})
}

// An unknown table or column suggests the closest names.
func TestAccEntityAuditSettings_unknownNameSuggestions(t *testing.T) {
	env := acctest.NewEnv(t)
	parallelSteps(t, []resource.TestStep{
		{Config: env.ProviderConfig() + entityResource("x", "acount", "audit_enabled = true"), PlanOnly: true,
			ExpectError: phrases(`no table with the logical name "acount"`, "Did you mean account?")},
		{Config: env.ProviderConfig() + entityResource("x", "account", "attributes = { telephon1 = true }"), PlanOnly: true,
			ExpectError: phrases(`no column "telephon1"`, "Did you mean telephone1?")},
	})
}

// Many unknown columns make one error listing the first names, not one
// error per column.
func TestAccEntityAuditSettings_unknownColumnsCapped(t *testing.T) {
	env := acctest.NewEnv(t)
	var cols []string
	for i := range 500 {
		cols = append(cols, fmt.Sprintf("nosuchcolumn%03d = true", i))
	}
	cfg := env.ProviderConfig() + entityResource("x", "account", "attributes = {\n    "+strings.Join(cols, "\n    ")+"\n  }")
	parallelSteps(t, []resource.TestStep{{
		Config: cfg, PlanOnly: true,
		ExpectError: phrases("Unknown column", `"nosuchcolumn019", and 480 more`),
	}})
}

// Settings that record nothing are accepted with a warning that says what
// is and is not recorded (organization auditing is off in a new emulator).
func TestAccAuditSettings_recordsNothingWarningsCLI(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnv(t)
	tf, _ := acctest.CLIWorkdir(t, acctest.BuildProvider(t), env.ProviderConfig()+
		entityResource("account", "account", "audit_enabled = true")+
		entityResource("contact", "contact", "audit_enabled = false\n  attributes = { emailaddress1 = true }")+
		entityResource("uom", "uom", "attributes = { quantity = true }")+
		entityResource("empty", "new_project", "attributes = {}")+
		`resource "dynamics365_organization_audit_settings" "org" {}`)
	var out bytes.Buffer
	tf.SetStdout(&out)
	tf.SetStderr(&out)
	if _, err := tf.Plan(context.Background()); err != nil {
		t.Fatalf("plan: %v\n%s", err, out.String())
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{
		`Organization auditing is off`, `nothing of table "account" will be recorded`, `its settings (audit_enabled) are saved`,
		`Column auditing on a table whose auditing is off`, `Table auditing of "contact" is off, so changes to the columns "emailaddress1" will not be recorded`,
		`Column auditing on a locked table`, `Table auditing of "uom" is off`, `this provider cannot turn it on`,
		`sets no table-level setting and no column of table "new_project"`,
		`This dynamics365_organization_audit_settings sets no setting, so it writes nothing`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out.String())
		}
	}
	if env.Emulator.RequestCount("GET organizations") > 2 {
		t.Errorf("plan read the organization row %d times, want it read once for the warnings", env.Emulator.RequestCount("GET organizations"))
	}
}

// After terraform import the configuration's attributes and on_destroy are
// not in the state yet, so the next plan shows an update. Its apply only
// records them: with the live settings already as configured it writes
// nothing to Dataverse and publishes nothing.
func TestAccEntityAuditSettings_importThenApplyWritesNothing(t *testing.T) {
	env := acctest.NewEnv(t)
	acct := entityAudit(t, env, "account")
	cfg := env.ProviderConfig() + entityResource("account", "account", fmt.Sprintf(`
  audit_enabled = %t
  attributes    = { name = %t }
  on_destroy    = "restore"`, acct.IsAuditEnabled, acct.Attributes["name"].IsAuditEnabled))
	parallelSteps(t, []resource.TestStep{
		{Config: cfg, ResourceName: "dynamics365_entity_audit_settings.account", ImportState: true,
			ImportStateId: "account", ImportStatePersist: true},
		{Config: cfg, PreConfig: env.Emulator.ResetCounters,
			ConfigPlanChecks: preApply(plancheck.ExpectResourceAction("dynamics365_entity_audit_settings.account", plancheck.ResourceActionUpdate)),
			Check:            noWrites(env)},
	})
}

// An import block planned with -generate-config-out writes a configuration
// that matches the imported state: the apply imports without an update and
// writes nothing.
func TestAccEntityAuditSettings_importBlockGenerateConfigCLI(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnv(t)
	tf, _ := acctest.CLIWorkdir(t, acctest.BuildProvider(t), env.ProviderConfig()+`
import {
  to = dynamics365_entity_audit_settings.account
  id = "account"
}
`)
	var out bytes.Buffer
	tf.SetStdout(&out)
	tf.SetStderr(&out)
	ctx := context.Background()
	if _, err := tf.Plan(ctx, tfexec.GenerateConfigOut("generated.tf")); err != nil {
		t.Fatalf("plan: %v\n%s", err, out.String())
	}
	env.Emulator.ResetCounters()
	out.Reset()
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "1 imported, 0 added, 0 changed, 0 destroyed") {
		t.Errorf("apply did more than import:\n%s", out.String())
	}
	if n := env.Emulator.WriteCount(); n != 0 {
		t.Errorf("the emulator saw %d write requests, want none: %v", n, env.Emulator.Requests())
	}
	if changes, err := tf.Plan(ctx); err != nil || changes {
		t.Errorf("plan after the import: changes=%t err=%v\n%s", changes, err, out.String())
	}
}
