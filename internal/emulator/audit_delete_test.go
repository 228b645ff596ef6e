package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// deletionServer starts an emulator on a manual clock with seeded audit
// rows in 2025 and returns it with a token of an all-privileges client.
func deletionServer(t *testing.T, rows int, opts ...ClientOption) (*Server, *ManualClock, string) {
	t.Helper()
	clock := NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	s := startServer(t, Options{TimeSource: clock, AuditDeletionJobDelay: 10 * time.Second})
	s.AddSecretClient("deleter", "secret", opts...)
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SeedAuditHistory(rows, from, from.AddDate(0, 12, 0), 7)
	return s, clock, login(t, s, "deleter", "secret")
}

func bulkDeleteBody(conditions ...map[string]any) map[string]any {
	return map[string]any{
		"QuerySet": []any{map[string]any{
			"EntityName": "audit",
			"Criteria":   map[string]any{"FilterOperator": "And", "Conditions": conditions, "Filters": []any{}},
		}},
		"JobName": "test", "SendEmailNotification": false, "ToRecipients": []any{}, "CCRecipients": []any{},
		"RecurrencePattern": "", "StartDateTime": "2026-03-01T00:00:00Z",
	}
}

func condition(attr, op string, values ...string) map[string]any {
	var vs []any
	for _, v := range values {
		vs = append(vs, map[string]any{"Type": "System.String", "Value": v})
	}
	return map[string]any{"AttributeName": attr, "Operator": op, "Values": vs}
}

func countWhere(s *Server, match func(AuditRecord) bool) int {
	n := 0
	for _, r := range s.AuditRecords() {
		if match(r) {
			n++
		}
	}
	return n
}

func jobState(t *testing.T, s *Server, token, jobID string) (int, int, string) {
	t.Helper()
	r := callAPI(t, s, http.MethodGet, "asyncoperations("+jobID+")?$select=statecode,statuscode,message", token, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET asyncoperations: %d %s", r.status, r.body)
	}
	m := r.json(t)
	msg, _ := m["message"].(string)
	return int(m["statecode"].(float64)), int(m["statuscode"].(float64)), msg
}

func TestBulkDeleteAuditJobRunsOnTheClock(t *testing.T) {
	s, clock, token := deletionServer(t, 400)
	cut := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	isTarget := func(r AuditRecord) bool { return r.CreatedOn.Before(cut) && r.ObjectTypeCode == "account" }
	want := countWhere(s, isTarget)
	others := s.AuditCount() - want
	if want == 0 {
		t.Fatal("no seeded account rows before the cut")
	}
	r := callAPI(t, s, http.MethodPost, "BulkDelete", token, bulkDeleteBody(
		condition("createdon", "LessThan", cut.Format(time.RFC3339)),
		condition("objecttypecode", "In", "account"),
	), nil)
	if r.status != http.StatusOK {
		t.Fatalf("BulkDelete: %d %s", r.status, r.body)
	}
	jobID := r.json(t)["JobId"].(string)

	if state, status, _ := jobState(t, s, token, jobID); state != 0 || status != 0 {
		t.Fatalf("new job: state %d status %d, want 0/0 (Waiting For Resources)", state, status)
	}
	clock.Advance(6 * time.Second)
	if state, status, _ := jobState(t, s, token, jobID); state != 2 || status != 20 {
		t.Fatalf("half-way: state %d status %d, want 2/20 (In Progress)", state, status)
	}
	if got := countWhere(s, isTarget); got != want {
		t.Fatalf("rows deleted before the job completed: %d left of %d", got, want)
	}
	clock.Advance(5 * time.Second)
	if state, status, _ := jobState(t, s, token, jobID); state != 3 || status != 30 {
		t.Fatalf("after the delay: state %d status %d, want 3/30 (Succeeded)", state, status)
	}
	if got := countWhere(s, isTarget); got != 0 {
		t.Errorf("%d matching rows left after the job", got)
	}
	// The other rows stay; the deletion itself is audited (action 111).
	if got := countWhere(s, func(r AuditRecord) bool { return !isTarget(r) && r.Action != ActionAuditLogDeletion }); got != others {
		t.Errorf("other rows: %d, want %d", got, others)
	}
	if got := countWhere(s, func(r AuditRecord) bool { return r.Action == ActionAuditLogDeletion }); got != 1 {
		t.Errorf("%d Audit Log Deletion rows, want 1", got)
	}
	ops := callAPI(t, s, http.MethodGet, "bulkdeleteoperations?$select=successcount,failurecount,statuscode&$filter=_asyncoperationid_value%20eq%20"+jobID, token, nil, nil)
	v := ops.json(t)["value"].([]any)
	if len(v) != 1 || int(v[0].(map[string]any)["successcount"].(float64)) != want {
		t.Errorf("bulkdeleteoperations: %s, want successcount %d", ops.body, want)
	}
}

