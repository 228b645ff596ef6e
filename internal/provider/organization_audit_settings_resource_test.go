package provider_test

import (
	"bytes"
	"context"
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

	parallelSteps(t, []resource.TestStep{
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
	parallelSteps(t, []resource.TestStep{
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
	parallelSteps(t, []resource.TestStep{
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
	})
	if n := env.Emulator.WriteCount(); n != 0 {
		t.Errorf("the emulator saw %d write requests, want none", n)
	}
}

// An application user without prvWriteOrganization gets an error that names
// the missing privilege, and the settings stay as they were.
func TestAccOrganizationAuditSettings_missingPrivilege(t *testing.T) {
	env := acctest.NewEnv(t, emulator.WithPrivileges("prvReadOrganization"))
	parallelSteps(t, []resource.TestStep{{
		Config:      orgConfig(env, "audit_enabled = true"),
		ExpectError: phrases("prvWriteOrganization", "security role"),
	}})
	if o := env.Emulator.Organization(); o.IsAuditEnabled {
		t.Errorf("auditing was turned on without the privilege: %+v", o)
	}
}

// The organization row as real environments have it: a retention nobody
// ever set is null, the interval may be 0, and the admin center's maximum
// retention is below the Web API's.

// retentionWrites counts the audit rows of organization changes that wrote
// auditretentionperiodv2.
func retentionWrites(e *emulator.Server) int {
	n := 0
	for _, r := range e.AuditRecords() {
		if _, ok := r.NewValues["auditretentionperiodv2"]; ok && r.Action == emulator.ActionAuditChangeAtOrgLevel {
			n++
		}
	}
	return n
}

// A null retention is shown as null by the resource and the data source,
// is never written while other settings change, and restore leaves it be.
func TestAccOrganizationAuditSettings_nullRetention(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{NullRetention: true})
	config := func(body string) string {
		return orgConfig(env, body+`
  on_destroy = "restore"
`) + `
data "dynamics365_organization_audit_settings" "current" {
  depends_on = [dynamics365_organization_audit_settings.this]
}

output "retention" {
  value = jsonencode(data.dynamics365_organization_audit_settings.current.retention_period_days)
}
`
	}
	const dataAddr = "data.dynamics365_organization_audit_settings.current"
	stillNull := expectOrg(env, func(o emulator.Organization) error {
		if !o.RetentionNotSet {
			return fmt.Errorf("the retention was written: %+v", o)
		}
		if n := retentionWrites(env.Emulator); n != 0 {
			return fmt.Errorf("%d writes of auditretentionperiodv2", n)
		}
		return nil
	})
	nullChecks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("retention_period_days"), knownvalue.Null()),
		statecheck.ExpectKnownValue(dataAddr, tfjsonpath.New("retention_period_days"), knownvalue.Null()),
		// Terraform keeps no null output in state; its JSON shows null, not 0.
		statecheck.ExpectKnownOutputValue("retention", knownvalue.StringExact("null")),
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		CheckDestroy: func(*terraform.State) error {
			o := env.Emulator.Organization()
			if o.IsAuditEnabled || o.IsUserAccessAuditEnabled || !o.RetentionNotSet {
				return fmt.Errorf("restore: %+v", o)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config:            config("audit_enabled = true"),
				ConfigStateChecks: nullChecks,
				Check:             stillNull,
			},
			{
				Config: config("audit_enabled = true\n  user_access_audit_enabled = true"),
				// The unset retention stays null in the plan, not "(known after apply)".
				ConfigPlanChecks: preApply(
					plancheck.ExpectResourceAction(orgAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(orgAddr, tfjsonpath.New("retention_period_days"), knownvalue.Null()),
				),
				ConfigStateChecks: nullChecks,
				Check:             stillNull,
			},
			{
				// Null is not drift.
				Config:           config("audit_enabled = true\n  user_access_audit_enabled = true"),
				ConfigPlanChecks: preApply(plancheck.ExpectEmptyPlan()),
			},
		},
	})
}

// The data source alone reports a never-set retention as null, and so an
// auditsettings column nobody wrote.
func TestAccOrganizationAuditSettingsDataSource_nullRetention(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{NullRetention: true})
	addr := "data.dynamics365_organization_audit_settings.this"
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + `data "dynamics365_organization_audit_settings" "this" {}`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("retention_period_days"), knownvalue.Null()),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("user_access_audit_interval_hours"), knownvalue.Int64Exact(4)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("audit_settings_json"), knownvalue.Null()),
		},
	}})
}

