package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Deleting audit data ("Delete audit data", "Manage Dataverse auditing"):
//
//	POST BulkDelete                    {QuerySet, JobName, SendEmailNotification,
//	                                    ToRecipients, CCRecipients, RecurrencePattern,
//	                                    StartDateTime} -> {JobId}
//	POST DeleteRecordChangeHistory     {Target} -> {DeletedEntriesCount}
//	GET  asyncoperations(<JobId>)[?$select]
//	GET  bulkdeleteoperations[?$filter=_asyncoperationid_value eq <JobId>][&$select]
//	GET  bulkdeleteoperations(<id>)[?$select]
//
// Rows of audits cannot be deleted directly (DELETE audits(<id>) is refused
// by serveAudits). A BulkDelete job waits for resources for the first half
// of Options.AuditDeletionJobDelay, runs for the second, then completes: it
// deletes the audit rows its query matches at that moment. Jobs settle
// lazily, when anything reads audits or a job (as Graph queries do).

const (
	routeBulkDelete                    = "BulkDelete"
	routeDeleteRecordChangeHist        = "DeleteRecordChangeHistory"
	asyncOperationsSet                 = "asyncoperations"
	bulkDeleteOperationsSet            = "bulkdeleteoperations"
	asyncOperationType                 = "Microsoft.Dynamics.CRM.asyncoperation"
	bulkDeleteOperationType            = "Microsoft.Dynamics.CRM.bulkdeleteoperation"
	operationTypeBulkDelete            = 13 // asyncoperation.operationtype "Bulk Delete"
	defaultAuditDeletionJobDelay       = 300 * time.Millisecond
	ActionAuditLogDeletion             = 111
	maxBulkDeleteBody            int64 = 1 << 20
)

// Job states (statecode) and reasons (statuscode) shared by asyncoperation
// and bulkdeleteoperation (table references of both).
const (
	jobStateReady          = 0
	jobStateLocked         = 2
	jobStateCompleted      = 3
	jobStatusWaitingForRes = 0
	jobStatusInProgress    = 20
	jobStatusSucceeded     = 30
	jobStatusFailed        = 31
)

// auditDeletionJob is one BulkDelete system job and its bulk delete operation.
type auditDeletionJob struct {
	id, operationID uuid.UUID
	name            string
	user            *principal
	created         time.Time
	match           auditPredicate
	failMessage     string // non-empty: the job fails with this message
	done            bool
	state, status   int
	success         int
	completedOn     time.Time
}

// auditDeletions is the part that owns BulkDelete jobs. Its lock comes
// after orgPart.mu and before the audit store in the lock order.
type auditDeletions struct {
	sh          *shared
	mu          sync.Mutex
	delay       time.Duration
	failNext    string
	jobs        []*auditDeletionJob
	byID        map[uuid.UUID]*auditDeletionJob
	byOperation map[uuid.UUID]*auditDeletionJob
}

func newAuditDeletions(sh *shared, opts Options) *auditDeletions {
	return &auditDeletions{
		sh: sh, delay: optionOrDefault(opts.AuditDeletionJobDelay, defaultAuditDeletionJobDelay),
		byID: map[uuid.UUID]*auditDeletionJob{}, byOperation: map[uuid.UUID]*auditDeletionJob{},
	}
}

// FailAuditDeletionJobs makes BulkDelete jobs submitted from now on fail
// with this message (the system job's message), deleting nothing; "" makes
// them succeed again.
func (s *Server) FailAuditDeletionJobs(message string) {
	withLock(&s.deletions.mu, func() { s.deletions.failNext = message })
}

// AuditDeletionJobCount is the number of BulkDelete jobs submitted.
func (s *Server) AuditDeletionJobCount() int {
	return locked(&s.deletions.mu, func() int { return len(s.deletions.jobs) })
}