func TestBulkDeleteUserAccessRows(t *testing.T) {
	s, clock, token := deletionServer(t, 50)
	s.UpdateOrganization(func(o *Organization) { o.IsAuditEnabled, o.IsUserAccessAuditEnabled = true, true })
	u := s.AddUser("Pat Access")
	at := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := s.SimulateSignIn(at.AddDate(0, 0, i), u, i%2 == 1); err != nil {
			t.Fatal(err)
		}
	}
	access := func(r AuditRecord) bool { return r.Action == 64 || r.Action == 65 }
	if countWhere(s, access) != 3 {
		t.Fatalf("want 3 access rows, got %d", countWhere(s, access))
	}
	before := s.AuditCount()
	r := callAPI(t, s, http.MethodPost, "BulkDelete", token, bulkDeleteBody(condition("action", "In", "64", "65")), nil)
	if r.status != http.StatusOK {
		t.Fatalf("BulkDelete: %d %s", r.status, r.body)
	}
	clock.Advance(10 * time.Second)
	if got := countWhere(s, access); got != 0 {
		t.Errorf("%d access rows left", got)
	}
	if got := s.AuditCount(); got != before-3+1 {
		t.Errorf("%d rows, want %d (3 deleted, 1 deletion row)", got, before-2)
	}
}

func TestBulkDeleteFailedJobKeepsRowsAndReportsMessage(t *testing.T) {
	s, clock, token := deletionServer(t, 50)
	s.FailAuditDeletionJobs("SQL timeout while deleting audit partitions")
	before := s.AuditCount()
	r := callAPI(t, s, http.MethodPost, "BulkDelete", token, bulkDeleteBody(condition("createdon", "LessThan", "2026-01-01T00:00:00Z")), nil)
	jobID := r.json(t)["JobId"].(string)
	clock.Advance(time.Minute)
	state, status, msg := jobState(t, s, token, jobID)
	if state != 3 || status != 31 || msg != "SQL timeout while deleting audit partitions" {
		t.Errorf("failed job: state %d status %d message %q", state, status, msg)
	}
	if s.AuditCount() != before {
		t.Errorf("a failed job deleted rows: %d -> %d", before, s.AuditCount())
	}
}

func TestAuditDeletionPrivileges(t *testing.T) {
	s, _, token := deletionServer(t, 10, WithPrivileges(PrivReadAuditSummary))
	r := callAPI(t, s, http.MethodPost, "BulkDelete", token, bulkDeleteBody(condition("action", "Equal", "64")), nil)
	if code, msg := r.odataError(t); r.status != http.StatusForbidden || code != codeMissingPrivilege || !strings.Contains(msg, "is missing prvBulkDelete privilege") {
		t.Errorf("BulkDelete without prvBulkDelete: %d %s", r.status, r.body)
	}
	rec := s.AuditRecords()[0]
	r = callAPI(t, s, http.MethodPost, "DeleteRecordChangeHistory", token, map[string]any{
		"Target": map[string]any{"@odata.type": "Microsoft.Dynamics.CRM." + rec.ObjectTypeCode, rec.ObjectTypeCode + "id": rec.ObjectID},
	}, nil)
	if _, msg := r.odataError(t); r.status != http.StatusForbidden || !strings.Contains(msg, "is missing prvDeleteRecordChangeHistory privilege") {
		t.Errorf("DeleteRecordChangeHistory without the privilege: %d %s", r.status, r.body)
	}
	if s.AuditCount() != 10 {
		t.Errorf("refused calls deleted rows")
	}
}

