package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Deleting audit data ("Delete audit data"): rows of audits cannot be
// deleted directly. DeleteRecordChangeHistory deletes one record's history
// at once; BulkDelete deletes the rows a QueryExpression matches in a
// system job (asyncoperation, with a bulkdeleteoperation that counts the
// deleted rows).

// Privileges the deletions need (a 403 names the missing one).
const (
	PrivilegeBulkDelete                = "prvBulkDelete"
	PrivilegeDeleteRecordChangeHistory = "prvDeleteRecordChangeHistory"
	PrivilegeReadAuditSummary          = "prvReadAuditSummary"
)

// User access actions: 64 User Access via Web, 65 User Access via Web
// Services — the "access logs by people and systems" of the admin center.
var userAccessActions = []int{64, 65}

// AuditDeletion selects the audit rows of a bulk deletion: rows created
// before Before, of the given tables (none: all tables), or only user
// access rows.
type AuditDeletion struct {
	Before         time.Time
	Tables         []string
	UserAccessOnly bool
	// RecordID, when set, keeps only the rows of that record (a GUID): the
	// history of a record whose table is gone, which
	// DeleteRecordChangeHistory cannot name.
	RecordID string
}

// odataFilter is the $filter of GET audits that matches the same rows.
func (d AuditDeletion) odataFilter() string {
	parts := []string{"createdon lt " + formatODataTime(d.Before)}
	var terms []string
	for _, t := range sortedUnique(d.Tables) {
		terms = append(terms, "objecttypecode eq "+odataString(t))
	}
	if len(terms) > 0 {
		parts = append(parts, "("+strings.Join(terms, " or ")+")")
	}
	if d.UserAccessOnly {
		parts = append(parts, codeGroup("action", userAccessActions))
	}
	if d.RecordID != "" {
		parts = append(parts, "_objectid_value eq "+strings.ToLower(d.RecordID))
	}
	return strings.Join(parts, " and ")
}

// queryValue is a value of a ConditionExpression as the Web API example of
// "Delete audit data" writes it.
type queryValue struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

type queryCondition struct {
	AttributeName string       `json:"AttributeName"`
	Operator      string       `json:"Operator"`
	Values        []queryValue `json:"Values"`
}

type queryFilter struct {
	FilterOperator string           `json:"FilterOperator"`
	Conditions     []queryCondition `json:"Conditions"`
	Filters        []queryFilter    `json:"Filters"`
}

type queryExpression struct {
	EntityName string      `json:"EntityName"`
	Criteria   queryFilter `json:"Criteria"`
}

// queryExpression is the QueryExpression of BulkDelete matching d.
func (d AuditDeletion) queryExpression() queryExpression {
	conds := []queryCondition{{AttributeName: "createdon", Operator: "LessThan",
		Values: []queryValue{{Type: "System.DateTime", Value: formatODataTime(d.Before)}}}}
	if tables := sortedUnique(d.Tables); len(tables) > 0 {
		c := queryCondition{AttributeName: "objecttypecode", Operator: "In"}
		for _, t := range tables {
			c.Values = append(c.Values, queryValue{Type: "System.String", Value: t})
		}
		conds = append(conds, c)
	}
	if d.UserAccessOnly {
		c := queryCondition{AttributeName: "action", Operator: "In"}
		for _, a := range userAccessActions {
			c.Values = append(c.Values, queryValue{Type: "System.Int32", Value: strconv.Itoa(a)})
		}
		conds = append(conds, c)
	}
	if d.RecordID != "" {
		conds = append(conds, queryCondition{AttributeName: "objectid", Operator: "Equal",
			Values: []queryValue{{Type: "System.Guid", Value: strings.ToLower(d.RecordID)}}})
	}
	return queryExpression{EntityName: "audit", Criteria: queryFilter{FilterOperator: "And", Conditions: conds, Filters: []queryFilter{}}}
}

// AuditCount is a count of audit rows. The Web API counts at most 5,000
// ("Count rows using OData"); LowerBound is true when more rows match.
type AuditCount struct {
	Rows       int
	LowerBound bool
}

// AuditCountLimit is the most rows $count counts.
const AuditCountLimit = 5000

// countAudits asks GET audits for the count of rows filter matches, in one
// request that returns at most one row.
func (c *Client) countAudits(ctx context.Context, filter string) (AuditCount, error) {
	var out struct {
		Count    *int `json:"@odata.count"`
		Exceeded bool `json:"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"`
	}
	_, err := c.Do(ctx, &Request{
		Method: http.MethodGet, Path: "audits",
		Query: url.Values{"$select": {"auditid"}, "$filter": {filter}, "$count": {"true"}},
		Header: http.Header{"Prefer": {"odata.maxpagesize=1",
			`odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"`}},
		Out: &out,
	})
	if err != nil {
		return AuditCount{}, withPrivilege(err)
	}
	if out.Count == nil {
		return AuditCount{}, errors.New("dataverse: GET audits with $count=true answered without @odata.count")
	}
	return AuditCount{Rows: *out.Count, LowerBound: out.Exceeded || *out.Count > AuditCountLimit}, nil
}