// settle completes the jobs that are due.
func (d *auditDeletions) settle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.sh.timers.Now()
	for _, j := range d.jobs {
		if j.done {
			continue
		}
		elapsed := now.Sub(j.created)
		switch {
		case elapsed >= d.delay:
			d.complete(j, now)
		case elapsed >= d.delay/2:
			j.state, j.status = jobStateLocked, jobStatusInProgress
		}
	}
}

// complete runs a due job. Caller holds d.mu.
func (d *auditDeletions) complete(j *auditDeletionJob, now time.Time) {
	j.done, j.state, j.completedOn = true, jobStateCompleted, now
	if j.failMessage != "" {
		j.status = jobStatusFailed
		return
	}
	j.status = jobStatusSucceeded
	j.success = d.sh.audits.remove(j.match)
	d.auditDeletion(j.user, j.success)
}

// auditDeletion writes the "Audit Log Deletion" (111) row that records a
// deletion of audit data ("Manage Dataverse auditing" lists the deletion of
// audit logs among the audited operations; the row's columns are chosen).
func (d *auditDeletions) auditDeletion(user *principal, deleted int) {
	if deleted == 0 {
		return
	}
	d.sh.beginAudit(user, d.sh.now()).add(ActionAuditLogDeletion, OperationDelete, auditTable, "", nil, nil)
}

// remove deletes the rows pred matches and returns how many. Stored rows
// keep their insertion number: the slot of a removed row becomes nil.
func (a *auditStore) remove(pred auditPredicate) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	keep := a.order[:0]
	n := 0
	for _, seq := range a.order {
		r := a.rows[seq]
		if !pred(r) {
			keep = append(keep, seq)
			continue
		}
		a.rows[seq] = nil
		delete(a.byID, r.id)
		n++
	}
	a.order = keep
	return n
}

// bulkDeleteRequest is the body of the BulkDelete action.
type bulkDeleteRequest struct {
	QuerySet              []queryExpression `json:"QuerySet"`
	JobName               *string           `json:"JobName"`
	SendEmailNotification *bool             `json:"SendEmailNotification"`
	ToRecipients          []json.RawMessage `json:"ToRecipients"`
	CCRecipients          []json.RawMessage `json:"CCRecipients"`
	RecurrencePattern     *string           `json:"RecurrencePattern"`
	StartDateTime         *string           `json:"StartDateTime"`
}

// readAction checks an unbound action's request and decodes its JSON body
// into in; otherwise it writes the refusal and returns false.
func readAction(w http.ResponseWriter, r *http.Request, req apiRequest, in any) bool {
	if !actionRequest(w, r, req, http.MethodPost) {
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBulkDeleteBody))
	if err != nil {
		writeODataError(w, http.StatusRequestEntityTooLarge, codeBadPayload, "The request body is too large.")
		return false
	}
	if err := json.Unmarshal(body, in); err != nil {
		writeODataError(w, http.StatusBadRequest, codeBadPayload, actionPayloadError(req.name, err.Error()))
		return false
	}
	return true
}

