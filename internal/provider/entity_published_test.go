package provider_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
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

// plainGetModes runs a test against both answers a plain GET of
// EntityDefinitions may give: nobody here can check which one Dataverse
// gives, so the provider must be right with either.
func plainGetModes(t *testing.T, run func(t *testing.T, env *acctest.Env)) {
	for _, servesSaved := range []bool{false, true} {
		name := "plainGetServesPublished"
		if servesSaved {
			name = "plainGetServesSaved"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, acctest.NewEnvWithOptions(t, emulator.Options{PlainMetadataGetServesSaved: servesSaved}))
		})
	}
}

func publishTables(env *acctest.Env, tables ...string) error {
	token, err := env.Emulator.IssueAccessToken(env.ClientID, env.Emulator.EnvironmentURL(), time.Hour)
	if err != nil {
		return err
	}
	xml := "<importexportxml><entities><entity>" + strings.Join(tables, "</entity><entity>") + "</entity></entities></importexportxml>"
	req, err := http.NewRequest(http.MethodPost, env.Emulator.EnvironmentURL()+"/api/data/v9.2/PublishXml",
		strings.NewReader(fmt.Sprintf(`{"ParameterXml":%q}`, xml)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.Emulator.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("PublishXml: HTTP %d", resp.StatusCode)
	}
	return nil
}

// The forgotten publish: publish = false and audit_enabled = false. The
// change is saved, the table still audits (published), and the state says
// published = false; once someone publishes, a refresh says true.
func TestAccEntityAuditSettings_forgottenPublish(t *testing.T) {
	t.Parallel()
	plainGetModes(t, func(t *testing.T, env *acctest.Env) {
		addr := "dynamics365_entity_audit_settings.account"
		cfg := entityConfig(env, "account", "audit_enabled = false\n  publish = false")
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t) },
			ProtoV6ProviderFactories: testFactories(),
			Steps: []resource.TestStep{
				{
					Config: cfg,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("audit_enabled"), knownvalue.Bool(false)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(false)),
					},
					Check: func(*terraform.State) error {
						saved, _ := env.Emulator.EntityAudit("account")
						pub, _ := env.Emulator.PublishedEntityAudit("account")
						if saved.IsAuditEnabled || !pub.IsAuditEnabled {
							return fmt.Errorf("saved %t, published %t; want saved off and still audited", saved.IsAuditEnabled, pub.IsAuditEnabled)
						}
						return nil
					},
				},
				{
					// The user chose not to publish: no diff for it.
					Config:           cfg,
					ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
				},
				{
					// Published by someone else: the state learns it.
					PreConfig: func() {
						if err := publishTables(env, "account"); err != nil {
							t.Fatal(err)
						}
					},
					Config:           cfg,
					ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
					},
				},
			},
		})
	})
}

// A change saved but never published — a portal Save without Publish, or an
// apply killed between its write and its publish — shows as published:
// false -> true in the next plan, and the apply publishes it.
func TestAccEntityAuditSettings_savedNotPublishedIsPublished(t *testing.T) {
	t.Parallel()
	plainGetModes(t, func(t *testing.T, env *acctest.Env) {
		addr := "dynamics365_entity_audit_settings.account"
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t) },
			ProtoV6ProviderFactories: testFactories(),
			Steps: []resource.TestStep{
				{Config: entityConfig(env, "account", "retrieve_audit_enabled = false")},
				{
					// What an apply killed after its PUT leaves behind.
					PreConfig: func() {
						if err := env.Emulator.SaveEntityAudit("account", func(a *emulator.EntityAuditState) {
							a.IsRetrieveAuditEnabled = true
						}); err != nil {
							t.Fatal(err)
						}
					},
					Config: entityConfig(env, "account", "retrieve_audit_enabled = true"),
					ConfigPlanChecks: preApply(
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("published"), knownvalue.Bool(true)),
					),
					Check: func(*terraform.State) error {
						if pub, _ := env.Emulator.PublishedEntityAudit("account"); !pub.IsRetrieveAuditEnabled || !env.Emulator.IsPublished("account") {
							return fmt.Errorf("the saved change was not published")
						}
						return nil
					},
				},
			},
		})
	})
}

// With one dynamics365_customizations_publish for a rollout, a table saved
// but not published afterwards makes the plan publish again.
func TestAccCustomizationsPublish_healsUnpublishedTable(t *testing.T) {
	t.Parallel()
	plainGetModes(t, func(t *testing.T, env *acctest.Env) {
		tables := env.ChangeableTables(t, 2)
		cfg := env.ProviderConfig() + acctest.TablesConfig(tables, "retrieve_audit_enabled = true\n  publish = false") + `
resource "dynamics365_customizations_publish" "all" {
  entity_logical_names = [for r in dynamics365_entity_audit_settings.t : r.entity_logical_name]
}
`
		addr := "dynamics365_customizations_publish.all"
		resource.Test(t, resource.TestCase{
			PreCheck:                 func() { acctest.PreCheck(t) },
			ProtoV6ProviderFactories: testFactories(),
			Steps: []resource.TestStep{
				{Config: cfg},
				{
					PreConfig: func() {
						env.Emulator.ResetCounters()
						// A setting these resources do not manage, saved in the portal without Publish.
						if err := env.Emulator.SaveEntityAudit(tables[1], func(a *emulator.EntityAuditState) {
							a.IsRetrieveMultipleAuditEnabled = !a.IsRetrieveMultipleAuditEnabled
						}); err != nil {
							t.Fatal(err)
						}
					},
					Config: cfg,
					ConfigPlanChecks: preApply(
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("unpublished_entity_logical_names"), knownvalue.SetSizeExact(0)),
					),
					Check: func(*terraform.State) error {
						if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
							return fmt.Errorf("unpublished tables left: %v", u)
						}
						if n := env.Emulator.RequestCount("POST PublishXml"); n != 1 {
							return fmt.Errorf("%d PublishXml calls, want 1", n)
						}
						return nil
					},
				},
				{Config: cfg, ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan())},
			},
		})
	})
}

// Managed properties lock managed components only: the primary key of an
// unmanaged custom table (IsAuditEnabled.CanBeChanged = false) is changed;
// a refusal by the service names the column; a managed locked table is
// refused at plan.
func TestAccEntityAuditSettings_managedPropertyLocks(t *testing.T) {
	env := acctest.NewEnv(t)
	col := "dynamics365_entity_audit_settings.new_project"
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				Config:      entityConfig(env, "activitypointer", "audit_enabled = true"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Table audit setting is locked`),
			},
			{
				PreConfig: func() {
					env.Emulator.InjectFaults("PUT EntityDefinitions", emulator.Fault{Status: http.StatusBadRequest})
				},
				Config:      entityConfig(env, "new_project", "attributes = { new_projectid = true }"),
				ExpectError: regexp.MustCompile(`Column auditing refused by Dataverse(.|\n)*new_projectid`),
			},
			{
				Config: entityConfig(env, "new_project", "attributes = { new_projectid = true }"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(col, tfjsonpath.New("attributes").AtMapKey("new_projectid"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					if pub, _ := env.Emulator.PublishedEntityAudit("new_project"); !pub.Attributes["new_projectid"].IsAuditEnabled {
						return fmt.Errorf("new_projectid is not audited")
					}
					return nil
				},
			},
		},
	})
}
