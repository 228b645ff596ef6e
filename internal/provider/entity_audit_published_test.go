package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// The plan warns, with publish = false, for each table whose change stays
// unpublished, under one summary so that Terraform folds them.
func TestWarnUnpublished(t *testing.T) {
	info := &dataverse.EntityAuditInfo{
		LogicalName:    "account",
		IsAuditEnabled: dataverse.BooleanManagedProperty{Value: false, CanBeChanged: true},
		Attributes:     map[string]*dataverse.AttributeAuditInfo{},
		Published:      &dataverse.PublishedAudit{IsAuditEnabled: false, Attributes: map[string]bool{}},
	}
	cfg := entityAuditSettingsModel{tableAuditValues: tableAuditValues{AuditEnabled: types.BoolValue(false)}, Publish: types.BoolValue(false),
		Attributes: types.MapNull(types.BoolType)}
	var d diag.Diagnostics
	warnUnpublished(&d, "https://org", &cfg, info, entityTarget{Table: bools(dataverse.TableAuditEnabled, false)})
	if len(d) != 0 {
		t.Fatalf("nothing unpublished: %v", diagTexts(d))
	}
	// Saved off, still published on.
	info.Published.IsAuditEnabled = true
	warnUnpublished(&d, "https://org", &cfg, info, entityTarget{Table: bools(dataverse.TableAuditEnabled, false)})
	if got := diagTexts(d); len(got) != 1 || !strings.Contains(got[0], "Audit settings will stay unpublished") || !strings.Contains(got[0], `"account"`) {
		t.Errorf("got %v", got)
	}
	// A change this plan makes, with publish = false.
	info.Published.IsAuditEnabled = false
	d = nil
	warnUnpublished(&d, "https://org", &cfg, info, entityTarget{Table: bools(dataverse.TableAuditEnabled, true)})
	if len(d) != 1 {
		t.Errorf("planned change: %v", diagTexts(d))
	}
	cfg.Publish = types.BoolValue(true)
	d = nil
	warnUnpublished(&d, "https://org", &cfg, info, entityTarget{Table: bools(dataverse.TableAuditEnabled, true)})
	if len(d) != 0 {
		t.Errorf("publish = true: %v", diagTexts(d))
	}
}