func (s *Server) serveBulkDelete(w http.ResponseWriter, r *http.Request, req apiRequest) {
	var in bulkDeleteRequest
	if !readAction(w, r, req, &in) {
		return
	}
	// The parameters without Nullable=true in the action's reference are required.
	for _, p := range []struct {
		name    string
		missing bool
	}{
		{"QuerySet", len(in.QuerySet) == 0}, {"JobName", in.JobName == nil},
		{"SendEmailNotification", in.SendEmailNotification == nil},
		{"RecurrencePattern", in.RecurrencePattern == nil}, {"StartDateTime", in.StartDateTime == nil},
	} {
		if p.missing {
			writeODataError(w, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("Required field '%s' is missing.", p.name))
			return
		}
	}
	if *in.RecurrencePattern != "" {
		writeODataError(w, http.StatusBadRequest, codeInvalidArgument, "The Dynamics 365 emulator runs BulkDelete jobs once: RecurrencePattern must be empty.")
		return
	}
	var preds []auditPredicate
	for _, q := range in.QuerySet {
		p, msg := compileAuditQuery(q)
		if msg != "" {
			writeODataError(w, http.StatusBadRequest, codeInvalidArgument, msg)
			return
		}
		preds = append(preds, p)
	}
	if !req.user.cfg.has(PrivBulkDelete) {
		missingMiscPrivilege(w, req.user, PrivBulkDelete)
		return
	}
	d := s.deletions
	d.mu.Lock()
	j := &auditDeletionJob{
		id: s.newUUID(), operationID: s.newUUID(), name: *in.JobName, user: req.user,
		created: s.timers.Now(), failMessage: d.failNext,
		match: func(r *auditRow) bool {
			for _, p := range preds {
				if p(r) {
					return true
				}
			}
			return false
		},
	}
	d.jobs = append(d.jobs, j)
	d.byID[j.id], d.byOperation[j.operationID] = j, j
	d.mu.Unlock()
	d.settle() // a zero delay completes at once
	writeOData(w, http.StatusOK, object{
		{"@odata.context", s.environment + apiPrefix + "$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse"},
		{"JobId", j.id.String()},
	})
}

func (s *Server) serveDeleteRecordChangeHistory(w http.ResponseWriter, r *http.Request, req apiRequest) {
	var in struct {
		Target map[string]json.RawMessage `json:"Target"`
	}
	if !readAction(w, r, req, &in) {
		return
	}
	if in.Target == nil {
		writeODataError(w, http.StatusBadRequest, codeInvalidArgument, "Required field 'Target' is missing.")
		return
	}
	if !req.user.cfg.has(PrivDeleteRecordChangeHistory) {
		missingMiscPrivilege(w, req.user, PrivDeleteRecordChangeHistory)
		return
	}
	s.meta.mu.Lock()
	e, id, msg := s.resolveTarget(in.Target)
	s.meta.mu.Unlock()
	if msg != "" {
		status, code := http.StatusBadRequest, codeInvalidArgument
		if e == nil {
			status, code = http.StatusNotFound, codeSegmentNotFound
		}
		writeODataError(w, status, code, msg)
		return
	}
	s.deletions.settle()
	n := s.audits.remove(func(row *auditRow) bool { return row.table == e.logicalName && row.objectID == id })
	s.deletions.auditDeletion(req.user, n)
	writeOData(w, http.StatusOK, object{
		{"@odata.context", s.environment + apiPrefix + "$metadata#Microsoft.Dynamics.CRM.DeleteRecordChangeHistoryResponse"},
		{"DeletedEntriesCount", n},
	})
}

// jobColumn is one readable column of a job row.
type jobColumn struct {
	name  string
	value func(j *auditDeletionJob) any
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func completedOn(j *auditDeletionJob) any {
	if !j.done {
		return nil
	}
	return j.completedOn
}

var asyncOperationColumns = []jobColumn{
	{"asyncoperationid", func(j *auditDeletionJob) any { return j.id.String() }},
	{"name", func(j *auditDeletionJob) any { return j.name }},
	{"operationtype", func(*auditDeletionJob) any { return operationTypeBulkDelete }},
	{"statecode", func(j *auditDeletionJob) any { return j.state }},
	{"statuscode", func(j *auditDeletionJob) any { return j.status }},
	{"message", func(j *auditDeletionJob) any { return nullIfEmpty(j.failMessageIfFailed()) }},
	{"friendlymessage", func(j *auditDeletionJob) any { return nullIfEmpty(j.failMessageIfFailed()) }},
	{"createdon", func(j *auditDeletionJob) any { return j.created }},
	{"completedon", completedOn},
	{"_ownerid_value", func(j *auditDeletionJob) any { return j.user.systemUserID }},
}

var bulkDeleteOperationColumns = []jobColumn{
	{"bulkdeleteoperationid", func(j *auditDeletionJob) any { return j.operationID.String() }},
	{"name", func(j *auditDeletionJob) any { return j.name }},
	{"statecode", func(j *auditDeletionJob) any { return j.state }},
	{"statuscode", func(j *auditDeletionJob) any { return j.status }},
	{"successcount", func(j *auditDeletionJob) any { return j.success }},
	{"failurecount", func(*auditDeletionJob) any { return 0 }},
	{"isrecurring", func(*auditDeletionJob) any { return false }},
	{"_asyncoperationid_value", func(j *auditDeletionJob) any { return j.id.String() }},
	{"createdon", func(j *auditDeletionJob) any { return j.created }},
}

func (j *auditDeletionJob) failMessageIfFailed() string {
	if j.done && j.status == jobStatusFailed {
		return j.failMessage
	}
	return ""
}

// selectJobColumns applies $select (all columns without it).
func selectJobColumns(r *http.Request, cols []jobColumn, typeName string) ([]jobColumn, string) {
	v := r.URL.Query().Get("$select")
	if v == "" {
		return cols, ""
	}
	var out []jobColumn
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		i := -1
		for k, c := range cols {
			if c.name == name {
				i = k
			}
		}
		if i < 0 {
			return nil, notAProperty(name, typeName)
		}
		out = append(out, cols[i])
	}
	return out, ""
}

