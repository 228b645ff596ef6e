package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

var (
	_ resource.ResourceWithImportState    = (*organizationAuditSettingsResource)(nil)
	_ resource.ResourceWithValidateConfig = (*organizationAuditSettingsResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*organizationAuditSettingsResource)(nil)
)

const orgPrivateKey = "organization_audit_settings"

type organizationAuditSettingsModel struct {
	ID types.String `tfsdk:"id"`
	organizationAuditSettingsValues
	OnDestroy types.String `tfsdk:"on_destroy"`
}

type orgPrivateState = settingsPrivateState[orgPatch]

type organizationAuditSettingsResource struct{ resourceBase }

var newOrganizationAuditSettingsResource = newResource[organizationAuditSettingsResource]("_organization_audit_settings")

func (r *organizationAuditSettingsResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attributes := map[string]schema.Attribute{
		"id": stateKeptString("The organization ID (`organizationid`) of the environment."),
		"on_destroy": onDestroyAttribute("`disable` turns off the audit switches this resource manages (retention " +
			"and interval are left alone)."),
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages the organization-wide audit settings of a Dataverse environment (Power Platform admin " +
			"center > Settings > Auditing): start auditing, user-access auditing, read auditing, log retention and the " +
			"user-access logging interval. There is one such object per environment: creating this resource adopts it.\n\n" +
			"Only the attributes set in the configuration are managed; the others are read and reported, never overwritten.",
		Attributes: withSettings(attributes, orgSetting.resourceAttribute),
	}
}

// ValidateConfig refuses read auditing without auditing when both are in the
// configuration, at plan time.
func (r *organizationAuditSettingsResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	cfg, ok := getModel[organizationAuditSettingsModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	if isTrue(cfg.ReadAuditEnabled) && isFalse(cfg.AuditEnabled) {
		resp.Diagnostics.AddAttributeError(path.Root("read_audit_enabled"), "Read auditing needs auditing",
			"read_audit_enabled = true works only while auditing is on, but audit_enabled = false. "+
				"Set audit_enabled = true, or set read_audit_enabled = false.")
	}
}

// ModifyPlan checks read auditing against the environment when the
// configuration leaves audit_enabled to the environment, so that the mistake
// shows in the plan rather than half-way through an apply.
func (r *organizationAuditSettingsResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var cfg organizationAuditSettingsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	warnOrganizationManagesNothing(&resp.Diagnostics, r.data.environmentURL, &cfg)
	if resp.Diagnostics.HasError() || !isTrue(cfg.ReadAuditEnabled) || !cfg.AuditEnabled.IsNull() {
		return
	}
	var auditOn bool
	if req.State.Raw.IsNull() {
		current, err := r.data.client.GetOrganizationAuditSettings(ctx)
		if err != nil {
			addAPIError(&resp.Diagnostics, "Cannot read the organization audit settings", err)
			return
		}
		auditOn = current.IsAuditEnabled
	} else {
		state, ok := getModel[organizationAuditSettingsModel](ctx, req.State, &resp.Diagnostics)
		if !ok {
			return
		}
		auditOn = state.AuditEnabled.ValueBool()
	}
	if !auditOn {
		resp.Diagnostics.Append(readAuditNeedsAuditDiag(r.data.environmentURL))
	}
}

func readAuditNeedsAuditDiag(envURL string) diag.Diagnostic {
	return diag.NewAttributeErrorDiagnostic(path.Root("read_audit_enabled"), "Read auditing needs auditing",
		fmt.Sprintf("read_audit_enabled = true works only while auditing is on, and auditing is off in %s. "+
			"Add audit_enabled = true to this resource, or turn auditing on in the environment first.", envURL))
}

func (r *organizationAuditSettingsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.applyPlan(ctx, req.Config, req.Plan, noPrivateState{}, &resp.State, resp.Private, &resp.Diagnostics)
}

func (r *organizationAuditSettingsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, ok := getModel[organizationAuditSettingsModel](ctx, req.State, &resp.Diagnostics)
	if !ok {
		return
	}
	current, err := r.data.client.GetOrganizationAuditSettingsByID(ctx, state.ID.ValueString())
	if dataverse.IsNotFound(err) {
		resp.Diagnostics.AddWarning("Organization not found",
			fmt.Sprintf("Organization %s no longer exists in %s; it is removed from the state.", state.ID.ValueString(), r.data.environmentURL))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the organization audit settings", err)
		return
	}
	state.setFromEnvironment(current)
	if state.OnDestroy.IsNull() || state.OnDestroy.IsUnknown() {
		state.OnDestroy = types.StringValue(onDestroyRetain)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *organizationAuditSettingsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.applyPlan(ctx, req.Config, req.Plan, req.Private, &resp.State, resp.Private, &resp.Diagnostics)
}

// applyPlan is Create and Update: it applies the configuration to the
// organization and stores the settings the environment reports afterwards,
// with the private state.
func (r *organizationAuditSettingsResource) applyPlan(ctx context.Context, config tfsdk.Config, planned tfsdk.Plan,
	prior privateGetter, state *tfsdk.State, private privateSetter, diags *diag.Diagnostics) {
	cfg, plan, ok := configAndPlan[organizationAuditSettingsModel](ctx, config, planned, diags)
	if !ok {
		return
	}
	priv, loadDiags := loadPrivate[orgPrivateState](ctx, prior, orgPrivateKey)
	diags.Append(loadDiags...)
	if diags.HasError() {
		return
	}
	current, err := r.plannedOrganization(ctx, plan.ID)
	if err != nil {
		addAPIError(diags, "Cannot read the organization audit settings", err)
		return
	}
	updated := r.applyConfiguration(ctx, &cfg, current, &priv, diags)
	if diags.HasError() {
		return
	}
	plan.setFromEnvironment(updated)
	diags.Append(state.Set(ctx, &plan)...)
	diags.Append(savePrivate(ctx, private, orgPrivateKey, priv)...)
}

// plannedOrganization reads the organization by its ID; on create the ID is
// not known yet and the environment's only organization is read.
func (r *organizationAuditSettingsResource) plannedOrganization(ctx context.Context, id types.String) (*orgSettings, error) {
	if !known(id) {
		return r.data.client.GetOrganizationAuditSettings(ctx)
	}
	return r.data.client.GetOrganizationAuditSettingsByID(ctx, id.ValueString())
}

// noPrivateState is the private state a resource has before Create.
type noPrivateState struct{}

func (noPrivateState) GetKey(context.Context, string) ([]byte, diag.Diagnostics) { return nil, nil }

// applyConfiguration patches the settings the configuration manages where they differ
// from the environment, remembers originals, and returns the settings as
// re-read after the change.
func (r *organizationAuditSettingsResource) applyConfiguration(ctx context.Context, cfg *organizationAuditSettingsModel, current *orgSettings, priv *orgPrivateState, diags *diag.Diagnostics) *orgSettings {
	if isTrue(cfg.ReadAuditEnabled) && cfg.AuditEnabled.IsNull() && !current.IsAuditEnabled {
		diags.Append(readAuditNeedsAuditDiag(r.data.environmentURL))
		return nil
	}
	priv.Managed = cfg.managedAttributes()
	patch := cfg.changesFrom(current)
	if patch.IsEmpty() {
		return current
	}
	rememberOriginals(priv, patch, current)
	tflog.Info(ctx, "updating organization audit settings", map[string]any{"organization_id": current.OrganizationID, "changes": patchAttributes(patch)})
	if err := r.data.client.UpdateOrganizationAuditSettings(ctx, current.OrganizationID, patch); err != nil {
		addOrganizationUpdateError(diags, "Cannot update the organization audit settings", patch, err)
		return nil
	}
	updated, err := r.data.client.GetOrganizationAuditSettingsByID(ctx, current.OrganizationID)
	if err != nil {
		addAPIError(diags, "Cannot read the organization audit settings after the update", err)
		return nil
	}
	if still := cfg.changesFrom(updated); !still.IsEmpty() {
		diags.AddError("Organization audit settings did not take effect",
			fmt.Sprintf("After the update, Dataverse still reports different values for %s. Another change may have "+
				"happened at the same time; run terraform apply again.", strings.Join(patchAttributes(still), ", ")))
		return nil
	}
	return updated
}

func (r *organizationAuditSettingsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ok := getModel[organizationAuditSettingsModel](ctx, req.State, &resp.Diagnostics)
	if !ok {
		return
	}
	policy := state.OnDestroy.ValueString()
	if policy == "" || policy == onDestroyRetain {
		resp.Diagnostics.AddWarning("Organization audit settings left in place",
			fmt.Sprintf("on_destroy = \"retain\": the audit settings of %s are unchanged; Terraform only stopped managing them. "+
				"Set on_destroy to \"restore\" or \"disable\" to change them on destroy.", r.data.environmentURL))
		return
	}
	priv, diags := loadPrivate[orgPrivateState](ctx, req.Private, orgPrivateKey)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	current, err := r.data.client.GetOrganizationAuditSettingsByID(ctx, state.ID.ValueString())
	if dataverse.IsNotFound(err) {
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the organization audit settings", err)
		return
	}
	var target orgPatch
	switch policy {
	case onDestroyRestore:
		target = onlyManaged(priv.Originals, priv.Managed)
		warnNotSetOriginals(&resp.Diagnostics, priv, current)
		if priv.Imported {
			resp.Diagnostics.AddWarning("Restoring values seen at import",
				"This resource was imported, so the values restored are those the environment had at import time, "+
					"not necessarily those before Terraform first managed it.")
		}
	case onDestroyDisable:
		target = disabledManaged(priv.Managed)
	}
	patch := withoutCurrent(target, current)
	if patch.IsEmpty() {
		return
	}
	tflog.Info(ctx, "reverting organization audit settings on destroy", map[string]any{"policy": policy, "changes": patchAttributes(patch)})
	if err := r.data.client.UpdateOrganizationAuditSettings(ctx, current.OrganizationID, patch); err != nil {
		addOrganizationUpdateError(&resp.Diagnostics, "Cannot "+policy+" the organization audit settings", patch, err)
	}
}

// ImportState takes the organization ID, checks it names this environment's
// organization, and keeps the current values as originals.
func (r *organizationAuditSettingsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := strings.TrimSpace(req.ID)
	if !guidPattern.MatchString(id) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("%q is not an organization ID. Import with the environment's organization ID, a GUID such as "+
				"00000000-0000-0000-0000-000000000000 (Power Platform admin center > Environment > Details, or the "+
				"OrganizationId returned by WhoAmI).", req.ID))
		return
	}
	current, err := r.data.client.GetOrganizationAuditSettingsByID(ctx, id)
	if dataverse.IsNotFound(err) {
		resp.Diagnostics.AddError("Organization not found",
			fmt.Sprintf("%s has no organization with ID %s. Import with this environment's organization ID "+
				"(the OrganizationId returned by WhoAmI).", r.data.environmentURL, id))
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the organization audit settings", err)
		return
	}
	var state organizationAuditSettingsModel
	state.setFromEnvironment(current)
	state.OnDestroy = types.StringValue(onDestroyRetain)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	originals, notSet := importOriginals(current)
	priv := orgPrivateState{Imported: true, Originals: originals, NotSetOriginals: notSet}
	resp.Diagnostics.Append(savePrivate(ctx, resp.Private, orgPrivateKey, priv)...)
}

// setFromEnvironment reports the environment's organization in the model.
func (m *organizationAuditSettingsModel) setFromEnvironment(current *orgSettings) {
	m.ID = types.StringValue(current.OrganizationID)
	m.organizationAuditSettingsValues.setFromEnvironment(current)
}
