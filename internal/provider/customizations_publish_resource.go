package provider

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

var _ resource.ResourceWithModifyPlan = (*customizationsPublishResource)(nil)

type customizationsPublishModel struct {
	ID                 types.String   `tfsdk:"id"`
	EntityLogicalNames types.Set      `tfsdk:"entity_logical_names"`
	Triggers           types.Map      `tfsdk:"triggers"`
	PublishedAt        types.String   `tfsdk:"published_at"`
	Unpublished        types.Set      `tfsdk:"unpublished_entity_logical_names"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

type customizationsPublishResource struct{ resourceBase }

var newCustomizationsPublishResource = newResource[customizationsPublishResource]("_customizations_publish")

func (r *customizationsPublishResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Publishes customizations of the listed tables once, and again whenever `entity_logical_names` " +
			"or `triggers` change. Use it with `publish = false` on many `dynamics365_entity_audit_settings` resources so " +
			"that a large rollout publishes exactly once, after every table is changed.\n\nDestroying it changes nothing " +
			"in the environment: a publish cannot be undone.",
		Attributes: map[string]schema.Attribute{
			"id": stateKeptString("A random identifier of this publish resource."),
			"entity_logical_names": schema.SetAttribute{
				ElementType: types.StringType,
				Required:    true,
				MarkdownDescription: "Logical names of the tables to publish. Reference the entity resources' " +
					"`entity_logical_name` so that this publish runs after them.",
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1),
					setvalidator.ValueStringsAre(tableLogicalNameValidator),
				},
			},
			"triggers": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Arbitrary values; any change publishes again (for example a hash of the entity resources' settings).",
			},
			"published_at": stateKeptString("When the last publish finished (RFC 3339)."),
			"unpublished_entity_logical_names": schema.SetAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Those of the tables whose saved audit settings differ from the published ones, as " +
					"read at refresh (a Save without Publish, or an apply interrupted before its publish). When it is not " +
					"empty the plan publishes again, so a rollout heals itself; it is empty after a publish.",
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true}),
		},
	}
}

// ModifyPlan refuses unknown tables at plan time, and plans a new
// published_at whenever a publish will happen.
func (r *customizationsPublishResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	plan, ok := getModel[customizationsPublishModel](ctx, req.Plan, &resp.Diagnostics)
	if !ok {
		return
	}
	if !req.State.Raw.IsNull() {
		var state customizationsPublishModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		republish := !plan.EntityLogicalNames.Equal(state.EntityLogicalNames) || !plan.Triggers.Equal(state.Triggers) ||
			len(state.Unpublished.Elements()) > 0
		unpublished := state.Unpublished
		if republish {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("published_at"), types.StringUnknown())...)
			unpublished = types.SetValueMust(types.StringType, nil)
		}
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("unpublished_entity_logical_names"), unpublished)...)
	}
	names, diags := plan.names()
	resp.Diagnostics.Append(diags...)
	for _, name := range names {
		if _, err := r.data.metadata.Table(ctx, name); dataverse.IsNotFound(err) {
			resp.Diagnostics.AddAttributeError(path.Root("entity_logical_names"), "Unknown table",
				fmt.Sprintf("%s has no table with the logical name %q. Use table logical names: %s.", r.data.environmentURL, name, logicalNameHint))
		} else if err != nil {
			addAPIError(&resp.Diagnostics, "Cannot read the metadata of table "+name, err)
			return
		}
	}
}

// names returns the known table names, sorted.
func (m *customizationsPublishModel) names() ([]string, diag.Diagnostics) {
	if !known(m.EntityLogicalNames) {
		return nil, nil
	}
	var names []string
	diags := m.EntityLogicalNames.ElementsAs(context.Background(), &names, false)
	sort.Strings(names)
	return names, diags
}

func (r *customizationsPublishResource) publish(ctx context.Context, plan *customizationsPublishModel, diags *diag.Diagnostics) {
	names, d := plan.names()
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	start := time.Now()
	if err := r.data.publisher.Publish(ctx, names...); err != nil {
		addAPIError(diags, "Cannot publish customizations", err)
		return
	}
	tflog.Info(ctx, "published customizations", map[string]any{"entities": len(names), "duration_ms": time.Since(start).Milliseconds()})
	plan.PublishedAt = types.StringValue(time.Now().UTC().Format(time.RFC3339))
	plan.Unpublished = types.SetValueMust(types.StringType, nil)
}

func (r *customizationsPublishResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer trackOperation(&ctx, r.data)()
	var plan customizationsPublishModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	ctx, cancel := withOperationTimeout(ctx, plan.Timeouts.Create, defaultMetadataTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = types.StringValue(uuid.NewString())
	r.publish(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read finds the tables whose audit settings were saved but not published
// since: a publish leaves no object behind, but its effect can be undone by
// a later Save without Publish.
func (r *customizationsPublishResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	defer trackOperation(&ctx, r.data)()
	var state customizationsPublishModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	names, diags := state.names()
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	var pending []attr.Value
	for _, name := range names {
		// Table-level reads (columns where this command read them already,
		// for the resources that manage columns): reading every column of
		// hundreds of tables would cost a request each.
		info, err := r.data.metadata.Table(ctx, name)
		if dataverse.IsNotFound(err) {
			continue
		}
		if err != nil {
			addAPIError(&resp.Diagnostics, "Cannot read the metadata of table "+name, err)
			return
		}
		if info.HasUnpublishedAuditChanges() {
			pending = append(pending, types.StringValue(name))
		}
	}
	state.Unpublished = types.SetValueMust(types.StringType, pending)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *customizationsPublishResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer trackOperation(&ctx, r.data)()
	var plan, state customizationsPublishModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	ctx, cancel := withOperationTimeout(ctx, plan.Timeouts.Update, defaultMetadataTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.PublishedAt.IsUnknown() {
		r.publish(ctx, &plan, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	} else {
		plan.PublishedAt = state.PublishedAt
		plan.Unpublished = state.Unpublished
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *customizationsPublishResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
	// A publish cannot be undone; removing the resource only forgets it.
}
