package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/boolvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

var (
	_ resource.ResourceWithModifyPlan       = (*auditLogDeletionResource)(nil)
	_ resource.ResourceWithConfigValidators = (*auditLogDeletionResource)(nil)
)

// defaultAuditDeletionTimeout bounds the wait for a bulk delete job. Microsoft
// quotes about 4 million audit rows an hour ("Manage Dataverse auditing").
const defaultAuditDeletionTimeout = 60 * time.Minute

type auditLogDeletionRecord struct {
	EntityLogicalName types.String `tfsdk:"entity_logical_name"`
	RecordID          types.String `tfsdk:"record_id"`
}

type auditLogDeletionModel struct {
	ID                       types.String            `tfsdk:"id"`
	Before                   timestampValue          `tfsdk:"before"`
	EntityLogicalNames       types.Set               `tfsdk:"entity_logical_names"`
	UserAccessLogsOnly       types.Bool              `tfsdk:"user_access_logs_only"`
	Record                   *auditLogDeletionRecord `tfsdk:"record"`
	Triggers                 types.Map               `tfsdk:"triggers"`
	MatchingRows             types.Int64             `tfsdk:"matching_rows"`
	MatchingRowsIsLowerBound types.Bool              `tfsdk:"matching_rows_is_lower_bound"`
	JobID                    types.String            `tfsdk:"job_id"`
	DeletedRows              types.Int64             `tfsdk:"deleted_rows"`
	JobStatus                types.String            `tfsdk:"job_status"`
	Timeouts                 timeouts.Value          `tfsdk:"timeouts"`
}

type auditLogDeletionResource struct{ resourceBase }

var newAuditLogDeletionResource = newResource[auditLogDeletionResource]("_audit_log_deletion")

func (r *auditLogDeletionResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replaceString := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Deletes Dataverse audit logs once, when created (and again when an argument or `triggers` " +
			"change): the rows created before `before` — of all tables, of `entity_logical_names`, or only user access " +
			"logs — through a `BulkDelete` job, or every row of one `record` through `DeleteRecordChangeHistory`. The plan " +
			"shows how many rows match (`matching_rows`). Deleted audit logs cannot be restored; destroying this resource " +
			"only removes it from the state.",
		Attributes: map[string]schema.Attribute{
			"id": stateKeptString("A random identifier of this deletion."),
			"before": schema.StringAttribute{
				CustomType: timestampType{}, Optional: true,
				MarkdownDescription: "Delete the audit rows created before this time (RFC 3339, e.g. `2025-01-01T00:00:00Z`). " +
					"It must not be in the future. Required unless `record` is set.",
				PlanModifiers: replaceString,
				Validators:    []validator.String{notInFuture()},
			},
			"entity_logical_names": schema.SetAttribute{
				ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Delete only the audit rows of these tables (logical names). A table that no longer " +
					"exists may still have audit rows: it gets a warning, not an error. Leave out to delete the rows of all tables.",
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()},
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(tableLogicalNameValidator),
					setvalidator.ConflictsWith(path.MatchRoot("user_access_logs_only"), path.MatchRoot("record")),
				},
			},
			"user_access_logs_only": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Delete only the user access logs (actions 64 User Access via Web and 65 User Access " +
					"via Web Services), the admin center's \"access logs by people and systems\".",
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
				Validators:    []validator.Bool{boolvalidator.ConflictsWith(path.MatchRoot("record"))},
			},
			"record": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Delete the whole audit history of one record (`DeleteRecordChangeHistory`), for " +
					"example to honour a data-subject request. Needs the `prvDeleteRecordChangeHistory` privilege. When the " +
					"record's table no longer exists, its rows are deleted by a `BulkDelete` job instead (`prvBulkDelete`).",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplace()},
				Attributes: map[string]schema.Attribute{
					"entity_logical_name": schema.StringAttribute{Required: true, MarkdownDescription: "The record's table (logical name).",
						Validators: []validator.String{tableLogicalNameValidator}},
					"record_id": schema.StringAttribute{Required: true, MarkdownDescription: "The record's id (GUID).",
						Validators: []validator.String{guidValidator}},
				},
			},
			"triggers": schema.MapAttribute{
				ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Arbitrary values; any change runs the deletion again (for example after a restore brought old logs back).",
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"matching_rows": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "The audit rows the deletion matches, counted at plan time from `audits` with the same " +
					"filter, so that the plan shows what will be deleted. Dataverse counts at most 5,000 rows: see " +
					"`matching_rows_is_lower_bound`. Kept as planned after apply; what was deleted is `deleted_rows`.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"matching_rows_is_lower_bound": schema.BoolAttribute{
				Computed: true,
				MarkdownDescription: "True when more rows match than Dataverse counts (`$count` stops at 5,000): " +
					"`matching_rows` is then a lower bound.",
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"job_id": stateKeptString("The id of the `BulkDelete` system job (asyncoperation); null for a `record` deletion, which runs at once."),
			"deleted_rows": schema.Int64Attribute{
				Computed: true, MarkdownDescription: "The audit rows deleted: the job's success count, or `DeletedEntriesCount` for a `record`.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"job_status": stateKeptString("The job's final status (`Succeeded`); a failed or canceled job fails the apply with its message."),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true}),
		},
	}
}

