package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

var _ datasource.DataSourceWithValidateConfig = (*auditRecordsDataSource)(nil)

type auditRecordsModel struct {
	ID                types.String   `tfsdk:"id"`
	From              timestampValue `tfsdk:"from"`
	To                timestampValue `tfsdk:"to"`
	EntityLogicalName types.String   `tfsdk:"entity_logical_name"`
	RecordID          types.String   `tfsdk:"record_id"`
	UserID            types.String   `tfsdk:"user_id"`
	Operations        []types.String `tfsdk:"operations"`
	Actions           []types.String `tfsdk:"actions"`
	Limit             types.Int64    `tfsdk:"limit"`
	IncludeChanges    types.Bool     `tfsdk:"include_changes"`
	Truncated         types.Bool     `tfsdk:"truncated"`
	Records           []auditRecord  `tfsdk:"records"`
}

type auditRecord struct {
	ID                types.String  `tfsdk:"id"`
	CreatedOn         types.String  `tfsdk:"created_on"`
	Action            types.Int64   `tfsdk:"action"`
	ActionName        types.String  `tfsdk:"action_name"`
	Operation         types.String  `tfsdk:"operation"`
	EntityLogicalName types.String  `tfsdk:"entity_logical_name"`
	RecordID          types.String  `tfsdk:"record_id"`
	UserID            types.String  `tfsdk:"user_id"`
	UserName          types.String  `tfsdk:"user_name"`
	CallingUserID     types.String  `tfsdk:"calling_user_id"`
	TransactionID     types.String  `tfsdk:"transaction_id"`
	Changes           []auditChange `tfsdk:"changes"`
}

type auditChange struct {
	Attribute types.String `tfsdk:"attribute"`
	OldValue  types.String `tfsdk:"old_value"`
	NewValue  types.String `tfsdk:"new_value"`
}

type auditRecordsDataSource struct{ dataSourceBase }

var newAuditRecordsDataSource = newDataSource[auditRecordsDataSource]("_audit_records")

func (d *auditRecordsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	var opNames []string
	for _, code := range slices.Sorted(maps.Keys(dataverse.AuditOperations)) {
		opNames = append(opNames, dataverse.AuditOperations[code])
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Searches the Dataverse audit trail (the `audits` table: Audit Summary View), newest first. " +
			"Old and new values come from `RetrieveAuditDetails`, sent in `$batch` requests of up to 1000, with or " +
			"without `record_id`. Dataverse caps long values at about 5,000 characters: a capped value ends in three " +
			"dots and cannot be used to restore the column. Reads, retrieve-multiple and export activity are not here: " +
			"they land in Microsoft Purview (`dynamics365_audit_log_search`). Needs the `prvReadAuditSummary` privilege.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("The search's arguments in a canonical form, the same for the same arguments: `audits?` " +
				"followed by the set arguments as a sorted query string, with `limit` always present, e.g. `audits?limit=1000` " +
				"without filters or `audits?entity_logical_name=account&limit=1000&operations=update`. Times are in UTC and " +
				"actions are numeric codes."),
			"from": timestampAttribute("Earliest `createdon`, inclusive, as RFC 3339 (e.g. `2026-01-01T00:00:00Z`)."),
			"to":   timestampAttribute("Latest `createdon`, inclusive, as RFC 3339. Must not be before `from`."),
			"entity_logical_name": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Only rows about this table (`objecttypecode`), e.g. `account`. A table the environment " +
					"does not have is an error that names the closest tables, unless the audit trail has rows about it (a " +
					"deleted table keeps its history): then they are returned with a warning.",
				Validators: []validator.String{tableLogicalNameValidator}},
			"record_id": schema.StringAttribute{Optional: true, Validators: []validator.String{guidValidator},
				MarkdownDescription: "Only rows about this record (GUID, `_objectid_value`): its whole audit history, up to `limit`."},
			"user_id": schema.StringAttribute{Optional: true, Validators: []validator.String{guidValidator},
				MarkdownDescription: "Only rows of this user (`systemuserid` GUID)."},
			"operations": stringListFilter("Only these operations: "+strings.Join(opNames, ", ")+". `update` includes settings "+
				"changes (action `audit_change_at_org_level`, …), whose `changes` are empty.", stringvalidator.OneOf(opNames...)),
			"actions": stringListFilter("Only these actions, by snake_case name (`create`, `update`, `user_access_via_web`, "+
				"`audit_change_at_org_level`, …) or numeric code (`104`).", auditAction()),
			"limit": auditLimitAttribute(" `truncated` tells whether more matched."),
			"include_changes": schema.BoolAttribute{Optional: true,
				MarkdownDescription: "Also fetch each record's old and new values (`changes`)."},
			"truncated": computedBool("Whether more records matched than `limit`."),
			"records": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The matching audit records, newest first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":                  computedString("The audit record ID (`auditid`)."),
					"created_on":          computedString("When it happened (RFC 3339, UTC)."),
					"action":              schema.Int64Attribute{Computed: true, MarkdownDescription: "The action code."},
					"action_name":         computedString("The action's snake_case name, e.g. `update` or `audit_change_at_org_level`."),
					"operation":           computedString("create, update, delete or access."),
					"entity_logical_name": computedString("The table of the record (`objecttypecode`)."),
					"record_id":           computedString("The record (`_objectid_value`)."),
					"user_id":             computedString("The user who made the change."),
					"user_name":           computedString("That user's name."),
					"calling_user_id":     computedString("The impersonating user, if any."),
					"transaction_id":      computedString("The transaction."),
					"changes": schema.ListNestedAttribute{
						Computed: true,
						MarkdownDescription: "Changed columns with their raw values rendered as strings (`88800`, `1` for a " +
							"choice, `true`, `1999-08-24T00:00:00Z`), null when absent. Only with `include_changes`. Values " +
							"longer than about 5,000 characters (5 KB) come back from Dataverse truncated, ending in three dots.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"attribute": computedString("Column logical name."),
							"old_value": computedString("Value before; truncated with three dots when over about 5,000 characters."),
							"new_value": computedString("Value after; truncated with three dots when over about 5,000 characters."),
						}},
					},
				}},
			},
		},
	}
}

