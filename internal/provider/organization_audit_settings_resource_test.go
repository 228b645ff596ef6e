package provider_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const orgAddr = "dynamics365_organization_audit_settings.this"

func orgConfig(env *acctest.Env, body string) string {
	return env.ProviderConfig() + fmt.Sprintf(`
resource "dynamics365_organization_audit_settings" "this" {
%s
}
`, body)
}

// phrases matches an error that contains each phrase in order, whatever
// line wrapping terraform applied to it.
func phrases(ps ...string) *regexp.Regexp {
	parts := make([]string, len(ps))
	for i, p := range ps {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		parts[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(strings.Join(parts, `[\s\S]*`))
}

func expectOrg(env *acctest.Env, want func(o emulator.Organization) error) resource.TestCheckFunc {
	return func(*terraform.State) error { return want(env.Emulator.Organization()) }
}

func TestAccOrganizationAuditSettings_lifecycle(t *testing.T) {
	env := acctest.NewEnv(t)
	// An admin set an interval in the portal; the configuration below never
	// mentions it, so it must survive every step.
	env.Emulator.UpdateOrganization(func(o *emulator.Organization) { o.UserAccessAuditingInterval = 6 })
	orgID := env.Emulator.OrganizationID()

	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				Config: orgConfig(env, `
  audit_enabled         = true
  retention_period_days = 90
`),
				ConfigPlanChecks: preApply(plancheck.ExpectResourceAction(orgAddr, plancheck.ResourceActionCreate)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("id"), knownvalue.StringExact(orgID)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("audit_enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("retention_period_days"), knownvalue.Int64Exact(90)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("user_access_audit_enabled"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("read_audit_enabled"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("user_access_audit_interval_hours"), knownvalue.Int64Exact(6)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("on_destroy"), knownvalue.StringExact("retain")),
				},
				Check: expectOrg(env, func(o emulator.Organization) error {
					if !o.IsAuditEnabled || o.AuditRetentionPeriodV2 != 90 || o.UserAccessAuditingInterval != 6 {
						return fmt.Errorf("emulator has %+v", o)
					}
					return nil
				}),
			},
			{
				// Same configuration: nothing to do.
				Config: orgConfig(env, `
  audit_enabled         = true
  retention_period_days = 90
`),
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			},
			{
				Config: orgConfig(env, `
  audit_enabled                    = true
  user_access_audit_enabled        = true
  read_audit_enabled               = true
  retention_period_days            = -1
  user_access_audit_interval_hours = 8
`),
				ConfigPlanChecks: preApply(plancheck.ExpectResourceAction(orgAddr, plancheck.ResourceActionUpdate)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("read_audit_enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("retention_period_days"), knownvalue.Int64Exact(-1)),
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("user_access_audit_interval_hours"), knownvalue.Int64Exact(8)),
				},
				Check: expectOrg(env, func(o emulator.Organization) error {
					if !o.IsUserAccessAuditEnabled || !o.IsReadAuditEnabled || o.AuditRetentionPeriodV2 != -1 || o.UserAccessAuditingInterval != 8 {
						return fmt.Errorf("emulator has %+v", o)
					}
					return nil
				}),
			},
			{
				ResourceName:      orgAddr,
				ImportState:       true,
				ImportStateVerify: true,
			},
		},
	})

	// Settings changes leave audit rows, each written once.
	counts := map[int]int{}
	for _, r := range env.Emulator.AuditRecords() {
		counts[r.Action]++
	}
	if counts[107] != 1 || counts[112] != 1 {
		t.Errorf("audit rows by action = %v, want one 107 (audit enabled) and one 112 (user access audit started)", counts)
	}
}

