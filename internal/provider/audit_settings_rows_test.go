package provider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// Microsoft documents the audit actions of settings changes (102–113), not
// which rows a change writes. The resources and dynamics365_audit_records
// work the same whether a change writes the emulator's rows or none: the
// apply succeeds, the next plan is empty, the data source returns exactly
// the rows there are.
func TestAccAuditSettings_settingsRowsNotRelied(t *testing.T) {
	for _, none := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSettingsRows=%t", none), func(t *testing.T) {
			env := acctest.NewEnvWithOptions(t, emulator.Options{NoSettingsAuditRows: none})
			settings := env.ProviderConfig() + `
resource "dynamics365_organization_audit_settings" "org" {
  audit_enabled             = true
  user_access_audit_enabled = true
}

resource "dynamics365_entity_audit_settings" "account" {
  entity_logical_name = "account"
  audit_enabled       = true
  attributes          = { name = true }
  depends_on          = [dynamics365_organization_audit_settings.org]
}
`
			records := `
data "dynamics365_audit_records" "all" {
  limit = 5000
}
`
			var wantIDs []string
			parallelSteps(t, []resource.TestStep{
				{Config: settings},
				{
					PreConfig: func() {
						wantIDs = []string{}
						for _, r := range env.Emulator.AuditRecords() {
							wantIDs = append(wantIDs, r.AuditID)
						}
						if none != (len(wantIDs) == 0) {
							t.Errorf("%d settings rows with NoSettingsAuditRows %t", len(wantIDs), none)
						}
					},
					Config:            settings + records,
					ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					ConfigStateChecks: []statecheck.StateCheck{auditIDsOf("data.dynamics365_audit_records.all", &wantIDs)},
				},
			})
		})
	}
}

// auditIDsOf is auditIDs with the oracle read when the check runs.
type auditIDsOfCheck struct {
	addr string
	want *[]string
}

func auditIDsOf(addr string, want *[]string) statecheck.StateCheck {
	return auditIDsOfCheck{addr: addr, want: want}
}

func (c auditIDsOfCheck) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	auditIDs{addr: c.addr, want: *c.want}.CheckState(ctx, req, resp)
}
