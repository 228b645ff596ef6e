package provider_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/provider"
)

// These tests run with the emulator's metadata cache on, as Dataverse has
// it: for 30 s after a table or column PUT, reads without Consistency:
// Strong return the definition as it was before. Each Terraform command of
// a test step is a new provider instance (a new metadata cache), like a new
// process.

// lockTestFactories retry a locked publish or metadata write after 100 ms.
func lockTestFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"dynamics365": providerserver.NewProtocol6WithError(provider.New("test", provider.WithGetenv(noEnv),
			provider.WithPublishWindow(testPublishWindow), provider.WithLockRetryWait(100*time.Millisecond))()),
	}
}

func expectStrongReads(env *acctest.Env) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if env.Emulator.StrongConsistencyCount() == 0 {
			return fmt.Errorf("no request carried Consistency: Strong")
		}
		return nil
	}
}

// terraform apply, then at once terraform plan: no drift from the cache.
func TestAccEntityAuditSettings_planRightAfterApplyIsEmpty(t *testing.T) {
	env := acctest.NewEnv(t)
	first := entityConfig(env, "new_project", `
  audit_enabled = true
  attributes = {
    new_code   = true
    new_rating = true
  }
`)
	second := entityConfig(env, "new_project", `
  audit_enabled                   = true
  retrieve_multiple_audit_enabled = true
  attributes = {
    new_code   = true
    new_rating = false
  }
`)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: first, Check: resource.ComposeTestCheckFunc(
				expectEntity(env, "new_project", true, false, false, map[string]bool{"new_code": true, "new_rating": true}),
				expectStrongReads(env))},
			{Config: first, ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan())},
			{Config: second, Check: expectEntity(env, "new_project", true, false, true, map[string]bool{"new_code": true, "new_rating": false})},
			{Config: second, ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan())},
		},
	})
}

// Two changes of one table in a row, the second managing another setting:
// the second apply must write back the definition as the first left it,
// not the cached one before it (which would turn auditing off again).
func TestAccEntityAuditSettings_secondChangeKeepsTheFirst(t *testing.T) {
	env := acctest.NewEnv(t)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: entityConfig(env, "new_project", `
  audit_enabled = true
`), Check: expectEntity(env, "new_project", true, false, false, nil)},
			// audit_enabled is no longer managed; it must stay on.
			{Config: entityConfig(env, "new_project", `
  retrieve_multiple_audit_enabled = true
`), Check: expectEntity(env, "new_project", true, false, true, nil)},
		},
	})
}

// A change while a solution import runs is sent again until the import
// ends, even with max_retries = 0: the lock is not a transport failure.
func TestAccEntityAuditSettings_waitsForAnImport(t *testing.T) {
	env := acctest.NewEnv(t)
	config := env.ProviderConfig("max_retries = 0") + `
resource "dynamics365_entity_audit_settings" "new_project" {
  entity_logical_name = "new_project"
  audit_enabled       = true
  attributes          = { new_code = true }
}
`
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: lockTestFactories(),
		Steps: []resource.TestStep{{
			// The import ends once it has refused the apply's PUT twice
			// (counted, not timed: plan and apply now read every definition
			// saved and published, several MB, before the first PUT, so
			// a timed import could end before the PUT is sent).
			PreConfig: func() {
				release := env.Emulator.HoldCustomizationLock("Import")
				t.Cleanup(release)
				go func() {
					for env.Emulator.LockConflictCount() < 2 {
						time.Sleep(10 * time.Millisecond)
					}
					release()
				}()
			},
			Config: config,
			Check: resource.ComposeTestCheckFunc(
				expectEntity(env, "new_project", true, false, false, map[string]bool{"new_code": true}),
				func(*terraform.State) error {
					if env.Emulator.LockConflictCount() == 0 {
						return fmt.Errorf("the import refused nothing: the test did not exercise the lock")
					}
					return nil
				}),
		}},
	})
}

// When the import outlasts the resource's timeout, the error names the
// running operation and says what to do.
func TestAccEntityAuditSettings_givesUpOnTheLockAtTheTimeout(t *testing.T) {
	env := acctest.NewEnv(t)
	release := env.Emulator.HoldCustomizationLock("Import")
	t.Cleanup(release)
	before := entityAudit(t, env, "new_project")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: lockTestFactories(),
		Steps: []resource.TestStep{{
			Config: entityConfig(env, "new_project", `
  audit_enabled = true
  timeouts {
    create = "3s"
  }
`),
			ExpectError: regexp.MustCompile(`(?s)Cannot update the audit settings of table new_project.*\(\[Import\]\)\s+held\s+the\s+environment's\s+customization\s+lock.*Solution\s+history.*timeouts`),
		}},
	})
	if after := entityAudit(t, env, "new_project"); after.IsAuditEnabled != before.IsAuditEnabled {
		t.Error("the table was changed during the import")
	}
}
