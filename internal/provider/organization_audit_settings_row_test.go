package provider_test

import (
	"bytes"
	"context"
	"fmt"
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
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			Config: env.ProviderConfig() + `data "dynamics365_organization_audit_settings" "this" {}`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("retention_period_days"), knownvalue.Null()),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("user_access_audit_interval_hours"), knownvalue.Int64Exact(4)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("audit_settings_json"), knownvalue.Null()),
			},
		}},
	})
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
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
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
		}},
	})
}

// An environment that refuses a retention the Web API documents (here one
// enforcing the admin center's 24855 days) gets an error on the attribute,
// saying what was sent and what to use.
func TestAccOrganizationAuditSettings_retentionRefused(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{MaxRetentionDays: 24855})
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			Config: orgConfig(env, "retention_period_days = 30000"),
			ExpectError: phrases("retention_period_days = 30000",
				"Dataverse refused retention_period_days = 30000 (column auditretentionperiodv2)",
				"set retention_period_days to -1 (forever) or to at most 24855"),
		}},
	})
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
