package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

var (
	_ resource.ResourceWithImportState = (*entityAuditSettingsResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*entityAuditSettingsResource)(nil)
)

const (
	entityPrivateKey = "entity_audit_settings"
	// Publishing can take minutes on a busy environment.
	defaultMetadataTimeout = 30 * time.Minute
)

// tableAuditValues are the three table-level audit settings as the entity
// resource and the items of the entities data source both hold them (each
// model embeds this).
type tableAuditValues struct {
	AuditEnabled                 types.Bool `tfsdk:"audit_enabled"`
	RetrieveAuditEnabled         types.Bool `tfsdk:"retrieve_audit_enabled"`
	RetrieveMultipleAuditEnabled types.Bool `tfsdk:"retrieve_multiple_audit_enabled"`
}

type entityAuditSettingsModel struct {
	ID                types.String `tfsdk:"id"`
	EntityLogicalName types.String `tfsdk:"entity_logical_name"`
	tableAuditValues
	Attributes         types.Map      `tfsdk:"attributes"`
	Publish            types.Bool     `tfsdk:"publish"`
	Published          types.Bool     `tfsdk:"published"`
	SolutionUniqueName types.String   `tfsdk:"solution_unique_name"`
	OnDestroy          types.String   `tfsdk:"on_destroy"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// entityPrivateState: Managed lists the table-level attributes only;
// managed columns are the keys of `attributes` in the state.
type entityPrivateState = settingsPrivateState[entityTarget]

type entityAuditSettingsResource struct{ resourceBase }

var newEntityAuditSettingsResource = newResource[entityAuditSettingsResource]("_entity_audit_settings")

func (r *entityAuditSettingsResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = entityAuditSettingsSchema(ctx)
}

func entityAuditSettingsSchema(ctx context.Context) schema.Schema {
	s := schema.Schema{
		MarkdownDescription: "Manages the audit settings of one Dataverse table (entity): table auditing, single record " +
			"(read) auditing, multiple record auditing and column auditing — the per-table \"Auditing\", \"Single record " +
			"auditing\" and \"Multiple record auditing\" checkboxes and column \"Enable auditing\", followed by Save and " +
			"Publish.\n\nMetadata cannot be patched: the provider reads the full table (or column) definition, changes only " +
			"the audit fields and writes the whole definition back with `MSCRM.MergeLabels: true`, so every other property " +
			"and every label language is kept.",
		Attributes: map[string]schema.Attribute{
			"id": stateKeptString("The table's logical name."),
			"entity_logical_name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Logical name of the table, e.g. `account`. Changing it manages another table (replacement).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{tableLogicalNameValidator},
			},
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
				MarkdownDescription: "Whether the published audit settings of what this resource manages equal the saved " +
					"ones, as read from Dataverse (the saved definition with `RetrieveEntity`, `RetrieveAsIfPublished` true; the " +
					"published audit fields with a `GET` of `EntityDefinitions`). `false` after " +
					"a publish that did not finish, an apply interrupted before its publish, or a Save without Publish in the " +
					"portal: with `publish = true` the next plan shows `published: false -> true` and the apply publishes; with " +
					"`publish = false` it reports the truth and the plan warns that the change stays unpublished.",
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
	for _, setting := range tableAuditSettings {
		s.Attributes[setting.attribute] = managedBoolAttribute(setting.description)
	}
	return s
}

// ModifyPlan checks the planned values against the table's metadata, so that
// an unknown table or column, a column that cannot be audited or a locked
// table fails the plan, before anything is written.
func (r *entityAuditSettingsResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	// Tracked: Terraform plans each resource again in the apply walk, just
	// before its apply; an untracked operation there let a publish batch
	// go without the tables about to be written.
	defer trackOperation(&ctx, r.data)()
	cfg, plan, ok := configAndPlan[entityAuditSettingsModel](ctx, req.Config, req.Plan, &resp.Diagnostics)
	if !ok {
		return
	}
	// A publish left undone (by an earlier apply, or a Save without
	// Publish) shows as a change, so the next apply publishes.
	planPublished(ctx, req, resp, &cfg, &plan)
	if !known(cfg.EntityLogicalName) {
		return
	}
	name := cfg.EntityLogicalName.ValueString()
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(r.requireLatestIfWrittenRecently(ctx, name, req.Private)...)
	}
	info, ok := r.entityInfo(ctx, name, columnsOf(!cfg.Attributes.IsNull(), cfg.stateColumns()), &resp.Diagnostics)
	if !ok {
		return
	}
	target, diags := cfg.target()
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(checkEntityTarget(r.data.environmentURL, info, target)...)
	checkTableClaim(r.data, req, name, target, &resp.Diagnostics)
	warnRecordsNothing(ctx, r.data, &cfg, info, target, &resp.Diagnostics)
	warnUnpublished(&resp.Diagnostics, r.data.environmentURL, &cfg, info, target)
}

// tableRead is what a resource reads of its table: the table-level fields,
// and its columns when it manages some (attributes set), with the published
// value of the columns it lists.
type tableRead struct {
	columns dataverse.ColumnsOption
	managed []string
}

// columnsOf is the read of a resource that manages the columns in names
// (managesColumns: attributes is set, even to an empty map); the others
// read the table-level fields only.
func columnsOf[V any](managesColumns bool, names map[string]V) tableRead {
	if !managesColumns {
		return tableRead{columns: dataverse.WithoutColumns}
	}
	return tableRead{columns: dataverse.WithColumns, managed: sortedKeys(names)}
}

// readTable reads the table's audit state through the command's cache,
// with its columns only when asked.
func readTable(ctx context.Context, data *providerData, name string, read tableRead) (*dataverse.EntityAuditInfo, error) {
	if read.columns == dataverse.WithColumns {
		return data.metadata.Entity(ctx, name, read.managed...)
	}
	return data.metadata.Table(ctx, name)
}

// entityInfo reads the table's audit state (coalesced with other
// resources' reads); an unknown table is an error on entity_logical_name.
func (r *entityAuditSettingsResource) entityInfo(ctx context.Context, name string, read tableRead, diags *diag.Diagnostics) (*dataverse.EntityAuditInfo, bool) {
	info, err := readTable(ctx, r.data, name, read)
	if dataverse.IsNotFound(err) {
		diags.AddAttributeError(path.Root("entity_logical_name"), "Unknown table",
			fmt.Sprintf("%s has no table with the logical name %q. Use the table's logical name: %s.", r.data.environmentURL, name, logicalNameHint)+
				unknownTableHint(r.data, name))
		return nil, false
	}
	if err != nil {
		addAPIError(diags, "Cannot read the metadata of table "+name, err)
		return nil, false
	}
	return info, true
}

func (r *entityAuditSettingsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer trackOperation(&ctx, r.data)()
	cfg, plan, ok := configAndPlan[entityAuditSettingsModel](ctx, req.Config, req.Plan, &resp.Diagnostics)
	if !ok {
		return
	}
	requestCtx := ctx
	ctx, cancel := withOperationTimeout(ctx, plan.Timeouts.Create, defaultMetadataTimeout, &resp.Diagnostics)
	defer cancel()

	// Adopting a table publishes it even when nothing needs writing: an
	// earlier, interrupted apply may have left its change unpublished.
	priv := entityPrivateState{}
	var applyDiags diag.Diagnostics
	info, _ := r.applyConfig(ctx, &cfg, &plan, &priv, publishEvenIfUnchanged, &applyDiags)
	// Recorded even when the apply was interrupted: the table may have been
	// written, so the next command reads it past Dataverse's metadata cache.
	applyDiags.Append(r.rememberAdoption(ctx, plan.EntityLogicalName.ValueString(), resp.Private)...)
	if applyDiags.HasError() {
		r.keepFailedCreate(requestCtx, resp, &plan, info, priv, applyDiags)
		return
	}
	resp.Diagnostics.Append(applyDiags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(storeApplied(ctx, &resp.State, resp.Private, &plan, info, publishedAfterApply(&plan, &cfg, info), priv)...)
}

func (r *entityAuditSettingsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer trackOperation(&ctx, r.data)()
	cfg, plan, _ := configAndPlan[entityAuditSettingsModel](ctx, req.Config, req.Plan, &resp.Diagnostics)
	state, ok := getModel[entityAuditSettingsModel](ctx, req.State, &resp.Diagnostics)
	if !ok {
		return
	}
	ctx, cancel := withOperationTimeout(ctx, plan.Timeouts.Update, defaultMetadataTimeout, &resp.Diagnostics)
	defer cancel()

	priv, diags := loadPrivate[entityPrivateState](ctx, req.Private, entityPrivateKey)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(r.requireLatestIfWrittenRecently(ctx, plan.EntityLogicalName.ValueString(), req.Private)...)
	if resp.Diagnostics.HasError() {
		return
	}
	info, unpublished := r.applyConfig(ctx, &cfg, &plan, &priv, publishPolicyForUpdate(&plan, &state), &resp.Diagnostics)
	resp.Diagnostics.Append(r.rememberWrite(ctx, plan.EntityLogicalName.ValueString(), resp.Private)...)
	switch {
	case unpublished:
		// Written but not published: keep that in the state, so that the
		// next plan shows published = false -> true and publishes.
		resp.Diagnostics.Append(storeApplied(ctx, &resp.State, resp.Private, &plan, info, types.BoolValue(false), priv)...)
	case !resp.Diagnostics.HasError():
		resp.Diagnostics.Append(storeApplied(ctx, &resp.State, resp.Private, &plan, info, publishedAfterApply(&plan, &cfg, info), priv)...)
	}
}

// storeApplied saves the table as re-read after an apply, whether its
// change is published, and the private state.
func storeApplied(ctx context.Context, state *tfsdk.State, private privateSetter, plan *entityAuditSettingsModel,
	info *dataverse.EntityAuditInfo, published types.Bool, priv entityPrivateState) diag.Diagnostics {
	plan.refreshFrom(info)
	plan.Published = published
	diags := state.Set(ctx, plan)
	diags.Append(savePrivate(ctx, private, entityPrivateKey, priv)...)
	return diags
}

// publishPolicy says whether applyConfig publishes a table it did not
// change.
type publishPolicy int

const (
	// publishIfWritten publishes only after a write.
	publishIfWritten publishPolicy = iota
	// publishEvenIfUnchanged also publishes a table that already matched:
	// an earlier, interrupted apply may have left its change unpublished.
	publishEvenIfUnchanged
)

// publishPolicyForUpdate publishes what earlier applies left unpublished
// (publish turned back on, or a publish that did not finish).
func publishPolicyForUpdate(plan, state *entityAuditSettingsModel) publishPolicy {
	if plan.Publish.ValueBool() && !state.Published.ValueBool() {
		return publishEvenIfUnchanged
	}
	return publishIfWritten
}

// applyConfig makes the table match the configuration and returns its audit
// state as re-read afterwards, and whether the change is written but its
// publish failed.
func (r *entityAuditSettingsResource) applyConfig(ctx context.Context, cfg, plan *entityAuditSettingsModel, priv *entityPrivateState, policy publishPolicy, diags *diag.Diagnostics) (*dataverse.EntityAuditInfo, bool) {
	name := plan.EntityLogicalName.ValueString()
	target, d := cfg.target()
	diags.Append(d...)
	if diags.HasError() {
		return nil, false
	}
	priv.Managed = cfg.managedTableAttributes()
	// What to write is decided against the latest definitions: a cached
	// read could say "already as configured" for a change made in the last
	// ~30 s (by another process, or a restore) and the write would be
	// skipped. One strong read serves every table of the command.
	r.data.metadata.RequireLatest(name)
	written := r.applyTarget(ctx, name, target, r.solution(plan), &priv.Originals, diags)
	if diags.HasError() {
		return nil, false
	}
	return r.verifyAndPublish(ctx, name, target, written || policy == publishEvenIfUnchanged, plan.Publish.ValueBool(), diags)
}

// verifyAndPublish publishes the table when asked, then re-reads it and
// verifies the intended values. It reports whether a due publish failed.
//
// The re-read comes after the publish: the operations of one publish batch
// wake together and their re-reads go in one $batch (re-reading before the
// publish, each operation read on its own schedule: apply_300 sent about
// five read requests a publish), and the re-read then shows the published
// state as well.
func (r *entityAuditSettingsResource) verifyAndPublish(ctx context.Context, name string, target entityTarget, needPublish, publish bool, diags *diag.Diagnostics) (*dataverse.EntityAuditInfo, bool) {
	publishFailed := false
	if needPublish && publish {
		start := time.Now()
		if err := r.data.publisher.Publish(ctx, name); err != nil {
			addAPIError(diags, "Cannot publish table "+name, err)
			publishFailed = true
		} else {
			tflog.Info(ctx, "published table", map[string]any{"entity": name, "wait_ms": time.Since(start).Milliseconds()})
		}
	}
	readCtx := ctx
	if publishFailed && ctx.Err() != nil {
		// The publish used up the operation's time: the write is done, and
		// the state must still record it (as unpublished).
		var cancel context.CancelFunc
		readCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), reReadAfterTimeout)
		defer cancel()
	}
	info, ok := r.entityInfo(readCtx, name, columnsOf(len(target.Attributes) > 0, target.Attributes), diags)
	if !ok {
		return nil, false
	}
	if missed := unmetTarget(info, target); len(missed) > 0 {
		diags.AddError("Audit settings did not take effect",
			fmt.Sprintf("After the update, table %q still reports different values for %s. Another change may have happened "+
				"at the same time; run terraform apply again.", name, strings.Join(missed, ", ")))
		return nil, false
	}
	return info, publishFailed
}

// reReadAfterTimeout bounds the re-read of a written table whose publish
// ran out of time.
const reReadAfterTimeout = 30 * time.Second

// applyTarget changes what target asks for through the domain operations
// (which read the full definitions and write them back whole). It records
// originals on first change and reports whether anything was written.
func (r *entityAuditSettingsResource) applyTarget(ctx context.Context, name string, target entityTarget, solution string, originals *entityTarget, diags *diag.Diagnostics) bool {
	info, ok := r.entityInfo(ctx, name, columnsOf(len(target.Attributes) > 0, target.Attributes), diags)
	if !ok {
		return false
	}
	if d := checkEntityTarget(r.data.environmentURL, info, target); d.HasError() {
		diags.Append(d...)
		return false
	}
	written := false
	if tableChangeNeeded(info, target) {
		res, err := r.data.metadata.ApplyTableAudit(ctx, dataverse.TableAuditChange{Table: name, Values: target.Table, Solution: solution})
		originals.recordOriginals(res.Originals, nil)
		written = len(res.Written) > 0
		if err != nil {
			addAuditChangeError(diags, r.data.environmentURL, name, err)
			return written
		}
	}
	if len(target.Attributes) > 0 {
		res, err := r.data.metadata.ApplyColumnAudit(ctx, dataverse.ColumnAuditChange{
			Table: name, Columns: target.Attributes, Current: info, Solution: solution})
		originals.recordOriginals(nil, res.Originals)
		written = written || len(res.Written) > 0
		if err != nil {
			addAuditChangeError(diags, r.data.environmentURL, name, err)
		}
	}
	return written
}

func (r *entityAuditSettingsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer trackOperation(&ctx, r.data)()
	state, ok := getModel[entityAuditSettingsModel](ctx, req.State, &resp.Diagnostics)
	if !ok {
		return
	}
	name := state.EntityLogicalName.ValueString()
	resp.Diagnostics.Append(r.requireLatestIfWrittenRecently(ctx, name, req.Private)...)
	info, err := readTable(ctx, r.data, name, columnsOf(!state.Attributes.IsNull(), state.stateColumns()))
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
	state.refreshFrom(info)
	priv, diags := loadPrivate[entityPrivateState](ctx, req.Private, entityPrivateKey)
	resp.Diagnostics.Append(diags...)
	state.Published = state.publishedTruth(info, priv.Managed)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *entityAuditSettingsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	defer trackOperation(&ctx, r.data)()
	state, ok := getModel[entityAuditSettingsModel](ctx, req.State, &resp.Diagnostics)
	if !ok {
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
	ctx, cancel := withOperationTimeout(ctx, state.Timeouts.Delete, defaultMetadataTimeout, &resp.Diagnostics)
	defer cancel()

	priv, diags := loadPrivate[entityPrivateState](ctx, req.Private, entityPrivateKey)
	resp.Diagnostics.Append(diags...)
	stateTarget, diags := state.target()
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	target := destroyTarget(policy, priv, stateTarget.Attributes)
	if policy == onDestroyRestore && priv.Imported {
		resp.Diagnostics.AddWarning("Restoring values seen at import",
			"This resource was imported, so the table-level values restored are those at import time.")
	}
	if policy == onDestroyRestore {
		warnUnknownOriginals(&resp.Diagnostics, r.data.environmentURL, name, priv, stateTarget.Attributes)
	}
	if target.isEmpty() {
		return
	}
	resp.Diagnostics.Append(r.requireLatestIfWrittenRecently(ctx, name, req.Private)...)
	if _, err := r.data.metadata.Table(ctx, name); dataverse.IsNotFound(err) {
		return
	}
	written := r.applyTarget(ctx, name, target, r.solution(&state), &entityTarget{}, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.verifyAndPublish(ctx, name, target, written, state.Publish.ValueBool(), &resp.Diagnostics)
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
	info, err := r.data.metadata.Table(ctx, name)
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
	priv := entityPrivateState{Imported: true, Originals: currentTableValues(info)}
	resp.Diagnostics.Append(savePrivate(ctx, resp.Private, entityPrivateKey, priv)...)
}

func (r *entityAuditSettingsResource) solution(m *entityAuditSettingsModel) string {
	if known(m.SolutionUniqueName) {
		return m.SolutionUniqueName.ValueString()
	}
	return r.data.solutionUniqueName
}