func (r *auditLogDeletionResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("before"), path.MatchRoot("record")),
	}
}

// inputsEqual reports whether the arguments that choose the rows are unchanged.
func (m *auditLogDeletionModel) inputsEqual(o *auditLogDeletionModel) bool {
	sameRecord := (m.Record == nil) == (o.Record == nil)
	if sameRecord && m.Record != nil {
		sameRecord = m.Record.EntityLogicalName.Equal(o.Record.EntityLogicalName) && m.Record.RecordID.Equal(o.Record.RecordID)
	}
	return sameRecord && m.Before.Equal(o.Before) && m.EntityLogicalNames.Equal(o.EntityLogicalNames) &&
		m.UserAccessLogsOnly.Equal(o.UserAccessLogsOnly) && m.Triggers.Equal(o.Triggers)
}

// known reports whether every argument is known (the count can be taken).
func (m *auditLogDeletionModel) inputsKnown() bool {
	if m.Record != nil {
		return known(m.Record.EntityLogicalName) && known(m.Record.RecordID)
	}
	return known(m.Before) && (m.EntityLogicalNames.IsNull() || known(m.EntityLogicalNames)) && !m.UserAccessLogsOnly.IsUnknown()
}

func (m *auditLogDeletionModel) tables() []string {
	var names []string
	if known(m.EntityLogicalNames) {
		m.EntityLogicalNames.ElementsAs(context.Background(), &names, false)
	}
	sort.Strings(names)
	return names
}

func (m *auditLogDeletionModel) deletion() (dataverse.AuditDeletion, diag.Diagnostics) {
	before, diags := m.Before.ValueRFC3339Time()
	return dataverse.AuditDeletion{Before: before, Tables: m.tables(), UserAccessOnly: isTrue(m.UserAccessLogsOnly)}, diags
}

// ModifyPlan counts the rows a new deletion matches, so that the plan shows
// them, and warns about tables that no longer exist.
func (r *auditLogDeletionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	plan, ok := getModel[auditLogDeletionModel](ctx, req.Plan, &resp.Diagnostics)
	if !ok {
		return
	}
	if !req.State.Raw.IsNull() {
		var state auditLogDeletionModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() || plan.inputsEqual(&state) {
			return // nothing runs: the computed values stay as they are
		}
		for _, p := range []string{"id", "job_id", "job_status"} {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(p), types.StringUnknown())...)
		}
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("deleted_rows"), types.Int64Unknown())...)
	}
	count, lowerBound := types.Int64Unknown(), types.BoolUnknown()
	if plan.inputsKnown() {
		n, ok := r.countMatching(ctx, &plan, &resp.Diagnostics)
		if !ok {
			return
		}
		count, lowerBound = types.Int64Value(int64(n.Rows)), types.BoolValue(n.LowerBound)
		tflog.Info(ctx, "audit rows matching the deletion", map[string]any{"rows": n.Rows, "lower_bound": n.LowerBound})
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("matching_rows"), count)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("matching_rows_is_lower_bound"), lowerBound)...)
}

