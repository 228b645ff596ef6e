package provider_test

import (
	"fmt"
	"net/http"
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

// Sixty tables in one apply with Terraform's default parallelism: publishes
// are batched and serialised (no lock error reaches Terraform), every table
// ends published, and a refresh of all sixty costs at most 3 metadata reads
// (of two requests each: saved and published definitions).
func TestAccEntityAuditSettings_rollout60(t *testing.T) {
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 60)
	cfg := env.ProviderConfig() + acctest.TablesConfig(tables, "audit_enabled = true\n  retrieve_multiple_audit_enabled = true")
	var refreshReads int
	var refreshRequests map[string]int
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: func(*terraform.State) error {
					for _, name := range tables {
						st, _ := env.Emulator.EntityAudit(name)
						if !st.IsAuditEnabled || !st.IsRetrieveMultipleAuditEnabled {
							return fmt.Errorf("table %s: %+v", name, st)
						}
					}
					if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
						return fmt.Errorf("unpublished tables left: %v", u)
					}
					publishes := env.Emulator.RequestCount("POST PublishXml")
					if publishes == 0 || publishes >= len(tables) {
						return fmt.Errorf("%d PublishXml calls for %d tables, want fewer than the tables", publishes, len(tables))
					}
					t.Logf("60 tables: %d PublishXml calls, %d lock conflicts at the emulator, %d metadata PUTs",
						publishes, env.Emulator.LockConflictCount(), env.Emulator.RequestCount("PUT EntityDefinitions"))
					return nil
				},
			},
			{
				PreConfig:    env.Emulator.ResetCounters,
				RefreshState: true,
			},
			{
				PreConfig: func() {
					// HTTP requests on the wire: a $batch of per-table
					// reads is one; the bulk read is two (saved and
					// published). The refresh is two walks, each with its
					// own cache.
					refreshRequests = env.Emulator.Requests()
					refreshReads = env.Emulator.HTTPRequestCount("GET RetrieveAllEntities") + env.Emulator.HTTPRequestCount("GET RetrieveEntity") +
						env.Emulator.HTTPRequestCount("GET EntityDefinitions") + env.Emulator.RequestCount("POST $batch")
				},
				Config:           cfg,
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			},
		},
	})
	if refreshReads < 2 || refreshReads > 10 {
		t.Errorf("a refresh of 60 tables made %d metadata read requests, want 2 to 10 (at most 5 a walk)", refreshReads)
	}
	t.Logf("refresh of 60 tables: %d metadata read requests", refreshReads)
	t.Logf("requests of the refresh step: %v", refreshRequests)
}

// publish = false on every table and one dynamics365_customizations_publish:
// exactly one PublishXml for the whole rollout, after every change.
func TestAccCustomizationsPublish_singlePublish(t *testing.T) {
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 20)
	cfg := func(extra string) string {
		return env.ProviderConfig() + acctest.TablesConfig(tables, "retrieve_audit_enabled = true\n  publish = false") + fmt.Sprintf(`
resource "dynamics365_customizations_publish" "all" {
  entity_logical_names = [for r in dynamics365_entity_audit_settings.t : r.entity_logical_name]
  triggers = {
    for r in dynamics365_entity_audit_settings.t : r.entity_logical_name => jsonencode([r.audit_enabled, r.retrieve_audit_enabled])
  }
%s
}
`, extra)
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				Config: cfg(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dynamics365_customizations_publish.all", tfjsonpath.New("entity_logical_names"), knownvalue.SetSizeExact(20)),
				},
				Check: func(*terraform.State) error {
					if n := env.Emulator.RequestCount("POST PublishXml"); n != 1 {
						return fmt.Errorf("%d PublishXml calls, want exactly 1", n)
					}
					batches := env.Emulator.PublishedTables()
					if len(batches) != 1 || len(batches[0]) != len(tables) {
						return fmt.Errorf("published batches %v, want one with all %d tables", batches, len(tables))
					}
					if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
						return fmt.Errorf("unpublished tables left: %v", u)
					}
					return nil
				},
			},
			{
				// Same configuration: nothing to publish.
				PreConfig:        env.Emulator.ResetCounters,
				Config:           cfg(""),
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
				Check: func(*terraform.State) error {
					if n := env.Emulator.RequestCount("POST PublishXml"); n != 0 {
						return fmt.Errorf("%d PublishXml calls without a change, want 0", n)
					}
					return nil
				},
			},
		},
	})
}

// Another tool's publish holds the customization lock while Terraform
// writes and publishes: the lock conflict is retried and never reaches the
// user. Whether Dataverse refuses a metadata PUT during a publish is not
// documented: refused (the emulator's default) the PUT is retried;
// accepted, the provider's own publish is.
func TestAccEntityAuditSettings_publishLockRetried(t *testing.T) {
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("acceptWritesDuringPublish=%t", accept), func(t *testing.T) {
			testPublishLockRetried(t, emulator.Options{AcceptMetadataWritesDuringPublish: accept})
		})
	}
}

func testPublishLockRetried(t *testing.T, opts emulator.Options) {
	env := acctest.NewEnvWithOptions(t, opts)
	released := make(chan struct{})
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: lockTestFactories(),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				// An admin's "Publish all customizations" holds the lock until
				// the provider's publish has been refused at least once, however
				// slowly this machine gets there.
				release := env.Emulator.HoldCustomizationLock("PublishAll")
				go func() {
					defer close(released)
					defer release()
					deadline := time.Now().Add(2 * time.Minute)
					for env.Emulator.LockConflictCount() < 1 && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
				}()
			},
			Config: entityConfig(env, "account", "retrieve_audit_enabled = true"),
			Check: func(*terraform.State) error {
				<-released
				if n := env.Emulator.LockConflictCount(); n < 1 {
					return fmt.Errorf("no lock conflict happened (%d); the test did not exercise the retry", n)
				}
				if !env.Emulator.IsPublished("account") {
					return fmt.Errorf("account was not published")
				}
				return nil
			},
		}},
	})
}

// A publish that fails after the metadata was written leaves published =
// false in the state; the next plan shows it and the next apply publishes.
func TestAccEntityAuditSettings_failedPublishRetriedNextApply(t *testing.T) {
	env := acctest.NewEnv(t)
	acct := entityAudit(t, env, "account")
	cfg := func(multiple bool) string {
		return entityConfig(env, "account", fmt.Sprintf("retrieve_multiple_audit_enabled = %t", multiple))
	}
	addr := "dynamics365_entity_audit_settings.account"
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: cfg(acct.IsRetrieveMultipleAuditEnabled)},
			{
				// The publish is refused (a 400 is not retried).
				PreConfig: func() {
					env.Emulator.InjectFaults("POST PublishXml", emulator.Fault{Status: http.StatusBadRequest})
				},
				Config:      cfg(!acct.IsRetrieveMultipleAuditEnabled),
				ExpectError: phrases("Cannot publish table account"),
			},
			{
				Config: cfg(!acct.IsRetrieveMultipleAuditEnabled),
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					if !env.Emulator.IsPublished("account") {
						return fmt.Errorf("account is still unpublished")
					}
					return nil
				},
			},
		},
	})
}