// Setting a retention over a null and destroying with restore writes
// nothing back: the original was null, and 0 is not null.
func TestAccOrganizationAuditSettings_restoreSkipsNullRetention(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{NullRetention: true})
	writes := -1
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		CheckDestroy: func(*terraform.State) error {
			if n := env.Emulator.WriteCount(); n != writes {
				return fmt.Errorf("destroy wrote %d requests, want none", n-writes)
			}
			if o := env.Emulator.Organization(); o.RetentionNotSet || o.AuditRetentionPeriodV2 != 90 {
				return fmt.Errorf("after destroy: %+v", o)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			Config: orgConfig(env, `
  retention_period_days = 90
  on_destroy            = "restore"
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("retention_period_days"), knownvalue.Int64Exact(90)),
			},
			Check: func(*terraform.State) error {
				writes = env.Emulator.WriteCount()
				if o := env.Emulator.Organization(); o.RetentionNotSet || o.AuditRetentionPeriodV2 != 90 {
					return fmt.Errorf("after apply: %+v", o)
				}
				return nil
			},
		}},
	})
}

// The organization table reference gives useraccessauditinginterval a
// minimum of 0.
func TestAccOrganizationAuditSettings_intervalZero(t *testing.T) {
	env := acctest.NewEnv(t)
	parallelSteps(t, []resource.TestStep{{
		Config: orgConfig(env, "user_access_audit_interval_hours = 0"),
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("user_access_audit_interval_hours"), knownvalue.Int64Exact(0)),
		},
		Check: expectOrg(env, func(o emulator.Organization) error {
			if o.UserAccessAuditingInterval != 0 {
				return fmt.Errorf("interval = %d", o.UserAccessAuditingInterval)
			}
			return nil
		}),
	}})
}

// An environment that refuses a retention the Web API documents (here one
// enforcing the admin center's 24855 days) gets an error on the attribute,
// saying what was sent and what to use.
func TestAccOrganizationAuditSettings_retentionRefused(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{MaxRetentionDays: 24855})
	parallelSteps(t, []resource.TestStep{{
		Config: orgConfig(env, "retention_period_days = 30000"),
		ExpectError: phrases("retention_period_days = 30000",
			"Dataverse refused retention_period_days = 30000 (column auditretentionperiodv2)",
			"set retention_period_days to -1 (forever) or to at most 24855"),
	}})
	if o := env.Emulator.Organization(); o.AuditRetentionPeriodV2 != 30 {
		t.Errorf("retention changed: %+v", o)
	}
}

// The warnings, as terraform prints them: a retention above the admin
// center's maximum at plan, and a null original that restore leaves alone.
func TestAccOrganizationAuditSettings_warningsCLI(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnvWithOptions(t, emulator.Options{NullRetention: true})
	tf, _ := acctest.CLIWorkdir(t, acctest.BuildProvider(t), orgConfig(env, `
  retention_period_days = 30000
  on_destroy            = "restore"
`))
	var out bytes.Buffer
	tf.SetStdout(&out)
	tf.SetStderr(&out)
	ctx := context.Background()

	if _, err := tf.Plan(ctx); err != nil {
		t.Fatalf("plan: %v\n%s", err, out.String())
	}
	if !phrases("Retention above the admin center's maximum", "retention_period_days = 30000",
		"gives 24855 days as the maximum custom retention").MatchString(out.String()) {
		t.Errorf("plan output has no warning about the admin center's maximum:\n%s", out.String())
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	writes := env.Emulator.WriteCount()
	out.Reset()
	if err := tf.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out.String())
	}
	if !phrases("Original value not restored", "retention_period_days had no value (null",
		"leaves it at 30000").MatchString(out.String()) {
		t.Errorf("destroy output has no warning about the null original:\n%s", out.String())
	}
	if n := env.Emulator.WriteCount() - writes; n != 0 {
		t.Errorf("destroy wrote %d requests, want none", n)
	}
	if o := env.Emulator.Organization(); o.AuditRetentionPeriodV2 != 30000 || strings.Contains(out.String(), "Error") {
		t.Errorf("after destroy: %+v\n%s", o, out.String())
	}
}