func (r *auditLogDeletionResource) countMatching(ctx context.Context, plan *auditLogDeletionModel, diags *diag.Diagnostics) (dataverse.AuditCount, bool) {
	if plan.Record != nil {
		table := plan.Record.EntityLogicalName.ValueString()
		r.warnGoneTable(ctx, path.Root("record").AtName("entity_logical_name"), table, diags)
		n, err := r.data.client.CountRecordAudits(ctx, table, plan.Record.RecordID.ValueString())
		return n, r.countError(err, diags)
	}
	for _, t := range plan.tables() {
		r.warnGoneTable(ctx, path.Root("entity_logical_names"), t, diags)
	}
	d, dd := plan.deletion()
	if diags.Append(dd...); diags.HasError() {
		return dataverse.AuditCount{}, false
	}
	n, err := r.data.client.CountAuditDeletion(ctx, d)
	return n, r.countError(err, diags)
}

func (r *auditLogDeletionResource) countError(err error, diags *diag.Diagnostics) bool {
	if err != nil {
		addDeletionError(diags, "Cannot count the audit rows to delete", err)
	}
	return err == nil
}

// warnGoneTable warns about a table that no longer exists: its audit rows
// can still be deleted.
func (r *auditLogDeletionResource) warnGoneTable(ctx context.Context, p path.Path, table string, diags *diag.Diagnostics) {
	if _, err := r.data.metadata.Entity(ctx, table); dataverse.IsNotFound(err) {
		diags.AddAttributeWarning(p, "Table does not exist",
			fmt.Sprintf("%s has no table %q (any more). Its audit rows, if any, are still deleted; check the name if you "+
				"expected the table to exist.", r.data.environmentURL, table))
	}
}

// addDeletionError reports err, naming a missing privilege and how to grant it.
func addDeletionError(diags *diag.Diagnostics, summary string, err error) {
	var priv *dataverse.MissingPrivilegeError
	if errors.As(err, &priv) {
		why := map[string]string{
			dataverse.PrivilegeBulkDelete:                "Bulk Delete (Miscellaneous privileges), needed to submit a BulkDelete job",
			dataverse.PrivilegeDeleteRecordChangeHistory: "Delete Audit Record Change History, needed by DeleteRecordChangeHistory",
			dataverse.PrivilegeReadAuditSummary:          "View Audit Summary, needed to count the audit rows",
		}[priv.Privilege]
		if why != "" {
			why = " (" + why + ")"
		}
		diags.AddError(summary, fmt.Sprintf("The application user lacks the privilege %s%s. Add it to the user's security "+
			"role (System Administrator has it) and apply again.\n\n%s", priv.Privilege, why, apiErrorDetail(err)))
		return
	}
	addAPIError(diags, summary, err)
}

// jobName follows the admin center's names of audit deletion jobs.
func (m *auditLogDeletionModel) jobName(before time.Time) string {
	at := before.UTC().Format(time.RFC3339)
	switch {
	case len(m.tables()) > 0:
		return fmt.Sprintf("Delete logs for %d tables before %s (Terraform)", len(m.tables()), at)
	case isTrue(m.UserAccessLogsOnly):
		return "Delete access logs before " + at + " (Terraform)"
	}
	return "Delete all logs before " + at + " (Terraform)"
}

