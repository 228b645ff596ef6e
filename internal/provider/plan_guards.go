package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// planGuards holds what the plan checks of one configured provider (one
// provider block, one Terraform command — Terraform configures a provider
// anew for each of its walks) learn across resources: which resource claimed
// which table, and the organization row read once for the warnings.
type planGuards struct {
	mu     sync.Mutex
	tables map[string]tableClaim

	orgOnce sync.Once
	org     *dataverse.OrganizationAuditSettings // nil when it could not be read
}

// tableClaim is the resource that planned a table first. Resources have no
// address in ModifyPlan, so a claim is known by its configuration: a second
// plan call with an equal configuration is the same resource planned again
// (and two resources with equal configurations write equal values, so they
// cannot flip-flop); a different configuration is another resource.
type tableClaim struct {
	config  tftypes.Value
	columns map[string]bool
}

func newPlanGuards() *planGuards {
	return &planGuards{tables: map[string]tableClaim{}}
}

// claimTable records that the resource with configuration config plans
// table, managing columns. It returns false and the overlapping columns
// (sorted) when another resource planned the table first.
func (g *planGuards) claimTable(table string, config tftypes.Value, columns map[string]bool) (bool, []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first, taken := g.tables[table]
	if !taken || first.config.Equal(config) {
		g.tables[table] = tableClaim{config: config, columns: columns}
		return true, nil
	}
	var overlap []string
	for col := range columns {
		if first.columns[col] {
			overlap = append(overlap, col)
		}
	}
	sort.Strings(overlap)
	return false, overlap
}

// organization reads the organization row once per configured provider. A
// failed read only loses the warnings that need it.
func (g *planGuards) organization(ctx context.Context, client *dataverse.Client) *dataverse.OrganizationAuditSettings {
	g.orgOnce.Do(func() {
		org, err := client.GetOrganizationAuditSettings(ctx)
		if err != nil {
			tflog.Debug(ctx, "cannot read the organization row for plan warnings", map[string]any{"error": err.Error()})
			return
		}
		g.org = org
	})
	return g.org
}

// checkTableClaim fails the plan of the second resource that manages table
// in this configuration: two resources for one table overwrite each other on
// every apply. Only planned (not destroyed) resources reach this; a resource
// being replaced claims its new table only.
func checkTableClaim(data *providerData, req resource.ModifyPlanRequest, table string, target entityTarget, diags *diag.Diagnostics) {
	if data.guards == nil {
		return
	}
	columns := map[string]bool{}
	for col := range target.Attributes {
		columns[col] = true
	}
	ok, overlap := data.guards.claimTable(table, req.Config.Raw, columns)
	if ok {
		return
	}
	detail := fmt.Sprintf("Another dynamics365_entity_audit_settings resource of this provider configuration already manages "+
		"table %q in %s. Two resources for one table overwrite each other on every apply and the plan never settles. "+
		"Manage each table with one resource: merge the two into one, or remove one of them.", table, data.environmentURL)
	if len(overlap) > 0 {
		detail += fmt.Sprintf(" Both set the columns %s.", strings.Join(quotedNames(overlap), ", "))
	}
	diags.AddAttributeError(path.Root("entity_logical_name"), "Table managed by another resource", detail)
}

func quotedNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// warnRecordsNothing warns about entity settings that are accepted but
// record nothing (a warning: the user may be about to fix the other side).
func warnRecordsNothing(ctx context.Context, data *providerData, cfg *entityAuditSettingsModel, info *dataverse.EntityAuditInfo, target entityTarget, diags *diag.Diagnostics) {
	table := info.LogicalName
	if len(target.Table) == 0 && !cfg.AuditEnabled.IsUnknown() && !cfg.RetrieveAuditEnabled.IsUnknown() &&
		!cfg.RetrieveMultipleAuditEnabled.IsUnknown() && !cfg.Attributes.IsUnknown() && len(target.Attributes) == 0 {
		diags.AddWarning("Resource manages nothing",
			fmt.Sprintf("This dynamics365_entity_audit_settings sets no table-level setting and no column of table %q, so "+
				"it changes nothing in %s and nothing more or less is recorded because of it. Set audit_enabled, "+
				"retrieve_audit_enabled, retrieve_multiple_audit_enabled or an entry of attributes, or remove the resource.",
				table, data.environmentURL))
		return
	}
	auditOn, locked := plannedTableAudit(info, target)
	if audited := auditedColumns(target); len(audited) > 0 && !auditOn {
		what := fmt.Sprintf("Table auditing of %q is off, so changes to the columns %s will not be recorded: column auditing "+
			"records only on a table whose auditing is on.", table, strings.Join(quotedNames(capNames(audited)), ", "))
		if locked {
			diags.AddAttributeWarning(path.Root("attributes"), "Column auditing on a locked table",
				what+" The table's audit setting is locked (IsAuditEnabled has CanBeChanged = false in a managed solution), "+
					"so this provider cannot turn it on; the column settings are saved and take effect only if the owner of "+
					"the solution unlocks or enables table auditing.")
		} else {
			diags.AddAttributeWarning(path.Root("attributes"), "Column auditing on a table whose auditing is off",
				what+" The column settings are saved. Add audit_enabled = true to record them.")
		}
	}
	org := data.guards.organization(ctx, data.client)
	if org == nil || org.IsAuditEnabled {
		return
	}
	var saved []string
	for _, s := range tableAuditSettings {
		if target.Table[s.field] {
			saved = append(saved, s.attribute)
		}
	}
	if len(auditedColumns(target)) > 0 {
		saved = append(saved, "column auditing")
	}
	if len(saved) == 0 {
		return
	}
	diags.AddWarning("Organization auditing is off",
		fmt.Sprintf("Auditing is off for the whole organization in %s, so nothing of table %q will be recorded (no creates, "+
			"updates, deletes or reads) although its settings (%s) are saved and take effect once organization auditing is "+
			"on. Turn it on with a dynamics365_organization_audit_settings resource (audit_enabled = true, and "+
			"read_audit_enabled = true for read auditing) or in the Power Platform admin center.",
			data.environmentURL, table, strings.Join(saved, ", ")))
}