func TestDeleteRecordChangeHistoryDeletesOneRecord(t *testing.T) {
	s, _, token := deletionServer(t, 300)
	rec := s.AuditRecords()[0]
	mine := func(r AuditRecord) bool { return r.ObjectTypeCode == rec.ObjectTypeCode && r.ObjectID == rec.ObjectID }
	want := countWhere(s, mine)
	r := callAPI(t, s, http.MethodPost, "DeleteRecordChangeHistory", token, map[string]any{
		"Target": map[string]any{"@odata.type": "Microsoft.Dynamics.CRM." + rec.ObjectTypeCode, rec.ObjectTypeCode + "id": rec.ObjectID},
	}, nil)
	if r.status != http.StatusOK || int(r.json(t)["DeletedEntriesCount"].(float64)) != want {
		t.Fatalf("DeleteRecordChangeHistory: %d %s, want DeletedEntriesCount %d", r.status, r.body, want)
	}
	if countWhere(s, mine) != 0 {
		t.Error("rows of the record left")
	}
}

func TestAuditRowsCannotBeDeletedDirectly(t *testing.T) {
	s, _, token := deletionServer(t, 5)
	id := s.AuditRecords()[0].AuditID
	r := callAPI(t, s, http.MethodDelete, "audits("+id+")", token, nil, nil)
	if r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE audits(<id>): %d %s", r.status, r.body)
	}
	if s.AuditCount() != 5 {
		t.Error("a direct DELETE removed a row")
	}
}

func TestAuditsCountIsCappedAt5000(t *testing.T) {
	s, _, token := deletionServer(t, 5003)
	prefer := map[string]string{"Prefer": `odata.maxpagesize=1,odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"`}
	r := callAPI(t, s, http.MethodGet, "audits?$select=auditid&$count=true", token, nil, prefer)
	m := r.json(t)
	if m["@odata.count"] != 5000.0 || m["@Microsoft.Dynamics.CRM.totalrecordcount"] != 5000.0 || m["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] != true {
		t.Errorf("over the cap: %v", m)
	}
	if n := len(m["value"].([]any)); n != 1 {
		t.Errorf("page of %d rows, want 1", n)
	}
	cut := s.AuditRecords()[99].CreatedOn
	want := countWhere(s, func(r AuditRecord) bool { return r.CreatedOn.Before(cut) })
	r = callAPI(t, s, http.MethodGet, "audits?$select=auditid&$count=true&$filter="+url.QueryEscape("createdon lt "+cut.Format(time.RFC3339)), token, nil, prefer)
	m = r.json(t)
	if m["@odata.count"] != float64(want) || m["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] != false {
		t.Errorf("under the cap: %v, want %d", m, want)
	}
	r = callAPI(t, s, http.MethodGet, "audits?$top=1", token, nil, prefer)
	if m = r.json(t); m["@Microsoft.Dynamics.CRM.totalrecordcount"] != -1.0 || m["@odata.count"] != nil {
		t.Errorf("without $count: %v", m)
	}
}

func TestBulkDeleteRefusesUnsupportedQueries(t *testing.T) {
	s, _, token := deletionServer(t, 5)
	for name, body := range map[string]map[string]any{
		"attribute": bulkDeleteBody(condition("useradditionalinfo", "Equal", "x")),
		"operator":  bulkDeleteBody(condition("action", "Like", "6%")),
		"value":     bulkDeleteBody(condition("createdon", "LessThan", "yesterday")),
	} {
		r := callAPI(t, s, http.MethodPost, "BulkDelete", token, body, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	body := bulkDeleteBody()
	delete(body, "JobName")
	if r := callAPI(t, s, http.MethodPost, "BulkDelete", token, body, nil); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "JobName") {
		t.Errorf("without JobName: %d %s", r.status, r.body)
	}
	if s.AuditDeletionJobCount() != 0 || s.AuditCount() != 5 {
		t.Error(fmt.Sprint("refused requests made jobs: ", s.AuditDeletionJobCount()))
	}
}
