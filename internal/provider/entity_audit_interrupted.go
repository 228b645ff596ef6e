package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// rereadAfterInterruptTimeout bounds the one read made after Terraform
// stopped an apply, to fill the state of a table that was already written.
const rereadAfterInterruptTimeout = 15 * time.Second

// keepFailedCreate finishes a Create that failed (diags holds its errors).
// When the table was already written, the state and the private state can
// be saved anyway: without them the next apply finds the table already
// changed, records no originals, and on_destroy = "restore" would bring
// back the configured values instead of those seen before the first write.
//
// That is done when Terraform itself stopped the apply (Ctrl-C: requestCtx
// is done); the failure then becomes a warning, so that the resource is not
// tainted (Terraform reports the interrupt as an error anyway). The next
// refresh shows published = false if the publish did not finish, and the
// next apply publishes.
func (r *entityAuditSettingsResource) keepFailedCreate(requestCtx context.Context, resp *resource.CreateResponse,
	plan *entityAuditSettingsModel, info *dataverse.EntityAuditInfo, priv entityPrivateState, diags diag.Diagnostics) {
	if priv.Originals.isEmpty() || requestCtx.Err() == nil {
		// Nothing was written, or a failure of the service: an error, and no
		// state. Saving the state with an error would taint the resource, and
		// Terraform gives the Delete of a replacement no private state, so
		// that Delete would lose the originals anyway (and disable would
		// switch auditing off for a moment). The next apply creates again and
		// publishes; a destroy then warns that the originals are unknown.
		resp.Diagnostics.Append(diags...)
		return
	}
	name := plan.EntityLogicalName.ValueString()
	if info == nil {
		info = r.rereadAfterFailure(requestCtx, name, plan.stateColumns())
	}
	fillUnknowns(plan, info)
	resp.Diagnostics.Append(resp.State.Set(requestCtx, plan)...)
	resp.Diagnostics.Append(savePrivate(requestCtx, resp.Private, entityPrivateKey, priv)...)
	resp.Diagnostics.AddWarning("Apply interrupted after table "+name+" was written",
		fmt.Sprintf("Terraform stopped the apply after audit settings of table %q in %s were saved, before they were "+
			"published. The state keeps the values seen before the change (which on_destroy = \"restore\" brings back); "+
			"run terraform apply again: it publishes what is left unpublished. The interrupted step reported: %s",
			name, r.data.environmentURL, diagnosticSummaries(diags)))
}

// rereadAfterFailure reads the table once more, even though the request's
// context may be cancelled; nil when that fails too.
func (r *entityAuditSettingsResource) rereadAfterFailure(requestCtx context.Context, name string, columns map[string]bool) *dataverse.EntityAuditInfo {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(requestCtx), rereadAfterInterruptTimeout)
	defer cancel()
	info, err := r.data.metadata.Entity(ctx, name, sortedKeys(columns)...)
	if err != nil {
		return nil
	}
	return info
}

// fillUnknowns gives the values left unknown in the plan those of info
// (nil: null), keeping every planned value: a state that differs from the
// plan would be "inconsistent" and taint the resource. The next refresh
// reports the truth, including published = false if the publish did not
// happen, so the next plan publishes.
func fillUnknowns(m *entityAuditSettingsModel, info *dataverse.EntityAuditInfo) {
	for _, s := range tableAuditSettings {
		v := s.value(m)
		switch {
		case !v.IsUnknown():
		case info != nil:
			*v = types.BoolValue(s.field.In(info).Value)
		default:
			*v = types.BoolNull()
		}
	}
	if m.ID.IsUnknown() {
		m.ID = m.EntityLogicalName
	}
	if m.Published.IsUnknown() {
		m.Published = types.BoolValue(false)
	}
}

// diagnosticSummaries joins the summaries and details of diags' errors.
func diagnosticSummaries(diags diag.Diagnostics) string {
	out := ""
	for _, d := range diags.Errors() {
		if out != "" {
			out += "; "
		}
		out += d.Summary() + ": " + d.Detail()
	}
	return out
}

// warnUnknownOriginals warns, for on_destroy = "restore", about the managed
// settings whose value before this resource is not recorded: nothing is
// written for them. That happens when the setting already had the configured
// value when the resource was created, or when a create that failed after
// writing was run again (the second run finds the table already changed).
func warnUnknownOriginals(diags *diag.Diagnostics, envURL, table string, priv entityPrivateState, stateColumns map[string]bool) {
	var unknown []string
	for _, s := range tableAuditSettings {
		if _, ok := priv.Originals.Table[s.field]; !ok && slices.Contains(priv.Managed, s.attribute) {
			unknown = append(unknown, s.attribute)
		}
	}
	for _, col := range sortedKeys(stateColumns) {
		if _, ok := priv.Originals.Attributes[col]; !ok {
			unknown = append(unknown, "attributes."+col)
		}
	}
	if len(unknown) == 0 {
		return
	}
	diags.AddWarning("Original audit settings unknown for table "+table,
		fmt.Sprintf("on_destroy = \"restore\": no value from before this resource is recorded for %s of table %q in %s, "+
			"so they are left as they are now. Either they already had the configured value when the resource was "+
			"created, or an earlier apply that changed them failed and was run again. Check them in the table's "+
			"settings (Power Apps, Tables, %s, Properties) and set them by hand if needed.",
			strings.Join(unknown, ", "), table, envURL, table))
}
