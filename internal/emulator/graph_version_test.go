package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A query read on beta has the beta shape (serviceFilter, a string; no
// record counts); read on v1.0 it has the v1.0 shape (serviceFilters, a
// collection, and approximateReturnedRecordCount,
// isRecordCountLimitExceeded, recordCountLimit), as each version's
// "auditLogQuery resource type" page documents.
func TestGraphQueryShapeByVersion(t *testing.T) {
	t.Parallel()
	s, token := startGraph(t, Options{GraphQueryDelay: 20 * time.Millisecond})
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s.SeedUnifiedAuditLog(7, from, from.Add(time.Hour), 3)
	q := createQuery(t, s, token, map[string]any{
		"filterStartDateTime": "2026-06-01T00:00:00Z", "filterEndDateTime": "2026-06-02T00:00:00Z",
		"recordTypeFilters": []string{"crm"}, "serviceFilter": "CRM",
	})
	id := q["id"].(string)
	for _, absent := range []string{"serviceFilters", "approximateReturnedRecordCount", "isRecordCountLimitExceeded", "recordCountLimit"} {
		if _, ok := q[absent]; ok {
			t.Errorf("beta create answer has %s: %v", absent, q)
		}
	}
	// Before the query has run, v1.0 has no count yet and the flag is false.
	running := callGraph(t, s, http.MethodGet, "/v1.0/security/auditLog/queries/"+id, token, nil).json(t)
	if running["status"] != QuerySucceeded && (running["approximateReturnedRecordCount"] != nil || running["isRecordCountLimitExceeded"] != false) {
		t.Errorf("v1.0 before success: %v", running)
	}
	if st := waitQuery(t, s, token, id); st != QuerySucceeded {
		t.Fatalf("status %s", st)
	}

	beta := callGraph(t, s, http.MethodGet, queriesPath+"/"+id, token, nil).json(t)
	if beta["serviceFilter"] != "CRM" {
		t.Errorf("beta serviceFilter = %v", beta["serviceFilter"])
	}
	for _, absent := range []string{"serviceFilters", "approximateReturnedRecordCount", "isRecordCountLimitExceeded", "recordCountLimit"} {
		if _, ok := beta[absent]; ok {
			t.Errorf("beta GET has %s", absent)
		}
	}

	v1 := callGraph(t, s, http.MethodGet, "/v1.0/security/auditLog/queries/"+id, token, nil)
	if !strings.Contains(string(v1.body), `"approximateReturnedRecordCount":7,`) {
		t.Errorf("v1.0 count is not the JSON number 7: %s", v1.body)
	}
	got := v1.json(t)
	want := map[string]any{
		"serviceFilters":                 []any{"CRM"},
		"approximateReturnedRecordCount": float64(7),
		"isRecordCountLimitExceeded":     false,
		"recordCountLimit":               float64(defaultGraphRecordCountLimit),
		"status":                         QuerySucceeded,
	}
	for k, v := range want {
		if mustJSON(got[k]) != mustJSON(v) {
			t.Errorf("v1.0 %s = %s, want %s", k, mustJSON(got[k]), mustJSON(v))
		}
	}
	if _, ok := got["serviceFilter"]; ok {
		t.Errorf("v1.0 GET has the beta serviceFilter: %s", v1.body)
	}
	// The v1.0 list uses the v1.0 shape too.
	list := callGraph(t, s, http.MethodGet, "/v1.0/security/auditLog/queries", token, nil).json(t)
	if v := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["recordCountLimit"] == nil {
		t.Errorf("v1.0 list %v", list)
	}
	// v1.0 documents no create.
	if r := callGraph(t, s, http.MethodPost, "/v1.0/security/auditLog/queries", token, map[string]any{}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("v1.0 POST: %d %s", r.status, r.body)
	}
}

// A query matching more records than recordCountLimit succeeds, says so on
// v1.0 (isRecordCountLimitExceeded), and serves only that many records.
func TestGraphRecordCountLimit(t *testing.T) {
	t.Parallel()
	s, token := startGraph(t, Options{GraphQueryDelay: 10 * time.Millisecond, GraphRecordCountLimit: 4})
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s.SeedUnifiedAuditLog(9, from, from.Add(time.Hour), 5)
	q := createQuery(t, s, token, map[string]any{"filterStartDateTime": "2026-06-01T00:00:00Z", "filterEndDateTime": "2026-06-02T00:00:00Z"})
	id := q["id"].(string)
	if st := waitQuery(t, s, token, id); st != QuerySucceeded {
		t.Fatalf("status %s", st)
	}
	got := callGraph(t, s, http.MethodGet, "/v1.0/security/auditLog/queries/"+id, token, nil).json(t)
	if got["isRecordCountLimitExceeded"] != true || got["recordCountLimit"] != float64(4) || got["approximateReturnedRecordCount"] != float64(9) {
		t.Errorf("v1.0 counts: %v", got)
	}
	if recs, _ := allRecords(t, s, token, queriesPath+"/"+id+"/records"); len(recs) != 4 {
		t.Errorf("%d records served, want the limit 4", len(recs))
	}
}

// recordTypeFilters takes members of auditLogRecordType only: Dynamics 365
// is crm; "dataverse" is not a member and is refused with a Graph 400.
func TestGraphRecordTypeEnum(t *testing.T) {
	t.Parallel()
	s, token := startGraph(t, Options{})
	for value, status := range map[string]int{
		"crm": 201, "CRM": 201, "powerPlatformServiceActivity": 201, "unknownFutureValue": 201,
		"dataverse": 400, "dynamics365": 400, "": 400,
	} {
		r := callGraph(t, s, http.MethodPost, queriesPath, token, map[string]any{"recordTypeFilters": []string{value}})
		if r.status != status {
			t.Errorf("%q: %d %s", value, r.status, r.body)
			continue
		}
		if status == 400 {
			if code, msg := r.graphError(t); code != "BadRequest" || !strings.Contains(msg, "'"+value+"'") {
				t.Errorf("%q: %s %q", value, code, msg)
			}
		}
	}
}