func jobRow(j *auditDeletionJob, cols []jobColumn) object {
	o := object{{"@odata.etag", fmt.Sprintf("W/\"%d\"", j.created.UnixNano()/1000+int64(j.status))}}
	for _, c := range cols {
		o = append(o, member{c.name, c.value(j)})
	}
	return o
}

// serveJobs serves asyncoperations and bulkdeleteoperations (the rows of
// BulkDelete jobs only: the emulator runs no other system jobs).
func (s *Server) serveJobs(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if r.Method != http.MethodGet {
		writeMethodNotAllowed(w, r, http.MethodGet)
		return
	}
	async := req.name == asyncOperationsSet
	cols, typeName, table := bulkDeleteOperationColumns, bulkDeleteOperationType, "bulkdeleteoperation"
	if async {
		cols, typeName, table = asyncOperationColumns, asyncOperationType, "asyncoperation"
	}
	cols, msg := selectJobColumns(r, cols, typeName)
	if msg != "" {
		writeODataError(w, http.StatusBadRequest, codeNone, msg)
		return
	}
	d := s.deletions
	d.settle()
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx := s.environment + apiPrefix + "$metadata#" + req.name
	if req.hasKey {
		id, ok := parseKeyGUID(strings.TrimPrefix(req.key, table+"id="))
		if !ok {
			writeODataError(w, http.StatusBadRequest, codeQuerySyntax, "Bad Request - Error in query syntax.")
			return
		}
		j := d.byOperation[id]
		if async {
			j = d.byID[id]
		}
		if j == nil {
			writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", table, id))
			return
		}
		writeOData(w, http.StatusOK, append(object{{"@odata.context", ctx + "/$entity"}}, jobRow(j, cols)...))
		return
	}
	var only *uuid.UUID
	if f := r.URL.Query().Get("$filter"); f != "" {
		lhs, rhs, found := strings.Cut(f, " eq ")
		id, err := uuid.Parse(strings.TrimSpace(rhs))
		if async || !found || strings.TrimSpace(lhs) != "_asyncoperationid_value" || err != nil {
			writeODataError(w, http.StatusBadRequest, codeNone, fmt.Sprintf("The $filter '%s' is not supported on %s by the Dynamics 365 emulator: only '_asyncoperationid_value eq <id>' on bulkdeleteoperations is.", f, req.name))
			return
		}
		only = &id
	}
	var rows []object
	for _, j := range d.jobs {
		if only == nil || j.id == *only {
			rows = append(rows, jobRow(j, cols))
		}
	}
	if rows == nil {
		rows = []object{}
	}
	writeOData(w, http.StatusOK, object{{"@odata.context", ctx}, {"value", rows}})
}