// plannedTableAudit is whether the table's auditing is on after the plan,
// and whether it is off and locked that way.
func plannedTableAudit(info *dataverse.EntityAuditInfo, target entityTarget) (on, lockedOff bool) {
	cur := dataverse.TableAuditEnabled.In(info)
	if want, ok := target.Table[dataverse.TableAuditEnabled]; ok {
		return want, false
	}
	return cur.Value, !cur.Value && !cur.CanBeChanged && info.IsManaged
}

func auditedColumns(target entityTarget) []string {
	var out []string
	for _, col := range sortedKeys(target.Attributes) {
		if target.Attributes[col] {
			out = append(out, col)
		}
	}
	return out
}

// maxListedNames is how many names one diagnostic lists: 5,000 unknown
// columns make one readable error, not 5,000 errors and a slow plan.
const maxListedNames = 20

// capNames returns at most maxListedNames names, then "and N more".
func capNames(names []string) []string {
	if len(names) <= maxListedNames {
		return names
	}
	return append(names[:maxListedNames:maxListedNames], fmt.Sprintf("and %d more", len(names)-maxListedNames))
}

// addUnknownColumnsError reports all unknown columns of a table in one
// diagnostic, with the closest known names.
func addUnknownColumnsError(diags *diag.Diagnostics, envURL string, info *dataverse.EntityAuditInfo, unknown []string) {
	if len(unknown) == 0 {
		return
	}
	known := make([]string, 0, len(info.Attributes))
	for col := range info.Attributes {
		known = append(known, col)
	}
	sort.Strings(known)
	at := path.Root("attributes").AtMapKey(unknown[0])
	what := fmt.Sprintf("Table %q has no column %q in %s.", info.LogicalName, unknown[0], envURL)
	if len(unknown) > 1 {
		at = path.Root("attributes")
		listed := capNames(quotedNames(unknown))
		what = fmt.Sprintf("Table %q has no columns %s in %s.", info.LogicalName, strings.Join(listed, ", "), envURL)
	}
	detail := what + " Use the column's logical name (lowercase, e.g. name or emailaddress1), not its display name."
	if hint := suggestionsFor(unknown, known); hint != "" {
		detail += " " + hint
	}
	diags.AddAttributeError(at, "Unknown column", detail)
}

// unknownTableHint is the suggestion an unknown-table error ends with.
func unknownTableHint(data *providerData, name string) string {
	if hint := didYouMean(name, data.metadata.LogicalNames()); hint != "" {
		return " " + hint
	}
	return ""
}

// warnOrganizationManagesNothing warns about an organization block that sets
// no setting: it adopts the row and changes nothing.
func warnOrganizationManagesNothing(diags *diag.Diagnostics, envURL string, cfg *organizationAuditSettingsModel) {
	if diags.HasError() || len(cfg.managedAttributes()) > 0 {
		return
	}
	diags.AddWarning("Organization resource manages nothing",
		fmt.Sprintf("This dynamics365_organization_audit_settings sets no setting, so it writes nothing to %s and what is "+
			"recorded stays as it is; it only reads the settings into the state. Set audit_enabled (and, as needed, "+
			"user_access_audit_enabled, read_audit_enabled, retention_period_days, "+
			"user_access_audit_interval_hours), or use the dynamics365_organization_audit_settings data source to read them.", envURL))
}
