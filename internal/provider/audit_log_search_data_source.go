package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/datasource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/graph"
)

var _ datasource.DataSourceWithValidateConfig = (*auditLogSearchDataSource)(nil)

// graphVersionThatCreates is the Graph version where Microsoft documents
// creating an audit log query ("Create auditLogQuery"); v1.0 documents
// reading one and listing its records only.
const graphVersionThatCreates = "beta"

// Audit log queries take seconds to minutes in production.
const defaultAuditSearchTimeout = 15 * time.Minute

type auditLogSearchModel struct {
	ID                 types.String          `tfsdk:"id"`
	QueryID            types.String          `tfsdk:"query_id"`
	From               timestampValue        `tfsdk:"from"`
	To                 timestampValue        `tfsdk:"to"`
	Lookback           positiveDurationValue `tfsdk:"lookback"`
	Operations         []types.String        `tfsdk:"operations"`
	UserPrincipalNames []types.String        `tfsdk:"user_principal_names"`
	ObjectIDs          []types.String        `tfsdk:"object_ids"`
	Keyword            types.String          `tfsdk:"keyword"`
	Limit              types.Int64           `tfsdk:"limit"`
	Truncated          types.Bool            `tfsdk:"truncated"`
	LimitExceeded      types.Bool            `tfsdk:"record_count_limit_exceeded"`
	Records            []auditLogRecord      `tfsdk:"records"`
	Timeouts           timeouts.Value        `tfsdk:"timeouts"`
}

type auditLogRecord struct {
	ID                types.String `tfsdk:"id"`
	CreatedOn         types.String `tfsdk:"created_on"`
	Operation         types.String `tfsdk:"operation"`
	UserPrincipalName types.String `tfsdk:"user_principal_name"`
	ClientIP          types.String `tfsdk:"client_ip"`
	EntityLogicalName types.String `tfsdk:"entity_logical_name"`
	RecordID          types.String `tfsdk:"record_id"`
	AuditData         types.String `tfsdk:"audit_data"`
}

type auditLogSearchDataSource struct{ dataSourceBase }

var newAuditLogSearchDataSource = newDataSource[auditLogSearchDataSource]("_audit_log_search")

func (d *auditLogSearchDataSource) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	notEmpty := stringvalidator.LengthAtLeast(1)
	resp.Schema = schema.Schema{
		MarkdownDescription: "Searches the Microsoft Purview (compliance center) unified audit log for Dynamics 365 " +
			"records, through the Microsoft Graph audit log query API: creates a query, waits until it has run, and " +
			"pages its records. This is where read, retrieve-multiple and export-to-Excel activity lands (with " +
			"organization read auditing and single/multiple record auditing on).\n\n**Read on every plan:** without " +
			"`query_id`, every plan and apply creates a new query and waits for it (seconds in the emulator, often " +
			"minutes in production; Microsoft allows a limited number of queries per day). Set `query_id` to the `id` " +
			"of an earlier search to read its results again without creating a query.\n\n**API version:** creating a query is " +
			"documented on the Graph `beta` API only, the provider's default `graph_audit_api_version`. With " +
			"`graph_audit_api_version = \"v1.0\"` this data source reads an existing query and needs `query_id`; v1.0 " +
			"also reports whether the query hit Purview's per-query record limit (`record_count_limit_exceeded`).\n\n" +
			"Needs the Graph application " +
			"permission `AuditLogsQuery-CRM.Read.All` (or `AuditLogsQuery.Read.All`) with admin consent. The API " +
			"exists in the global cloud only.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("The audit log query ID."),
			"query_id": schema.StringAttribute{Optional: true,
				MarkdownDescription: "Reuse this existing query (its own filters apply) instead of creating one.",
				Validators:          []validator.String{notEmpty}},
			"from": timestampAttribute("Start of the window (RFC 3339). With `to`, or alone (the window then ends now)."),
			"to":   timestampAttribute("End of the window (RFC 3339); needs `from`, and must not be before it."),
			"lookback": schema.StringAttribute{Optional: true, CustomType: positiveDurationType{},
				MarkdownDescription: "A window ending now instead of `from`/`to`, as a duration such as `24h` or `90m`."},
			"operations":           stringListFilter("Only these operations, e.g. `Retrieve`, `RetrieveMultiple`, `ExportToExcel`.", notEmpty),
			"user_principal_names": stringListFilter("Only the activity of these users (UPNs).", notEmpty),
			"object_ids":           stringListFilter("Only records about these objects.", notEmpty),
			"keyword": schema.StringAttribute{Optional: true, MarkdownDescription: "Free-text keyword filter.",
				Validators: []validator.String{notEmpty}},
			"limit":     auditLimitAttribute(""),
			"truncated": computedBool("Whether the query found more records than `limit`."),
			"record_count_limit_exceeded": computedBool("Whether the query matched more records than Microsoft Purview " +
				"keeps for one query (`isRecordCountLimitExceeded`): if true, `records` are incomplete; narrow the window " +
				"or filters. Null where the API does not say (the `beta` API does not report it)."),
			"records": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The records, in the order the service returns them.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":                  computedString("Record ID."),
					"created_on":          computedString("When it happened (RFC 3339, UTC)."),
					"operation":           computedString("The operation, e.g. `Retrieve`."),
					"user_principal_name": computedString("Who did it."),
					"client_ip":           computedString("From where."),
					"entity_logical_name": computedString("The Dynamics 365 table (`auditData.EntityName`)."),
					"record_id":           computedString("The Dynamics 365 record (`auditData.EntityId`)."),
					"audit_data":          computedString("The raw `auditData` JSON, for `jsondecode`."),
				}},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx),
		},
	}
}

