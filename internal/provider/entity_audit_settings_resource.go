package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

var (
	_ resource.ResourceWithConfigure   = (*entityAuditSettingsResource)(nil)
	_ resource.ResourceWithImportState = (*entityAuditSettingsResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*entityAuditSettingsResource)(nil)
)

const (
	entityPrivateKey = "entity_audit_settings"
	// Publishing can take minutes on a busy environment.
	defaultMetadataTimeout = 30 * time.Minute
)

var logicalNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,127}$`)

const logicalNameHint = "lowercase letters, digits and underscores, e.g. account or new_project (the logical name, not the display name)"

type entityAuditSettingsModel struct {
	ID                           types.String   `tfsdk:"id"`
	EntityLogicalName            types.String   `tfsdk:"entity_logical_name"`
	AuditEnabled                 types.Bool     `tfsdk:"audit_enabled"`
	RetrieveAuditEnabled         types.Bool     `tfsdk:"retrieve_audit_enabled"`
	RetrieveMultipleAuditEnabled types.Bool     `tfsdk:"retrieve_multiple_audit_enabled"`
	Attributes                   types.Map      `tfsdk:"attributes"`
	Publish                      types.Bool     `tfsdk:"publish"`
	Published                    types.Bool     `tfsdk:"published"`
	SolutionUniqueName           types.String   `tfsdk:"solution_unique_name"`
	OnDestroy                    types.String   `tfsdk:"on_destroy"`
	Timeouts                     timeouts.Value `tfsdk:"timeouts"`
}

// entityTarget is what a write should make true; nil fields are left alone.
type entityTarget struct {
	AuditEnabled                 *bool           `json:"audit_enabled,omitempty"`
	RetrieveAuditEnabled         *bool           `json:"retrieve_audit_enabled,omitempty"`
	RetrieveMultipleAuditEnabled *bool           `json:"retrieve_multiple_audit_enabled,omitempty"`
	Attributes                   map[string]bool `json:"attributes,omitempty"`
}

func (t entityTarget) isEmpty() bool {
	return t.AuditEnabled == nil && t.RetrieveAuditEnabled == nil && t.RetrieveMultipleAuditEnabled == nil && len(t.Attributes) == 0
}

// entityPrivateState: the values seen before this resource first changed
// them, and which table-level attributes the configuration manages (Delete
// sees no configuration; managed columns are the keys of `attributes`).
type entityPrivateState struct {
	Originals entityTarget `json:"originals"`
	Managed   []string     `json:"managed"`
	Imported  bool         `json:"imported,omitempty"`
}

type entityAuditSettingsResource struct {
	data *providerData
}

func newEntityAuditSettingsResource() resource.Resource { return &entityAuditSettingsResource{} }

func (r *entityAuditSettingsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_entity_audit_settings"
}

func (r *entityAuditSettingsResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages the audit settings of one Dataverse table (entity): table auditing, single record " +
			"(read) auditing, multiple record auditing and column auditing — the per-table \"Auditing\", \"Single record " +
			"auditing\" and \"Multiple record auditing\" checkboxes and column \"Enable auditing\", followed by Save and " +
			"Publish.\n\nMetadata cannot be patched: the provider reads the full table (or column) definition, changes only " +
			"the audit fields and writes the whole definition back with `MSCRM.MergeLabels: true`, so every other property " +
			"and every label language is kept.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The table's logical name.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"entity_logical_name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Logical name of the table, e.g. `account`. Changing it manages another table (replacement).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators: []validator.String{stringvalidator.RegexMatches(logicalNamePattern,
					"must be a table logical name: "+logicalNameHint)},
			},
			"audit_enabled": managedBoolAttribute("Table auditing (`IsAuditEnabled`): record creates, updates and deletes of this " +
				"table's rows (while organization auditing is on). Tables whose setting is locked (`CanBeChanged = false`) " +
				"cannot be changed."),
			"retrieve_audit_enabled": managedBoolAttribute("Single record auditing (`IsRetrieveAuditEnabled`): log when a record is " +
				"opened (sent to Microsoft Purview while organization read auditing is on)."),
			"retrieve_multiple_audit_enabled": managedBoolAttribute("Multiple record auditing (`IsRetrieveMultipleAuditEnabled`): log " +
				"when records are viewed in lists, grids and exports (sent to Microsoft Purview while organization read " +
				"auditing is on)."),
			"attributes": schema.MapAttribute{
				ElementType: types.BoolType,
				Optional:    true,
				MarkdownDescription: "Column auditing: map of column logical name to whether the column is audited. Only " +
					"the listed columns are managed; removing a key stops managing that column (its setting is left as it is).",
				Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.RegexMatches(logicalNamePattern,
					"must be a column logical name: lowercase letters, digits and underscores, e.g. name or new_riskscore"))},
			},
			"publish": schema.BoolAttribute{
				Optional: true, Computed: true,
				Default: booldefault.StaticBool(true),
				MarkdownDescription: "Publish the table after a change (default `true`); the resource returns once the table is " +
					"published. Publishes of many tables in one run are batched. Set `false` on many resources and add one " +
					"`dynamics365_customizations_publish` to publish a large rollout once.",
			},
			"published": schema.BoolAttribute{
				Computed: true,
				MarkdownDescription: "Whether every change this resource made has been published by it. `false` after a " +
					"publish that did not finish (cancelled, timed out, failed) — the next apply publishes again — and " +
					"while `publish = false`.",
			},
			"solution_unique_name": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Unique name of the unmanaged solution that receives the change (`MSCRM.SolutionUniqueName`). " +
					"Defaults to the provider's `solution_unique_name`.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"on_destroy": onDestroyAttribute("`disable` turns off the table-level switches this resource manages and " +
				"auditing of the listed columns."),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *entityAuditSettingsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan checks the planned values against the table's metadata, so that
// an unknown table or column, a column that cannot be audited or a locked
// table fails the plan, before anything is written.
func (r *entityAuditSettingsResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var cfg, plan entityAuditSettingsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A publish left undone by an earlier apply shows as a change, so the
	// next apply publishes.
	published := types.BoolUnknown()
	if known(plan.Publish) {
		published = plan.Publish
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("published"), published)...)
	if !known(cfg.EntityLogicalName) {
		return
	}
	name := cfg.EntityLogicalName.ValueString()
	info, ok := r.entityInfo(ctx, name, &resp.Diagnostics)
	if !ok {
		return
	}
	target, diags := cfg.target()
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(checkEntityTarget(r.data.environmentURL, info, target)...)
}

// entityInfo reads the table's audit state (from the bulk read when
// possible); an unknown table is an error on entity_logical_name.
func (r *entityAuditSettingsResource) entityInfo(ctx context.Context, name string, diags *diag.Diagnostics) (*dataverse.EntityAuditInfo, bool) {
	info, err := r.data.metadata.Entity(ctx, name)
	if dataverse.IsNotFound(err) {
		diags.AddAttributeError(path.Root("entity_logical_name"), "Unknown table",
			fmt.Sprintf("%s has no table with the logical name %q. Use the table's logical name: %s.", r.data.environmentURL, name, logicalNameHint))
		return nil, false
	}
	if err != nil {
		addAPIError(diags, "Cannot read the metadata of table "+name, err)
		return nil, false
	}
	return info, true
}

// checkEntityTarget reports every part of target that cannot be applied.
// A locked or non-auditable setting is an error only when a change is needed.
func checkEntityTarget(envURL string, info *dataverse.EntityAuditInfo, target entityTarget) diag.Diagnostics {
	var diags diag.Diagnostics
	if t := target.AuditEnabled; t != nil && *t != info.IsAuditEnabled.Value && !info.IsAuditEnabled.CanBeChanged {
		diags.AddAttributeError(path.Root("audit_enabled"), "Table audit setting is locked",
			fmt.Sprintf("Auditing of table %q cannot be changed in %s: its IsAuditEnabled managed property has CanBeChanged = false "+
				"(the solution that owns the table locks it). Auditing is %s there; remove audit_enabled from this resource or set it to %t.",
				info.LogicalName, envURL, onOff(info.IsAuditEnabled.Value), info.IsAuditEnabled.Value))
	}
	for _, col := range sortedKeys(target.Attributes) {
		want := target.Attributes[col]
		p := path.Root("attributes").AtMapKey(col)
		a, ok := info.Attributes[col]
		switch {
		case !ok:
			diags.AddAttributeError(p, "Unknown column",
				fmt.Sprintf("Table %q has no column %q in %s. Use the column's logical name (lowercase, e.g. name or "+
					"emailaddress1), not its display name.", info.LogicalName, col, envURL))
		case want == a.IsAuditEnabled.Value:
		case a.AttributeOf != "":
			diags.AddAttributeError(p, "Column cannot be audited",
				fmt.Sprintf("Column %q of table %q is a virtual column derived from %q and cannot be audited. Audit %q instead.",
					col, info.LogicalName, a.AttributeOf, a.AttributeOf))
		case !a.IsAuditEnabled.CanBeChanged:
			diags.AddAttributeError(p, "Column cannot be audited",
				fmt.Sprintf("Auditing of column %q of table %q cannot be changed: its IsAuditEnabled managed property has "+
					"CanBeChanged = false (system columns such as the primary key and versionnumber are never audited). "+
					"It is %s; remove the column from attributes.", col, info.LogicalName, onOff(a.IsAuditEnabled.Value)))
		}
	}
	return diags
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (r *entityAuditSettingsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var cfg, plan entityAuditSettingsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultMetadataTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// Adopting a table publishes it even when nothing needs writing: an
	// earlier, interrupted apply may have left its change unpublished.
	priv := entityPrivateState{}
	info, _ := r.applyConfig(ctx, &cfg, &plan, &priv, true, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.fromAPI(info)
	plan.Published = plan.Publish
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(savePrivate(ctx, resp.Private, entityPrivateKey, priv)...)
}

func (r *entityAuditSettingsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var cfg, plan, state entityAuditSettingsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultMetadataTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	priv, diags := loadPrivate[entityPrivateState](ctx, req.Private, entityPrivateKey)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Publish what earlier applies left unpublished (publish turned back on,
	// or a publish that did not finish).
	publishNow := plan.Publish.ValueBool() && !state.Published.ValueBool()
	info, unpublished := r.applyConfig(ctx, &cfg, &plan, &priv, publishNow, &resp.Diagnostics)
	if unpublished {
		// Written but not published: keep that in the state, so that the
		// next plan shows published = false -> true and publishes.
		plan.fromAPI(info)
		plan.Published = types.BoolValue(false)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		resp.Diagnostics.Append(savePrivate(ctx, resp.Private, entityPrivateKey, priv)...)
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	plan.fromAPI(info)
	plan.Published = plan.Publish
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(savePrivate(ctx, resp.Private, entityPrivateKey, priv)...)
}

// applyConfig makes the table match the configuration and returns its audit
// state as re-read afterwards, and whether the change is written but its
// publish failed.
func (r *entityAuditSettingsResource) applyConfig(ctx context.Context, cfg, plan *entityAuditSettingsModel, priv *entityPrivateState, publishAnyway bool, diags *diag.Diagnostics) (*dataverse.EntityAuditInfo, bool) {
	name := plan.EntityLogicalName.ValueString()
	target, d := cfg.target()
	diags.Append(d...)
	if diags.HasError() {
		return nil, false
	}
	priv.Managed = cfg.managedTableAttributes()
	written := r.write(ctx, name, target, r.solution(plan), &priv.Originals, diags)
	if diags.HasError() {
		return nil, false
	}
	return r.finish(ctx, name, target, written || publishAnyway, plan.Publish.ValueBool(), diags)
}

// finish re-reads the table after a write, verifies the intended values and
// publishes the table when asked. It reports whether a due publish failed.
func (r *entityAuditSettingsResource) finish(ctx context.Context, name string, target entityTarget, needPublish, publish bool, diags *diag.Diagnostics) (*dataverse.EntityAuditInfo, bool) {
	info, ok := r.entityInfo(ctx, name, diags)
	if !ok {
		return nil, false
	}
	if missed := unmetTarget(info, target); len(missed) > 0 {
		diags.AddError("Audit settings did not take effect",
			fmt.Sprintf("After the update, table %q still reports different values for %s. Another change may have happened "+
				"at the same time; run terraform apply again.", name, strings.Join(missed, ", ")))
		return nil, false
	}
	if needPublish && publish {
		start := time.Now()
		if err := r.data.publisher.Publish(ctx, name); err != nil {
			addAPIError(diags, "Cannot publish table "+name, err)
			return info, true
		}
		tflog.Info(ctx, "published table", map[string]any{"entity": name, "wait_ms": time.Since(start).Milliseconds()})
	}
	return info, false
}

// write changes what target asks for, reading the full definitions and
// writing them back whole. It records originals on first change and reports
// whether anything was written.
func (r *entityAuditSettingsResource) write(ctx context.Context, name string, target entityTarget, solution string, originals *entityTarget, diags *diag.Diagnostics) bool {
	info, ok := r.entityInfo(ctx, name, diags)
	if !ok {
		return false
	}
	if d := checkEntityTarget(r.data.environmentURL, info, target); d.HasError() {
		diags.Append(d...)
		return false
	}
	client := r.data.client
	opts := dataverse.PutOptions{SolutionUniqueName: solution}
	written := false
	defer func() {
		if written {
			r.data.metadata.Invalidate(name)
		}
	}()

	if tableChangeNeeded(info, target) {
		def, err := client.GetEntityDefinition(ctx, name)
		if err != nil {
			addAPIError(diags, "Cannot read the definition of table "+name, err)
			return written
		}
		var cur struct {
			IsAuditEnabled                 dataverse.BooleanManagedProperty
			IsRetrieveAuditEnabled         bool
			IsRetrieveMultipleAuditEnabled bool
		}
		if err := json.Unmarshal(def, &cur); err != nil {
			diags.AddError("Unexpected table definition", fmt.Sprintf("Cannot read the audit fields of table %s: %v", name, err))
			return written
		}
		changes := []struct {
			want     *bool
			current  bool
			original **bool
			path     []string
		}{
			{target.AuditEnabled, cur.IsAuditEnabled.Value, &originals.AuditEnabled, []string{"IsAuditEnabled", "Value"}},
			{target.RetrieveAuditEnabled, cur.IsRetrieveAuditEnabled, &originals.RetrieveAuditEnabled, []string{"IsRetrieveAuditEnabled"}},
			{target.RetrieveMultipleAuditEnabled, cur.IsRetrieveMultipleAuditEnabled, &originals.RetrieveMultipleAuditEnabled, []string{"IsRetrieveMultipleAuditEnabled"}},
		}
		changed := false
		for _, c := range changes {
			if c.want == nil || *c.want == c.current {
				continue
			}
			if c.path[0] == "IsAuditEnabled" && !cur.IsAuditEnabled.CanBeChanged {
				diags.Append(checkEntityTarget(r.data.environmentURL, &dataverse.EntityAuditInfo{
					LogicalName: name, IsAuditEnabled: cur.IsAuditEnabled,
				}, entityTarget{AuditEnabled: c.want})...)
				return written
			}
			if *c.original == nil {
				v := c.current
				*c.original = &v
			}
			if def, err = dataverse.SetJSONValue(def, *c.want, c.path...); err != nil {
				diags.AddError("Cannot change the table definition", fmt.Sprintf("table %s, %s: %v", name, strings.Join(c.path, "."), err))
				return written
			}
			changed = true
		}
		if changed {
			tflog.Info(ctx, "updating table audit settings", map[string]any{"entity": name})
			if err := client.PutEntityDefinition(ctx, name, def, opts); err != nil {
				addAPIError(diags, "Cannot update the audit settings of table "+name, err)
				return written
			}
			written = true
		}
	}

	for _, col := range sortedKeys(target.Attributes) {
		want := target.Attributes[col]
		a := info.Attributes[col]
		if a.IsAuditEnabled.Value == want {
			continue
		}
		def, err := client.GetAttributeDefinition(ctx, name, col, a.ODataType)
		if err != nil {
			addAPIError(diags, fmt.Sprintf("Cannot read the definition of column %s.%s", name, col), err)
			return written
		}
		var cur struct {
			IsAuditEnabled dataverse.BooleanManagedProperty
		}
		if err := json.Unmarshal(def, &cur); err != nil {
			diags.AddError("Unexpected column definition", fmt.Sprintf("Cannot read the audit field of column %s.%s: %v", name, col, err))
			return written
		}
		if cur.IsAuditEnabled.Value == want {
			continue
		}
		if !cur.IsAuditEnabled.CanBeChanged {
			diags.Append(checkEntityTarget(r.data.environmentURL, &dataverse.EntityAuditInfo{
				LogicalName: name, Attributes: map[string]*dataverse.AttributeAuditInfo{col: {LogicalName: col, IsAuditEnabled: cur.IsAuditEnabled}},
			}, entityTarget{Attributes: map[string]bool{col: want}})...)
			return written
		}
		if _, seen := originals.Attributes[col]; !seen {
			if originals.Attributes == nil {
				originals.Attributes = map[string]bool{}
			}
			originals.Attributes[col] = cur.IsAuditEnabled.Value
		}
		if def, err = dataverse.SetJSONValue(def, want, "IsAuditEnabled", "Value"); err != nil {
			diags.AddError("Cannot change the column definition", fmt.Sprintf("column %s.%s: %v", name, col, err))
			return written
		}
		tflog.Info(ctx, "updating column audit setting", map[string]any{"entity": name, "attribute": col, "audit_enabled": want})
		if err := client.PutAttributeDefinition(ctx, name, col, a.ODataType, def, opts); err != nil {
			addAPIError(diags, fmt.Sprintf("Cannot update the audit setting of column %s.%s", name, col), err)
			return written
		}
		written = true
	}
	return written
}

func tableChangeNeeded(info *dataverse.EntityAuditInfo, t entityTarget) bool {
	return (t.AuditEnabled != nil && *t.AuditEnabled != info.IsAuditEnabled.Value) ||
		(t.RetrieveAuditEnabled != nil && *t.RetrieveAuditEnabled != info.IsRetrieveAuditEnabled) ||
		(t.RetrieveMultipleAuditEnabled != nil && *t.RetrieveMultipleAuditEnabled != info.IsRetrieveMultipleAuditEnabled)
}

// unmetTarget names the parts of target that info does not show.
func unmetTarget(info *dataverse.EntityAuditInfo, t entityTarget) []string {
	var out []string
	if t.AuditEnabled != nil && *t.AuditEnabled != info.IsAuditEnabled.Value {
		out = append(out, "audit_enabled")
	}
	if t.RetrieveAuditEnabled != nil && *t.RetrieveAuditEnabled != info.IsRetrieveAuditEnabled {
		out = append(out, "retrieve_audit_enabled")
	}
	if t.RetrieveMultipleAuditEnabled != nil && *t.RetrieveMultipleAuditEnabled != info.IsRetrieveMultipleAuditEnabled {
		out = append(out, "retrieve_multiple_audit_enabled")
	}
	for _, col := range sortedKeys(t.Attributes) {
		if a, ok := info.Attributes[col]; !ok || a.IsAuditEnabled.Value != t.Attributes[col] {
			out = append(out, fmt.Sprintf("attributes[%q]", col))
		}
	}
	return out
}

func (r *entityAuditSettingsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state entityAuditSettingsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.EntityLogicalName.ValueString()
	info, err := r.data.metadata.Entity(ctx, name)
	if dataverse.IsNotFound(err) {
		resp.Diagnostics.AddWarning("Table not found",
			fmt.Sprintf("Table %q no longer exists in %s; it is removed from the state.", name, r.data.environmentURL))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the metadata of table "+name, err)
		return
	}
	state.fromAPI(info)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *entityAuditSettingsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state entityAuditSettingsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.EntityLogicalName.ValueString()
	policy := state.OnDestroy.ValueString()
	if policy == "" || policy == onDestroyRetain {
		resp.Diagnostics.AddWarning("Table audit settings left in place",
			fmt.Sprintf("on_destroy = \"retain\": the audit settings of table %q in %s are unchanged; Terraform only stopped "+
				"managing them. Set on_destroy to \"restore\" or \"disable\" to change them on destroy.", name, r.data.environmentURL))
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultMetadataTimeout)
	resp.Diagnostics.Append(diags...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	priv, diags := loadPrivate[entityPrivateState](ctx, req.Private, entityPrivateKey)
	resp.Diagnostics.Append(diags...)
	stateTarget, diags := state.target()
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	managed := map[string]bool{}
	for _, a := range priv.Managed {
		managed[a] = true
	}
	var target entityTarget
	pick := func(attr string, v *bool) *bool {
		if managed[attr] {
			return v
		}
		return nil
	}
	switch policy {
	case onDestroyRestore:
		target.AuditEnabled = pick("audit_enabled", priv.Originals.AuditEnabled)
		target.RetrieveAuditEnabled = pick("retrieve_audit_enabled", priv.Originals.RetrieveAuditEnabled)
		target.RetrieveMultipleAuditEnabled = pick("retrieve_multiple_audit_enabled", priv.Originals.RetrieveMultipleAuditEnabled)
		for col := range stateTarget.Attributes {
			if v, ok := priv.Originals.Attributes[col]; ok {
				if target.Attributes == nil {
					target.Attributes = map[string]bool{}
				}
				target.Attributes[col] = v
			}
		}
		if priv.Imported {
			resp.Diagnostics.AddWarning("Restoring values seen at import",
				"This resource was imported, so the table-level values restored are those at import time.")
		}
	case onDestroyDisable:
		off := false
		target.AuditEnabled = pick("audit_enabled", &off)
		target.RetrieveAuditEnabled = pick("retrieve_audit_enabled", &off)
		target.RetrieveMultipleAuditEnabled = pick("retrieve_multiple_audit_enabled", &off)
		for col := range stateTarget.Attributes {
			if target.Attributes == nil {
				target.Attributes = map[string]bool{}
			}
			target.Attributes[col] = false
		}
	}
	if target.isEmpty() {
		return
	}
	if _, err := r.data.metadata.Entity(ctx, name); dataverse.IsNotFound(err) {
		return
	}
	written := r.write(ctx, name, target, r.solution(&state), &entityTarget{}, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.finish(ctx, name, target, written, state.Publish.ValueBool(), &resp.Diagnostics)
}

// ImportState takes the table's logical name. Columns to manage come from
// the configuration; the table-level values now are the originals.
func (r *entityAuditSettingsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name := strings.TrimSpace(req.ID)
	if !logicalNamePattern.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("%q is not a table logical name. Import with the table's logical name: %s.", req.ID, logicalNameHint))
		return
	}
	info, err := r.data.metadata.Entity(ctx, name)
	if dataverse.IsNotFound(err) {
		resp.Diagnostics.AddError("Unknown table",
			fmt.Sprintf("%s has no table with the logical name %q. Import with the table's logical name: %s.", r.data.environmentURL, name, logicalNameHint))
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the metadata of table "+name, err)
		return
	}
	// Only the identity and defaults here; Read fills in the rest.
	for attr, v := range map[string]any{
		"id": name, "entity_logical_name": name, "publish": true, "published": true, "on_destroy": onDestroyRetain,
	} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
	a, rt, rm := info.IsAuditEnabled.Value, info.IsRetrieveAuditEnabled, info.IsRetrieveMultipleAuditEnabled
	priv := entityPrivateState{Imported: true, Originals: entityTarget{AuditEnabled: &a, RetrieveAuditEnabled: &rt, RetrieveMultipleAuditEnabled: &rm}}
	resp.Diagnostics.Append(savePrivate(ctx, resp.Private, entityPrivateKey, priv)...)
}

func (r *entityAuditSettingsResource) solution(m *entityAuditSettingsModel) string {
	if known(m.SolutionUniqueName) {
		return m.SolutionUniqueName.ValueString()
	}
	return r.data.solutionUniqueName
}

// fromAPI sets the computed values: the table-level settings, and the
// current value of every column listed in attributes (a column that no
// longer exists drops out, so the plan shows it again).
func (m *entityAuditSettingsModel) fromAPI(info *dataverse.EntityAuditInfo) {
	m.ID = types.StringValue(info.LogicalName)
	m.EntityLogicalName = types.StringValue(info.LogicalName)
	m.AuditEnabled = types.BoolValue(info.IsAuditEnabled.Value)
	m.RetrieveAuditEnabled = types.BoolValue(info.IsRetrieveAuditEnabled)
	m.RetrieveMultipleAuditEnabled = types.BoolValue(info.IsRetrieveMultipleAuditEnabled)
	if m.Attributes.IsNull() || m.Attributes.IsUnknown() {
		return
	}
	values := map[string]types.Bool{}
	for col := range m.Attributes.Elements() {
		if a, ok := info.Attributes[col]; ok {
			values[col] = types.BoolValue(a.IsAuditEnabled.Value)
		}
	}
	elems := make(map[string]attr.Value, len(values))
	for k, v := range values {
		elems[k] = v
	}
	m.Attributes = types.MapValueMust(types.BoolType, elems)
}

// target is what the configuration asks for (known values only).
func (m *entityAuditSettingsModel) target() (entityTarget, diag.Diagnostics) {
	var t entityTarget
	if known(m.AuditEnabled) {
		t.AuditEnabled = m.AuditEnabled.ValueBoolPointer()
	}
	if known(m.RetrieveAuditEnabled) {
		t.RetrieveAuditEnabled = m.RetrieveAuditEnabled.ValueBoolPointer()
	}
	if known(m.RetrieveMultipleAuditEnabled) {
		t.RetrieveMultipleAuditEnabled = m.RetrieveMultipleAuditEnabled.ValueBoolPointer()
	}
	if !known(m.Attributes) {
		return t, nil
	}
	var diags diag.Diagnostics
	t.Attributes = map[string]bool{}
	for col, v := range m.Attributes.Elements() {
		b, ok := v.(types.Bool)
		if !ok {
			diags.AddAttributeError(path.Root("attributes").AtMapKey(col), "Unexpected value", fmt.Sprintf("expected a bool, got %T", v))
			continue
		}
		if known(b) {
			t.Attributes[col] = b.ValueBool()
		}
	}
	return t, diags
}

func (m *entityAuditSettingsModel) managedTableAttributes() []string {
	var out []string
	if !m.AuditEnabled.IsNull() {
		out = append(out, "audit_enabled")
	}
	if !m.RetrieveAuditEnabled.IsNull() {
		out = append(out, "retrieve_audit_enabled")
	}
	if !m.RetrieveMultipleAuditEnabled.IsNull() {
		out = append(out, "retrieve_multiple_audit_enabled")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
