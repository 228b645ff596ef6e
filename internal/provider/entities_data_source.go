package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

var _ datasource.DataSourceWithConfigure = (*entitiesDataSource)(nil)

// auditAreas are the legacy "Enable Auditing in the following areas"
// checkboxes of System Settings > Auditing, as table lists.
var auditAreas = map[string][]string{
	"common":           {"account", "bulkoperation", "contact", "lead", "list", "product", "report", "role", "salesliterature", "systemuser"},
	"sales":            {"competitor", "invoice", "opportunity", "quote", "salesorder"},
	"marketing":        {"campaign"},
	"customer_service": {"contract", "feedback", "incident", "kbarticle", "knowledgearticle", "service"},
}

func auditAreaNames() []string { return sortedKeys(auditAreas) }

type entitiesDataSourceModel struct {
	ID           types.String `tfsdk:"id"`
	Names        types.Set    `tfsdk:"logical_names"`
	AuditEnabled types.Bool   `tfsdk:"audit_enabled"`
	CustomOnly   types.Bool   `tfsdk:"custom_only"`
	Area         types.String `tfsdk:"area"`
	Entities     []entityItem `tfsdk:"entities"`
	ResultNames  []string     `tfsdk:"names"`
}

type entityItem struct {
	LogicalName types.String `tfsdk:"logical_name"`
	DisplayName types.String `tfsdk:"display_name"`
	tableAuditValues
	AuditCanBeChanged          types.Bool `tfsdk:"audit_can_be_changed"`
	IsCustom                   types.Bool `tfsdk:"is_custom"`
	IsManaged                  types.Bool `tfsdk:"is_managed"`
	HasUnpublishedAuditChanges types.Bool `tfsdk:"has_unpublished_audit_changes"`
}

type entitiesDataSource struct{ dataSourceBase }

var newEntitiesDataSource = newDataSource[entitiesDataSource]("_entities")

func (d *entitiesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	var areaDoc []string
	for _, a := range auditAreaNames() {
		areaDoc = append(areaDoc, fmt.Sprintf("`%s` (%s)", a, strings.Join(auditAreas[a], ", ")))
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the environment's tables with their audit state, filtered. `names` feeds `for_each` of " +
			"`dynamics365_entity_audit_settings`; `entities` feeds compliance `check` blocks.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("The environment URL."),
			"logical_names": schema.SetAttribute{
				ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Only these tables (logical names). A name the environment does not have is an error.",
				Validators:          []validator.Set{setvalidator.ValueStringsAre(tableLogicalNameValidator)},
			},
			"audit_enabled": schema.BoolAttribute{Optional: true,
				MarkdownDescription: "Only tables whose auditing is on (`true`) or off (`false`)."},
			"custom_only": schema.BoolAttribute{Optional: true, MarkdownDescription: "Only custom tables."},
			"area": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Only the tables of one area of the legacy \"Enable Auditing in the following areas\" " +
					"setting: " + strings.Join(areaDoc, "; ") + ".",
				Validators: []validator.String{stringvalidator.OneOf(auditAreaNames()...)},
			},
			"names": schema.ListAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Logical names of the matching tables, sorted."},
			"entities": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The matching tables, sorted by logical name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"logical_name":                    computedString("Logical name."),
					"display_name":                    computedString("Display name in the caller's language."),
					"audit_enabled":                   computedBool("Table auditing (`IsAuditEnabled`)."),
					"audit_can_be_changed":            computedBool("Whether table auditing can be changed in this environment."),
					"retrieve_audit_enabled":          computedBool("Single record auditing."),
					"retrieve_multiple_audit_enabled": computedBool("Multiple record auditing."),
					"is_custom":                       computedBool("Whether it is a custom table."),
					"is_managed":                      computedBool("Whether it belongs to a managed solution."),
					"has_unpublished_audit_changes": computedBool("Whether the saved audit settings of the table or of one of " +
						"its columns differ from the published ones (saved without publishing). The other attributes show the saved " +
						"values; Dataverse audits by the published ones until the table is published."),
				}},
			},
		},
	}
}