func (d *auditLogSearchDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	m, ok := getModel[auditLogSearchModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	if !m.Lookback.IsNull() && (!m.From.IsNull() || !m.To.IsNull()) {
		resp.Diagnostics.AddAttributeError(path.Root("lookback"), "Conflicting time window",
			"Set either lookback, or from (and optionally to), not both.")
	}
	if !m.To.IsNull() && m.From.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("to"), "Window without a start", "to needs from: set from as well, or use lookback.")
	}
	if m.QueryID.IsNull() && m.Lookback.IsNull() && m.From.IsNull() && !m.To.IsUnknown() && !m.Lookback.IsUnknown() && !m.From.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("lookback"), "Missing time window",
			"A new audit log query needs a time window: set lookback (e.g. \"24h\"), or from and to; or set query_id to reuse a query.")
	}
	checkWindowOrder(m.From, m.To, &resp.Diagnostics)
}

func (m *auditLogSearchModel) request(now time.Time) (graph.QueryRequest, error) {
	r := graph.QueryRequest{
		DisplayName:        "terraform-provider-dynamics365 " + now.UTC().Format(time.RFC3339),
		Keyword:            m.Keyword.ValueString(),
		Operations:         stringValues(m.Operations),
		UserPrincipalNames: stringValues(m.UserPrincipalNames),
		ObjectIDs:          stringValues(m.ObjectIDs),
	}
	switch {
	case known(m.Lookback):
		lookback, diags := m.Lookback.ValueGoDuration()
		if diags.HasError() {
			return r, fmt.Errorf("lookback: %s", diags[0].Detail())
		}
		r.From, r.To = now.Add(-lookback), now
	default:
		from, err := m.From.parsed()
		if err != nil {
			return r, fmt.Errorf("from: %w", err)
		}
		r.From, r.To = from, now
		if known(m.To) {
			if r.To, err = m.To.parsed(); err != nil {
				return r, fmt.Errorf("to: %w", err)
			}
		}
	}
	return r, nil
}

func stringValues(in []types.String) []string {
	var out []string
	for _, v := range in {
		if known(v) {
			out = append(out, v.ValueString())
		}
	}
	return out
}