func (r *auditLogDeletionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, ok := getModel[auditLogDeletionModel](ctx, req.Plan, &resp.Diagnostics)
	if !ok {
		return
	}
	ctx, cancel := withOperationTimeout(ctx, plan.Timeouts.Create, defaultAuditDeletionTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Record != nil {
		r.deleteRecordHistory(ctx, &plan, &resp.Diagnostics)
	} else {
		r.runBulkDelete(ctx, &plan, &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = types.StringValue(uuid.NewString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *auditLogDeletionResource) deleteRecordHistory(ctx context.Context, plan *auditLogDeletionModel, diags *diag.Diagnostics) {
	table, id := plan.Record.EntityLogicalName.ValueString(), plan.Record.RecordID.ValueString()
	key, err := r.data.client.PrimaryIDAttribute(ctx, table)
	if dataverse.IsNotFound(err) {
		// The table is gone but its audit rows stay: DeleteRecordChangeHistory
		// needs the table to name the record, a bulk delete of the record's
		// rows does not.
		tflog.Info(ctx, "the record's table no longer exists: deleting its history with a bulk delete", map[string]any{"table": table})
		d := dataverse.AuditDeletion{Before: time.Now(), Tables: []string{table}, RecordID: id}
		r.submitAndWait(ctx, plan, d, fmt.Sprintf("Delete logs of record %s of deleted table %s (Terraform)", id, table), diags)
		return
	}
	if err != nil {
		addAPIError(diags, "Cannot read the primary key of table "+table, err)
		return
	}
	n, err := r.data.client.DeleteRecordChangeHistory(ctx, table, key, id)
	if err != nil {
		addDeletionError(diags, "Cannot delete the audit history of the record", err)
		return
	}
	tflog.Info(ctx, "deleted a record's audit history", map[string]any{"table": table, "rows": n})
	plan.JobID, plan.JobStatus, plan.DeletedRows = types.StringNull(), types.StringValue("Succeeded"), types.Int64Value(int64(n))
}

func (r *auditLogDeletionResource) runBulkDelete(ctx context.Context, plan *auditLogDeletionModel, diags *diag.Diagnostics) {
	d, dd := plan.deletion()
	if diags.Append(dd...); diags.HasError() {
		return
	}
	r.submitAndWait(ctx, plan, d, plan.jobName(d.Before), diags)
}

// submitAndWait submits a BulkDelete job for d and waits for its end,
// recording the job in plan.
func (r *auditLogDeletionResource) submitAndWait(ctx context.Context, plan *auditLogDeletionModel, d dataverse.AuditDeletion, jobName string, diags *diag.Diagnostics) {
	jobID, err := r.data.client.SubmitAuditBulkDelete(ctx, d, jobName, time.Now())
	if err != nil {
		addDeletionError(diags, "Cannot submit the audit log deletion", err)
		return
	}
	tflog.Info(ctx, "submitted a bulk delete job for audit logs", map[string]any{"job_id": jobID})
	job, err := r.data.client.WaitForBulkDelete(ctx, jobID, dataverse.JobWaitOptions{
		PollMin: r.data.auditSearchPollMin, PollMax: r.data.auditSearchPollMax,
		OnProgress: func(j *dataverse.BulkDeleteJob, polls int) {
			tflog.Info(ctx, "waiting for the bulk delete job", map[string]any{"job_id": jobID, "status": j.Status(), "polls": polls})
		},
	})
	var failed *dataverse.JobFailedError
	var waiting *dataverse.JobWaitError
	switch {
	case errors.As(err, &failed):
		diags.AddError("Audit log deletion failed", fmt.Sprintf("The bulk delete job %s ended %s with the message: %s\n\n"+
			"%d rows were deleted before it ended. See Settings > Data management > Bulk deletion in the environment, "+
			"then apply again to run a new job.", jobID, failed.Job.Status(), failed.Job.Message, failed.Job.Deleted))
		return
	case errors.As(err, &waiting):
		diags.AddError("Audit log deletion did not finish in time", fmt.Sprintf("The bulk delete job %s is still running "+
			"in Dataverse (%v); it keeps deleting. Follow it under Settings > Data management > Bulk deletion, or raise "+
			"timeouts { create = \"2h\" } — Microsoft quotes about 4 million audit rows an hour. Applying again submits a new job.",
			jobID, err))
		return
	case err != nil:
		addAPIError(diags, "Cannot follow the bulk delete job "+jobID, err)
		return
	}
	plan.JobID, plan.JobStatus, plan.DeletedRows = types.StringValue(jobID), types.StringValue(job.Status()), types.Int64Value(int64(job.Deleted))
}

// Read keeps the state: the deletion is history, and the rows it deleted
// cannot be read back.
func (r *auditLogDeletionResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {
}

// Update changes only timeouts (every other argument replaces the resource).
func (r *auditLogDeletionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan auditLogDeletionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *auditLogDeletionResource) Delete(_ context.Context, _ resource.DeleteRequest, resp *resource.DeleteResponse) {
	resp.Diagnostics.AddWarning("Deleted audit logs cannot come back",
		"Destroying dynamics365_audit_log_deletion only removes it from the Terraform state. The audit rows it deleted are gone for good.")
}