func TestAccOrganizationAuditSettings_drift(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := orgConfig(env, `
  audit_enabled             = true
  user_access_audit_enabled = true
`)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// An admin turns auditing off in the portal: the plan must put it back.
				PreConfig: func() {
					env.Emulator.UpdateOrganization(func(o *emulator.Organization) { o.IsAuditEnabled = false })
				},
				Config: cfg,
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction(orgAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(orgAddr, tfjsonpath.New("audit_enabled"), knownvalue.Bool(true)),
				),
				Check: expectOrg(env, func(o emulator.Organization) error {
					if !o.IsAuditEnabled {
						return fmt.Errorf("auditing was not turned back on: %+v", o)
					}
					return nil
				}),
			},
			{
				// A change to a setting this configuration does not manage is
				// reported in state but never planned away.
				PreConfig: func() {
					env.Emulator.UpdateOrganization(func(o *emulator.Organization) { o.AuditRetentionPeriodV2 = 2555 })
				},
				Config:           cfg,
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("retention_period_days"), knownvalue.Int64Exact(2555)),
				},
			},
			{
				// Drift seen by a refresh-only plan.
				PreConfig: func() {
					env.Emulator.UpdateOrganization(func(o *emulator.Organization) { o.IsUserAccessAuditEnabled = false })
				},
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

func TestAccOrganizationAuditSettings_onDestroy(t *testing.T) {
	cases := []struct {
		policy string
		check  func(o emulator.Organization) error
	}{
		{"retain", func(o emulator.Organization) error {
			if !o.IsAuditEnabled || !o.IsUserAccessAuditEnabled || o.AuditRetentionPeriodV2 != 365 {
				return fmt.Errorf("retain changed settings: %+v", o)
			}
			return nil
		}},
		{"restore", func(o emulator.Organization) error {
			// Originals: auditing off, user access on (set by an admin before), retention 30.
			if o.IsAuditEnabled || !o.IsUserAccessAuditEnabled || o.AuditRetentionPeriodV2 != 30 {
				return fmt.Errorf("restore did not bring back the originals: %+v", o)
			}
			return nil
		}},
		{"disable", func(o emulator.Organization) error {
			// Switches off, retention left alone.
			if o.IsAuditEnabled || o.IsUserAccessAuditEnabled || o.AuditRetentionPeriodV2 != 365 {
				return fmt.Errorf("disable did not turn the managed switches off: %+v", o)
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			env := acctest.NewEnv(t)
			env.Emulator.UpdateOrganization(func(o *emulator.Organization) { o.IsUserAccessAuditEnabled = true })
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: testFactories(),
				CheckDestroy: func(*terraform.State) error {
					return tc.check(env.Emulator.Organization())
				},
				Steps: []resource.TestStep{{
					Config: orgConfig(env, fmt.Sprintf(`
  audit_enabled             = true
  user_access_audit_enabled = true
  retention_period_days     = 365
  on_destroy                = %q
`, tc.policy)),
				}},
			})
		})
	}
}

func TestAccOrganizationAuditSettings_importErrors(t *testing.T) {
	env := acctest.NewEnv(t)
	cfg := orgConfig(env, "audit_enabled = true")
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				Config:        cfg,
				ResourceName:  orgAddr,
				ImportState:   true,
				ImportStateId: "contoso",
				ExpectError:   phrases(`"contoso" is not an organization ID`),
			},
			{
				Config:        cfg,
				ResourceName:  orgAddr,
				ImportState:   true,
				ImportStateId: "6f2b8a0e-1d1c-4b5e-9a59-0d1f00000000",
				ExpectError:   phrases("has no organization with ID 6f2b8a0e-1d1c-4b5e-9a59-0d1f00000000", "Import with this environment's organization ID"),
			},
		},
	})
	if n := env.Emulator.WriteCount(); n != 0 {
		t.Errorf("the emulator saw %d write requests, want none", n)
	}
}

// An application user without prvWriteOrganization gets an error that names
// the missing privilege, and the settings stay as they were.
func TestAccOrganizationAuditSettings_missingPrivilege(t *testing.T) {
	env := acctest.NewEnv(t, emulator.WithPrivileges("prvReadOrganization"))
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			Config:      orgConfig(env, "audit_enabled = true"),
			ExpectError: phrases("prvWriteOrganization", "security role"),
		}},
	})
	if o := env.Emulator.Organization(); o.IsAuditEnabled {
		t.Errorf("auditing was turned on without the privilege: %+v", o)
	}
}