func (d *auditLogSearchDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	m, ok := getModel[auditLogSearchModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	if !d.data.cloud.AuditSearchSupported {
		resp.Diagnostics.AddError("Audit log search is not available in this cloud",
			fmt.Sprintf("The Microsoft Graph audit log query API exists in the global (public) cloud only; this provider is "+
				"configured for cloud %q. Search the audit log in the compliance portal of that cloud instead.", d.data.cloud.Name))
		return
	}
	ctx, cancel := withOperationTimeout(ctx, m.Timeouts.Read, defaultAuditSearchTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	client := d.data.graph

	queryID := m.QueryID.ValueString()
	if queryID == "" && client.APIVersion() != graphVersionThatCreates {
		resp.Diagnostics.AddAttributeError(path.Root("query_id"), "Creating an audit log query needs the beta Graph API",
			fmt.Sprintf("The provider uses Microsoft Graph %s (graph_audit_api_version), where Microsoft documents reading "+
				"an audit log query and its records but not creating one; creating a query is documented on beta. "+
				"Either set graph_audit_api_version = %q in the provider block (the default), or set query_id to the id "+
				"of an existing query (created in the Purview portal, or the id of an earlier search) to read it on %s.",
				client.APIVersion(), graphVersionThatCreates, client.APIVersion()))
		return
	}
	if queryID == "" {
		r, err := m.request(time.Now())
		if err != nil {
			resp.Diagnostics.AddError("Invalid audit log search", err.Error())
			return
		}
		q, err := client.CreateQuery(ctx, r)
		if err != nil {
			resp.Diagnostics.AddError("Cannot create the audit log query", apiErrorDetail(err))
			return
		}
		queryID = q.ID
		tflog.Info(ctx, "created audit log query", map[string]any{"query_id": queryID, "from": r.From, "to": r.To})
	}
	query, err := client.WaitForQuery(ctx, queryID, graph.WaitOptions{
		PollMin: d.data.auditSearchPollMin,
		PollMax: d.data.auditSearchPollMax,
		OnProgress: func(status string, polls int, elapsed time.Duration) {
			tflog.Info(ctx, "waiting for the audit log query", map[string]any{
				"query_id": queryID, "status": status, "polls": polls, "elapsed_s": int(elapsed.Seconds())})
		},
	})
	if err != nil {
		var failed *graph.QueryFailedError
		var waiting *graph.QueryWaitError
		switch {
		case errors.As(err, &failed):
			resp.Diagnostics.AddError("Audit log query failed", err.Error())
		case errors.As(err, &waiting):
			resp.Diagnostics.AddError("Audit log query did not finish", err.Error()+
				"\n\nRaise the read timeout (timeouts { read = \"30m\" }) or read the query later with query_id.")
		default:
			resp.Diagnostics.AddError("Cannot follow the audit log query "+queryID, apiErrorDetail(err))
		}
		return
	}

	limit := limitOrDefault(m.Limit)
	m.Records = []auditLogRecord{}
	truncated, pages, err := client.ListRecords(ctx, queryID, limit, func(r graph.Record) error {
		table, record := graph.EntityOf(r.AuditData)
		m.Records = append(m.Records, auditLogRecord{
			ID:                types.StringValue(r.ID),
			CreatedOn:         types.StringValue(r.CreatedDateTime.UTC().Format(time.RFC3339)),
			Operation:         nullableString(r.Operation),
			UserPrincipalName: nullableString(r.UserPrincipalName),
			ClientIP:          nullableString(r.ClientIP),
			EntityLogicalName: nullableString(table),
			RecordID:          nullableString(record),
			AuditData:         nullableString(string(r.AuditData)),
		})
		return nil
	})
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the audit log query's records",
			fmt.Sprintf("Query %s: %s", queryID, apiErrorDetail(err)))
		return
	}
	tflog.Info(ctx, "read audit log records", map[string]any{"query_id": queryID, "records": len(m.Records), "pages": pages, "truncated": truncated})
	m.ID = types.StringValue(queryID)
	m.Truncated = types.BoolValue(truncated)
	m.LimitExceeded = types.BoolPointerValue(query.RecordCountLimitExceeded)
	if query.RecordCountLimitExceeded != nil && *query.RecordCountLimitExceeded {
		resp.Diagnostics.AddAttributeWarning(path.Root("record_count_limit_exceeded"), "The audit log query hit its record limit",
			fmt.Sprintf("Query %s matched more records than Microsoft Purview keeps for one query (recordCountLimit %s), so "+
				"records are incomplete. Narrow the time window or add filters (operations, user_principal_names, object_ids).",
				queryID, countText(query.RecordCountLimit)))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// countText prints an optional count, "not reported" when absent.
func countText(n *int64) string {
	if n == nil {
		return "not reported"
	}
	return fmt.Sprint(*n)
}