// CountAuditDeletion counts the rows BulkDelete of d would delete now.
func (c *Client) CountAuditDeletion(ctx context.Context, d AuditDeletion) (AuditCount, error) {
	return c.countAudits(ctx, d.odataFilter())
}

// CountRecordAudits counts the audit rows of one record (what
// DeleteRecordChangeHistory deletes).
func (c *Client) CountRecordAudits(ctx context.Context, table, recordID string) (AuditCount, error) {
	if !IsGUID(recordID) {
		return AuditCount{}, fmt.Errorf("dataverse: record id %q is not a GUID", recordID)
	}
	return c.countAudits(ctx, "objecttypecode eq "+odataString(table)+" and _objectid_value eq "+strings.ToLower(recordID))
}

// SubmitAuditBulkDelete submits a one-time BulkDelete job for d and returns
// its JobId (the asyncoperation id).
func (c *Client) SubmitAuditBulkDelete(ctx context.Context, d AuditDeletion, jobName string, start time.Time) (string, error) {
	var out struct {
		JobID string `json:"JobId"`
	}
	_, err := c.Do(ctx, &Request{Method: http.MethodPost, Path: "BulkDelete", Out: &out, Body: map[string]any{
		"QuerySet":              []queryExpression{d.queryExpression()},
		"JobName":               jobName,
		"SendEmailNotification": false,
		"ToRecipients":          []any{},
		"CCRecipients":          []any{},
		"RecurrencePattern":     "",
		"StartDateTime":         start.UTC().Format(time.RFC3339),
	}})
	if err != nil {
		return "", withPrivilege(err)
	}
	if !IsGUID(out.JobID) {
		return "", fmt.Errorf("dataverse: BulkDelete answered without a JobId (got %q)", out.JobID)
	}
	return out.JobID, nil
}

// PrimaryIDAttribute reads a table's primary key column (e.g. accountid).
func (c *Client) PrimaryIDAttribute(ctx context.Context, table string) (string, error) {
	p, err := entityPath(table)
	if err != nil {
		return "", err
	}
	var out struct {
		PrimaryIDAttribute string `json:"PrimaryIdAttribute"`
	}
	if err := c.getJSON(ctx, p, url.Values{"$select": {"PrimaryIdAttribute"}}, &out); err != nil {
		return "", err
	}
	return out.PrimaryIDAttribute, nil
}

// DeleteRecordChangeHistory deletes every audit row of one record and
// returns DeletedEntriesCount.
func (c *Client) DeleteRecordChangeHistory(ctx context.Context, table, primaryIDAttribute, recordID string) (int, error) {
	if !IsGUID(recordID) {
		return 0, fmt.Errorf("dataverse: record id %q is not a GUID", recordID)
	}
	var out struct {
		DeletedEntriesCount *int `json:"DeletedEntriesCount"`
	}
	_, err := c.Do(ctx, &Request{Method: http.MethodPost, Path: "DeleteRecordChangeHistory", Out: &out, Body: map[string]any{
		"Target": map[string]string{"@odata.type": "Microsoft.Dynamics.CRM." + table, primaryIDAttribute: strings.ToLower(recordID)},
	}})
	if err != nil {
		return 0, withPrivilege(err)
	}
	if out.DeletedEntriesCount == nil {
		return 0, errors.New("dataverse: DeleteRecordChangeHistory answered without DeletedEntriesCount")
	}
	return *out.DeletedEntriesCount, nil
}

// Job states and reasons of asyncoperation and bulkdeleteoperation.
const (
	JobStateCompleted  = 3
	JobStatusSucceeded = 30
	JobStatusFailed    = 31
	JobStatusCanceled  = 32
)

// jobStatusLabels are the statuscode labels (the tables' references).
var jobStatusLabels = map[int]string{
	0: "Waiting For Resources", 10: "Waiting", 11: "Retrying", 12: "Paused", 20: "In Progress",
	21: "Pausing", 22: "Canceling", 30: "Succeeded", 31: "Failed", 32: "Canceled",
}

// JobStatusLabel names a statuscode.
func JobStatusLabel(code int) string {
	if l, ok := jobStatusLabels[code]; ok {
		return l
	}
	return "status " + strconv.Itoa(code)
}

// BulkDeleteJob is the state of a BulkDelete system job.
type BulkDeleteJob struct {
	ID                  string
	StateCode           int
	StatusCode          int
	Message             string // the system job's message (friendlymessage when set)
	Deleted, Failures   int    // successcount and failurecount of its bulk delete operation
	OperationRowPresent bool   // the bulkdeleteoperation row was found
}

// Status is the label of the job's statuscode.
func (j *BulkDeleteJob) Status() string { return JobStatusLabel(j.StatusCode) }