func (d *auditRecordsDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	m, ok := getModel[auditRecordsModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	checkWindowOrder(m.From, m.To, &resp.Diagnostics)
}

// query turns the configuration into a typed query; the filter text is
// built from typed values by the client, never pasted.
func (m *auditRecordsModel) query() (dataverse.AuditQuery, error) {
	q := dataverse.AuditQuery{
		EntityLogicalName: m.EntityLogicalName.ValueString(),
		RecordID:          m.RecordID.ValueString(),
		UserID:            m.UserID.ValueString(),
		Limit:             limitOrDefault(m.Limit),
	}
	var err error
	if q.From, err = m.From.timeOrNil(); err != nil {
		return q, fmt.Errorf("from: %w", err)
	}
	if q.To, err = m.To.timeOrNil(); err != nil {
		return q, fmt.Errorf("to: %w", err)
	}
	for _, op := range m.Operations {
		code, err := dataverse.ParseAuditOperation(op.ValueString())
		if err != nil {
			return q, err
		}
		q.Operations = append(q.Operations, code)
	}
	for _, a := range m.Actions {
		code, err := dataverse.ParseAuditAction(a.ValueString())
		if err != nil {
			return q, err
		}
		q.Actions = append(q.Actions, code)
	}
	return q, nil
}

func (d *auditRecordsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	m, ok := getModel[auditRecordsModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	q, err := m.query()
	if err != nil {
		resp.Diagnostics.AddError("Invalid audit search", err.Error())
		return
	}
	if _, err := dataverse.BuildAuditFilter(q); err != nil {
		resp.Diagnostics.AddError("Invalid audit search", err.Error())
		return
	}
	tableMissing, err := d.tableMissing(ctx, q.EntityLogicalName)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot check that the table "+q.EntityLogicalName+" exists", err)
		return
	}
	start := time.Now()
	var rows []dataverse.AuditRecord
	truncated, pages, err := d.data.client.StreamAudits(ctx, q, func(r dataverse.AuditRecord) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot search the audit trail", err)
		return
	}
	tflog.Info(ctx, "read audit records", map[string]any{"records": len(rows), "pages": pages, "truncated": truncated,
		"duration_ms": time.Since(start).Milliseconds()})
	if tableMissing {
		d.reportMissingTable(q.EntityLogicalName, len(rows), &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}

	var changes map[string][]dataverse.AuditChange
	if m.IncludeChanges.ValueBool() && len(rows) > 0 {
		changes, err = d.changes(ctx, rows)
		if err != nil {
			addAPIError(&resp.Diagnostics, "Cannot read the old and new values of the audit records", err)
			return
		}
	}

	m.ID = types.StringValue(auditSearchID(q, m.IncludeChanges.ValueBool()))
	m.Truncated = types.BoolValue(truncated)
	m.Records = make([]auditRecord, len(rows))
	for i, r := range rows {
		m.Records[i] = auditRecordFrom(r, changes, m.IncludeChanges.ValueBool())
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// changes fetches the old and new values of the rows with RetrieveAuditDetails
// in $batch requests. A search by record_id takes the same path: the record
// history function (RetrieveRecordChangeHistory) returns its details without
// AuditRecord through the Web API, so they cannot be matched to rows.
func (d *auditRecordsDataSource) changes(ctx context.Context, rows []dataverse.AuditRecord) (map[string][]dataverse.AuditChange, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return d.data.client.RetrieveAuditDetails(ctx, ids, dataverse.BatchOptions{Naive: d.data.naiveChangeReads})
}

func auditRecordFrom(r dataverse.AuditRecord, changes map[string][]dataverse.AuditChange, withChanges bool) auditRecord {
	out := auditRecord{
		ID:                types.StringValue(r.ID),
		CreatedOn:         types.StringValue(r.CreatedOn.UTC().Format(time.RFC3339)),
		Action:            types.Int64Value(int64(r.Action)),
		ActionName:        types.StringValue(dataverse.AuditActionName(r.Action, r.ActionLabel)),
		Operation:         nullableString(dataverse.AuditOperations[r.Operation]),
		EntityLogicalName: nullableString(r.EntityLogicalName),
		RecordID:          nullableString(r.RecordID),
		UserID:            nullableString(r.UserID),
		UserName:          nullableString(r.UserName),
		CallingUserID:     nullableString(r.CallingUserID),
		TransactionID:     nullableString(r.TransactionID),
	}
	if withChanges {
		out.Changes = []auditChange{}
		for _, c := range changes[r.ID] {
			out.Changes = append(out.Changes, auditChange{
				Attribute: types.StringValue(c.Attribute),
				OldValue:  types.StringPointerValue(c.OldValue),
				NewValue:  types.StringPointerValue(c.NewValue),
			})
		}
	}
	return out
}

// auditActionValidator accepts action names and codes.
type auditActionValidator struct{ describedAs }

func auditAction() auditActionValidator {
	return auditActionValidator{"must be an audit action name such as update or audit_change_at_org_level, or a numeric code such as 104"}
}

func (v auditActionValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	if _, err := dataverse.ParseAuditAction(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Unknown audit action", fmt.Sprintf("%s: %v", req.Path, err))
	}
}
