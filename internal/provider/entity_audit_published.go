package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// `published` is read from the service: whether the published audit
// settings of what this resource manages equal the saved ones. A portal Save
// without Publish, or an apply killed between its write and its publish,
// shows as published = false, and with publish = true the next plan
// publishes.

// unpublishedManaged names the managed settings of a table whose saved value
// differs from the published one: the table-level attributes listed in
// managed (Terraform names; all of them when managed is nil) and the columns
// in columns.
func unpublishedManaged(info *dataverse.EntityAuditInfo, managed []string, columns map[string]bool) []string {
	if info == nil || info.Published == nil {
		return nil
	}
	isManaged := func(attr string) bool {
		if managed == nil {
			return true
		}
		for _, a := range managed {
			if a == attr {
				return true
			}
		}
		return false
	}
	var out []string
	for _, changed := range info.UnpublishedAuditChanges() {
		if s, ok := tableAuditSettingOf(dataverse.TableAuditField(changed)); ok {
			if isManaged(s.attribute) {
				out = append(out, s.attribute)
			}
			continue
		}
		if _, ok := columns[changed]; ok {
			out = append(out, fmt.Sprintf("attributes[%q]", changed))
		}
	}
	return out
}

// stateColumns are the columns the model lists in attributes.
func (m *entityAuditSettingsModel) stateColumns() map[string]bool {
	out := map[string]bool{}
	if known(m.Attributes) {
		for col := range m.Attributes.Elements() {
			out[col] = true
		}
	}
	return out
}

// publishedTruth is `published` as the service shows it for m's settings.
func (m *entityAuditSettingsModel) publishedTruth(info *dataverse.EntityAuditInfo, managed []string) types.Bool {
	return types.BoolValue(len(unpublishedManaged(info, managed, m.stateColumns())) == 0)
}

// publishedAfterApply is `published` after an apply whose publish (if any)
// succeeded: true when the resource publishes, otherwise what the re-read
// shows.
func publishedAfterApply(plan, cfg *entityAuditSettingsModel, info *dataverse.EntityAuditInfo) types.Bool {
	if plan.Publish.ValueBool() {
		return types.BoolValue(true)
	}
	return plan.publishedTruth(info, cfg.managedTableAttributes())
}

// writePlanned is whether the configuration asks for a value the state does
// not have (an unknown value counts as a change).
func writePlanned(cfg, state *entityAuditSettingsModel) bool {
	for _, s := range tableAuditSettings {
		c := *s.value(cfg)
		if c.IsUnknown() || (!c.IsNull() && !c.Equal(*s.value(state))) {
			return true
		}
	}
	if cfg.Attributes.IsUnknown() {
		return true
	}
	if cfg.Attributes.IsNull() {
		return false
	}
	have := state.Attributes.Elements()
	for col, v := range cfg.Attributes.Elements() {
		if v.IsUnknown() || !v.Equal(have[col]) {
			return true
		}
	}
	return false
}

// planPublished sets the planned `published`: true whenever publish = true
// (so a state showing false plans the publish); with publish = false the
// state's value when nothing will be written, unknown otherwise.
func planPublished(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, cfg, plan *entityAuditSettingsModel) {
	published := types.BoolUnknown()
	switch {
	case !known(plan.Publish):
	case plan.Publish.ValueBool():
		published = types.BoolValue(true)
	case !req.State.Raw.IsNull():
		var state entityAuditSettingsModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if !writePlanned(cfg, &state) {
			published = state.Published
		}
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("published"), published)...)
}

// warnUnpublished warns, with publish = false, when the table's managed
// settings will stay (or already are) saved but unpublished. The summary is
// the same for every table, so that Terraform folds the warnings into one.
func warnUnpublished(diags *diag.Diagnostics, envURL string, cfg *entityAuditSettingsModel, info *dataverse.EntityAuditInfo, target entityTarget) {
	if !known(cfg.Publish) || cfg.Publish.ValueBool() {
		return
	}
	pending := unpublishedManaged(info, cfg.managedTableAttributes(), cfg.stateColumns())
	if len(pending) == 0 && len(unmetTarget(info, target)) == 0 {
		return
	}
	what := "the change this plan makes"
	if len(pending) > 0 {
		what = "saved changes of " + strings.Join(pending, ", ")
	}
	diags.AddAttributeWarning(path.Root("publish"), "Audit settings will stay unpublished",
		fmt.Sprintf("Table %q in %s: publish = false, so %s will be saved but not published. Dataverse keeps auditing by "+
			"the published settings until the table is published: add a dynamics365_customizations_publish for it, or set "+
			"publish = true.", info.LogicalName, envURL, what))
}