func (c *Client) getAsyncOperation(ctx context.Context, id string) (*BulkDeleteJob, error) {
	var out struct {
		StateCode  int    `json:"statecode"`
		StatusCode int    `json:"statuscode"`
		Message    string `json:"message"`
		Friendly   string `json:"friendlymessage"`
	}
	if err := c.getJSON(ctx, "asyncoperations("+strings.ToLower(id)+")",
		url.Values{"$select": {"statecode,statuscode,message,friendlymessage"}}, &out); err != nil {
		return nil, err
	}
	msg := out.Friendly
	if msg == "" {
		msg = out.Message
	}
	return &BulkDeleteJob{ID: id, StateCode: out.StateCode, StatusCode: out.StatusCode, Message: msg}, nil
}

func (c *Client) readBulkDeleteCounts(ctx context.Context, job *BulkDeleteJob) error {
	var out struct {
		Value []struct {
			Success int `json:"successcount"`
			Failure int `json:"failurecount"`
		} `json:"value"`
	}
	if err := c.getJSON(ctx, "bulkdeleteoperations", url.Values{
		"$select": {"successcount,failurecount"},
		"$filter": {"_asyncoperationid_value eq " + strings.ToLower(job.ID)},
	}, &out); err != nil {
		return err
	}
	for _, v := range out.Value {
		job.Deleted += v.Success
		job.Failures += v.Failure
		job.OperationRowPresent = true
	}
	return nil
}

// JobWaitOptions tunes WaitForBulkDelete.
type JobWaitOptions struct {
	// PollMin is the first wait between polls (default 2s); each next wait
	// is 1.5 to 2 times the last, capped at PollMax (default 30s).
	PollMin, PollMax time.Duration
	// OnProgress, when set, is called after each poll.
	OnProgress func(job *BulkDeleteJob, polls int)
}

// JobFailedError is a BulkDelete job that ended Failed or Canceled.
type JobFailedError struct{ Job *BulkDeleteJob }

func (e *JobFailedError) Error() string {
	msg := e.Job.Message
	if msg == "" {
		msg = "(the job gave no message)"
	}
	return fmt.Sprintf("bulk delete job %s ended %s: %s", e.Job.ID, e.Job.Status(), msg)
}

// JobWaitError is WaitForBulkDelete ending because its context ended
// first. The job keeps running in Dataverse.
type JobWaitError struct {
	Job *BulkDeleteJob // the last state seen; nil when no poll completed
	Err error
}

func (e *JobWaitError) Error() string {
	status := "unknown"
	if e.Job != nil {
		status = e.Job.Status()
	}
	return fmt.Sprintf("stopped waiting for the bulk delete job (last status %s): %v", status, e.Err)
}

func (e *JobWaitError) Unwrap() error { return e.Err }

// WaitForBulkDelete polls the job until it completes, then reads how many
// rows its bulk delete operation deleted. A Failed or Canceled job is a
// *JobFailedError; the context ending first a *JobWaitError.
func (c *Client) WaitForBulkDelete(ctx context.Context, jobID string, opts JobWaitOptions) (*BulkDeleteJob, error) {
	if !IsGUID(jobID) {
		return nil, fmt.Errorf("dataverse: job id %q is not a GUID", jobID)
	}
	minWait, maxWait := opts.PollMin, opts.PollMax
	if minWait <= 0 {
		minWait = 2 * time.Second
	}
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	maxWait = max(maxWait, minWait)
	var last *BulkDeleteJob
	wait := minWait
	for polls := 1; ; polls++ {
		job, err := c.getAsyncOperation(ctx, jobID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &JobWaitError{Job: last, Err: ctx.Err()}
			}
			return nil, err
		}
		last = job
		if opts.OnProgress != nil {
			opts.OnProgress(job, polls)
		}
		if job.StateCode == JobStateCompleted {
			if err := c.readBulkDeleteCounts(ctx, job); err != nil {
				return job, err
			}
			if job.StatusCode != JobStatusSucceeded {
				return job, &JobFailedError{Job: job}
			}
			return job, nil
		}
		if err := msapi.Sleep(ctx, wait); err != nil {
			return nil, &JobWaitError{Job: last, Err: err}
		}
		wait = msapi.NextPollWait(wait, minWait, maxWait)
	}
}

// MissingPrivilegeError is a 403 that names the privilege the caller lacks.
type MissingPrivilegeError struct {
	Privilege string
	Err       error
}

func (e *MissingPrivilegeError) Error() string {
	return fmt.Sprintf("the caller lacks the Dataverse privilege %s: %v", e.Privilege, e.Err)
}

func (e *MissingPrivilegeError) Unwrap() error { return e.Err }

// missingPrivilegeRE finds the privilege in Dataverse's 403 message
// "Principal user (Id=…), is missing prvBulkDelete privilege (Id=…)".
var missingPrivilegeRE = regexp.MustCompile(`is missing (prv[A-Za-z0-9_]+) privilege`)

// withPrivilege turns a 403 naming a privilege into a *MissingPrivilegeError.
func withPrivilege(err error) error {
	e, ok := AsError(err)
	if !ok || e.StatusCode != http.StatusForbidden {
		return err
	}
	if m := missingPrivilegeRE.FindStringSubmatch(e.Message); m != nil {
		return &MissingPrivilegeError{Privilege: m[1], Err: err}
	}
	return err
}