func (d *entitiesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	m, ok := getModel[entitiesDataSourceModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	// What is read grows with what is returned: the named tables, or the
	// area's, are read on their own; only the other filters list every
	// table's table-level fields first (two requests). The tables kept are
	// then read with their columns (EntitiesWithColumns, 50 to a $batch), so
	// that an unpublished column change shows in has_unpublished_audit_changes.
	namesGiven := known(m.Names) // an empty set returns no table
	var names []string
	if namesGiven {
		resp.Diagnostics.Append(m.Names.ElementsAs(ctx, &names, false)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	var inArea map[string]bool
	if known(m.Area) {
		inArea = map[string]bool{}
		for _, n := range auditAreas[m.Area.ValueString()] {
			inArea[n] = true
		}
	}
	keep := func(e *dataverse.EntityAuditInfo) bool {
		return (inArea == nil || inArea[e.LogicalName]) &&
			(!known(m.AuditEnabled) || e.IsAuditEnabled.Value == m.AuditEnabled.ValueBool()) &&
			(!m.CustomOnly.ValueBool() || e.IsCustomEntity)
	}
	var candidates []string
	switch {
	case namesGiven:
		candidates = names
	case inArea != nil:
		candidates = sortedKeys(inArea)
	default:
		all, err := d.data.client.ListEntityAuditInfo(ctx, dataverse.WithoutColumns)
		if err != nil {
			addAPIError(&resp.Diagnostics, "Cannot list the environment's tables", err)
			return
		}
		for _, name := range sortedKeys(all) {
			if keep(all[name]) {
				candidates = append(candidates, name)
			}
		}
	}
	candidates = slices.Compact(slices.Sorted(slices.Values(candidates)))
	read, err := d.data.client.EntitiesWithColumns(ctx, candidates)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the environment's tables", err)
		return
	}
	if namesGiven && len(read) < len(candidates) {
		d.unknownTables(ctx, candidates, read, &resp.Diagnostics)
		return
	}
	m.Entities = []entityItem{}
	m.ResultNames = []string{}
	for _, name := range candidates {
		if e := read[name]; e != nil && keep(e) {
			m.Entities = append(m.Entities, entityItemFrom(e))
			m.ResultNames = append(m.ResultNames, name)
		}
	}
	m.ID = types.StringValue(d.data.environmentURL)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// unknownTables reports the names of logical_names that are no table, with
// suggestions from every table's name.
func (d *entitiesDataSource) unknownTables(ctx context.Context, names []string, read map[string]*dataverse.EntityAuditInfo, diags *diag.Diagnostics) {
	var missing []string
	for _, n := range names {
		if read[n] == nil {
			missing = append(missing, n)
		}
	}
	detail := fmt.Sprintf("%s has no tables named %s.", d.data.environmentURL, quoteAll(missing))
	if all, err := d.data.client.ListEntityAuditInfo(ctx, dataverse.WithoutColumns); err == nil {
		if hint := suggestionsFor(missing, sortedKeys(all)); hint != "" {
			detail += " " + hint
		}
	}
	diags.AddAttributeError(path.Root("logical_names"), "Unknown tables",
		fmt.Sprintf("%s Use table logical names: %s.", detail, logicalNameHint))
}

func entityItemFrom(e *dataverse.EntityAuditInfo) entityItem {
	return entityItem{
		LogicalName: types.StringValue(e.LogicalName),
		DisplayName: types.StringValue(e.DisplayName),
		tableAuditValues: tableAuditValues{
			AuditEnabled:                 types.BoolValue(e.IsAuditEnabled.Value),
			RetrieveAuditEnabled:         types.BoolValue(e.IsRetrieveAuditEnabled),
			RetrieveMultipleAuditEnabled: types.BoolValue(e.IsRetrieveMultipleAuditEnabled),
		},
		AuditCanBeChanged:          types.BoolValue(e.IsAuditEnabled.CanBeChanged),
		IsCustom:                   types.BoolValue(e.IsCustomEntity),
		IsManaged:                  types.BoolValue(e.IsManaged),
		HasUnpublishedAuditChanges: types.BoolValue(e.HasUnpublishedAuditChanges()),
	}
}
