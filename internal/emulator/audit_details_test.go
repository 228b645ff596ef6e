package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func details(t *testing.T, s *Server, token, auditID string, parens bool) map[string]any {
	t.Helper()
	path := "audits(" + auditID + ")/Microsoft.Dynamics.CRM.RetrieveAuditDetails"
	if parens {
		path += "()"
	}
	r := callAPI(t, s, http.MethodGet, path, token, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	m := r.json(t)
	if m["@odata.context"] != s.EnvironmentURL()+"/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RetrieveAuditDetailsResponse" {
		t.Errorf("context %v", m["@odata.context"])
	}
	return m["AuditDetail"].(map[string]any)
}

func lastRecord(s *Server) AuditRecord {
	recs := s.AuditRecords()
	return recs[len(recs)-1]
}

func TestRetrieveAuditDetailsShapes(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	u := s.AddUser("Nancy Anderson")
	contactID := "9f3ac1a4-0d2b-4b7e-9c55-0b2d3f4e5a61"
	id, err := s.SimulateCreate(simStart, u, "account", map[string]any{
		"name": "Contoso", "revenue": 88800, "numberofemployees": 250, "creditonhold": false,
		"industrycode": 7, "primarycontactid": contactID, "lastusedincampaign": simStart, "exchangerate": 1.5,
	})
	mustNoErr(t, err)
	create := lastRecord(s)

	d := details(t, s, token, create.AuditID, false)
	want := map[string]any{
		"@odata.type":               "#Microsoft.Dynamics.CRM.AttributeAuditDetail",
		"OldValue":                  map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.account"},
		"InvalidNewValueAttributes": []any{},
		"LocLabelLanguageCode":      0.0,
		"DeletedAttributes":         map[string]any{"Count": 0.0, "Keys": []any{}, "Values": []any{}},
		"NewValue": map[string]any{
			"@odata.type": "#Microsoft.Dynamics.CRM.account", "name": "Contoso", "revenue": 88800.0,
			"numberofemployees": 250.0, "creditonhold": false, "industrycode": 7.0,
			"_primarycontactid_value": contactID, "lastusedincampaign": "2026-11-25T13:00:00Z",
			"exchangerate": 1.5, "_ownerid_value": u.ID,
		},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("create detail:\n got %v\nwant %v", d, want)
	}
	// Money keeps four decimals, decimals the column's precision.
	r := callAPI(t, s, http.MethodGet, "audits("+create.AuditID+")/Microsoft.Dynamics.CRM.RetrieveAuditDetails()", token, nil, nil)
	for _, frag := range []string{`"revenue":88800.0000`, `"exchangerate":1.5000000000`, `"industrycode":7`} {
		if !strings.Contains(string(r.body), frag) {
			t.Errorf("%s not in %s", frag, r.body)
		}
	}

	mustNoErr(t, s.SimulateUpdate(simStart.Add(time.Hour), u, "account", id, map[string]any{"revenue": 90000.5, "name": "Contoso Ltd", "creditonhold": false}))
	d = details(t, s, token, lastRecord(s).AuditID, true)
	if !reflect.DeepEqual(d["OldValue"], map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.account", "name": "Contoso", "revenue": 88800.0}) ||
		!reflect.DeepEqual(d["NewValue"], map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.account", "name": "Contoso Ltd", "revenue": 90000.5}) {
		t.Errorf("update detail: %v", d)
	}
	if rec := lastRecord(s); rec.ObjectName != "Contoso Ltd" || rec.Action != ActionUpdate {
		t.Errorf("update row: %+v", rec)
	}

	mustNoErr(t, s.SimulateDelete(simStart.Add(2*time.Hour), u, "account", id))
	d = details(t, s, token, lastRecord(s).AuditID, false)
	old := d["OldValue"].(map[string]any)
	if old["name"] != "Contoso Ltd" || old["revenue"] != 90000.5 || old["_ownerid_value"] != u.ID ||
		!reflect.DeepEqual(d["NewValue"], map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.account"}) {
		t.Errorf("delete detail: %v", d)
	}

	mustNoErr(t, s.SimulateSignIn(simStart, u, true))
	access := lastRecord(s)
	if access.Action != 65 || access.Operation != OperationAccess || access.ObjectTypeCode != "systemuser" || access.ObjectID != u.ID {
		t.Errorf("access row: %+v", access)
	}
	d = details(t, s, token, access.AuditID, false)
	if !reflect.DeepEqual(d, map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.UserAccessAuditDetail", "AccessTime": "2026-11-25T13:00:00Z", "Interval": 4.0}) {
		t.Errorf("access detail: %v", d)
	}

	settings := s.AuditRecords()[0]
	if settings.Action != ActionAuditChangeAtOrgLevel {
		t.Fatalf("first row %+v", settings)
	}
	d = details(t, s, token, settings.AuditID, false)
	if !reflect.DeepEqual(d, map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.AuditDetail"}) {
		t.Errorf("settings detail: %v", d)
	}

	r = callAPI(t, s, http.MethodGet, "audits(00000000-0000-0000-0000-000000000001)/Microsoft.Dynamics.CRM.RetrieveAuditDetails", token, nil, nil)
	if code, _ := r.odataError(t); r.status != http.StatusNotFound || code != "0x80040217" {
		t.Errorf("unknown: %d %s", r.status, r.body)
	}
	r = callAPI(t, s, http.MethodGet, "audits("+settings.AuditID+")/Microsoft.Dynamics.CRM.Nope", token, nil, nil)
	if r.status != http.StatusNotFound {
		t.Errorf("unknown function: %d", r.status)
	}
}

type historyAnswer struct {
	AuditDetailCollection struct {
		MoreRecords      bool
		PagingCookie     string
		TotalRecordCount int
		AuditDetails     []map[string]any
	}
}

func TestRetrieveRecordChangeHistory(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	u := s.AddUser("Nancy Anderson")
	id, err := s.SimulateCreate(simStart, u, "account", map[string]any{"name": "Contoso", "description": strings.Repeat("x", 6000)})
	mustNoErr(t, err)
	// description (a memo) is not audited by default: audit it.
	mustNoErr(t, s.UpdateEntityAudit("account", func(st *EntityAuditState) {
		a := st.Attributes["description"]
		a.IsAuditEnabled = true
		st.Attributes["description"] = a
	}))
	for i := range 6 {
		mustNoErr(t, s.SimulateUpdate(simStart.Add(time.Duration(i+1)*time.Minute), u, "account", id, map[string]any{"name": fmt.Sprint("Contoso ", i), "description": strings.Repeat("y", 5001+i)}))
	}
	other, err := s.SimulateCreate(simStart, u, "account", map[string]any{"name": "Other"})
	mustNoErr(t, err)
	_ = other

	call := func(target, paging string) (historyAnswer, apiResponse) {
		q := url.Values{"@target": {target}}
		path := "RetrieveRecordChangeHistory(Target=@target)"
		if paging != "" {
			q.Set("@p", paging)
			path = "RetrieveRecordChangeHistory(Target=@target,PagingInfo=@p)"
		}
		r := callAPI(t, s, http.MethodGet, path+"?"+q.Encode(), token, nil, nil)
		var h historyAnswer
		if r.status == http.StatusOK {
			if err := json.Unmarshal(r.body, &h); err != nil {
				t.Fatal(err)
			}
		}
		return h, r
	}
	target := "{'@odata.id':'accounts(" + id + ")'}"
	h, r := call(target, `{"PageNumber":1,"Count":5,"ReturnTotalRecordCount":true}`)
	c := h.AuditDetailCollection
	if r.status != http.StatusOK || !c.MoreRecords || c.TotalRecordCount != 7 || len(c.AuditDetails) != 5 || !strings.HasPrefix(c.PagingCookie, `<cookie page="1"><cookieExtensions ContinuationToken="`) {
		t.Fatalf("page 1: %d %s", r.status, r.body)
	}
	first := c.AuditDetails[0]
	if first["@odata.type"] != "#Microsoft.Dynamics.CRM.AttributeAuditDetail" {
		t.Errorf("newest first: %v", first)
	}
	if nv := first["NewValue"].(map[string]any); nv["name"] != "Contoso 5" || nv["description"] != strings.Repeat("y", 4997)+"..." {
		t.Errorf("NewValue: name %v, description %.20q (%d chars)", nv["name"], nv["description"], len(nv["description"].(string)))
	}
	h, _ = call(target, `{"PageNumber":2,"Count":5,"ReturnTotalRecordCount":false}`)
	c = h.AuditDetailCollection
	if c.MoreRecords || c.TotalRecordCount != -1 || len(c.AuditDetails) != 2 {
		t.Errorf("page 2: %+v", c)
	}
	if last := c.AuditDetails[1]; last["OldValue"].(map[string]any)["name"] != nil || last["NewValue"].(map[string]any)["name"] != "Contoso" {
		t.Errorf("oldest last: %v", last)
	}
	// Without PagingInfo, and absolute @odata.id.
	h, r = call("{'@odata.id':'"+s.EnvironmentURL()+"/api/data/v9.2/accounts("+id+")'}", "")
	if len(h.AuditDetailCollection.AuditDetails) != 7 {
		t.Errorf("all: %s", r.body)
	}
	// Through the Web API the details carry no AuditRecord ("Retrieve the
	// history of audited data changes").
	for i, d := range h.AuditDetailCollection.AuditDetails {
		if b, _ := json.Marshal(d); strings.Contains(string(b), "AuditRecord") || strings.Contains(string(b), "auditid") {
			t.Errorf("detail %d names its audit row: %.300s", i, b)
		}
	}

	for _, tc := range []struct {
		target, paging string
		status         int
	}{
		{"{'@odata.id':'accounts(00000000-0000-0000-0000-000000000001)'}", "", http.StatusNotFound},
		{"{'@odata.id':'nosuchset(" + id + ")'}", "", http.StatusNotFound},
		{target, `{"PageNumber":1,"Count":5001}`, http.StatusBadRequest},
		{target, `{"PageNumber":0,"Count":5}`, http.StatusBadRequest},
		{"not json", "", http.StatusBadRequest},
	} {
		if _, r := call(tc.target, tc.paging); r.status != tc.status {
			t.Errorf("%s %s: %d %s", tc.target, tc.paging, r.status, r.body)
		}
	}
	if r := callAPI(t, s, http.MethodGet, "RetrieveRecordChangeHistory(Target=@missing)", token, nil, nil); r.status != http.StatusBadRequest {
		t.Errorf("missing alias: %d", r.status)
	}
	if got := s.RequestCount("GET RetrieveRecordChangeHistory"); got != 9 {
		t.Errorf("count = %d", got)
	}
}

// Values over the documented cap ("5KB or ~5,000 characters", ending in
// three dots) come back capped from both RetrieveAuditDetails and
// RetrieveRecordChangeHistory; values at the cap come back whole.
func TestAuditDetailValuesCapped(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	mustNoErr(t, s.UpdateEntityAudit("email", func(st *EntityAuditState) {
		a := st.Attributes["description"]
		a.IsAuditEnabled = true
		st.Attributes["description"] = a
	}))
	u := s.AddUser("Nancy Anderson")
	long := strings.Repeat("ä", 4990) + strings.Repeat("z", 20) // 5010 characters, 9,998 bytes of ä
	id, err := s.SimulateCreate(simStart, u, "email", map[string]any{"subject": "Report", "description": long})
	mustNoErr(t, err)
	create := lastRecord(s)
	atCap := strings.Repeat("w", 5000)
	mustNoErr(t, s.SimulateUpdate(simStart.Add(time.Minute), u, "email", id, map[string]any{"description": atCap}))
	update := lastRecord(s)
	if create.NewValues["description"] != long {
		t.Fatalf("the audit trail keeps the whole value: %d chars", len(create.NewValues["description"].(string)))
	}
	capped := strings.Repeat("ä", 4990) + strings.Repeat("z", 7) + "..."

	if got := details(t, s, token, create.AuditID, false)["NewValue"].(map[string]any)["description"]; got != capped {
		t.Errorf("RetrieveAuditDetails create: %.20q…, %d characters", got, len([]rune(got.(string))))
	}
	d := details(t, s, token, update.AuditID, false)
	if d["OldValue"].(map[string]any)["description"] != capped || d["NewValue"].(map[string]any)["description"] != atCap {
		t.Errorf("RetrieveAuditDetails update: %v", d)
	}

	q := url.Values{"@target": {"{'@odata.id':'emails(" + id + ")'}"}}
	r := callAPI(t, s, http.MethodGet, "RetrieveRecordChangeHistory(Target=@target)?"+q.Encode(), token, nil, nil)
	var h historyAnswer
	if err := json.Unmarshal(r.body, &h); err != nil || len(h.AuditDetailCollection.AuditDetails) != 2 {
		t.Fatalf("history: %d %.300s", r.status, r.body)
	}
	upd, cre := h.AuditDetailCollection.AuditDetails[0], h.AuditDetailCollection.AuditDetails[1]
	if upd["OldValue"].(map[string]any)["description"] != capped || upd["NewValue"].(map[string]any)["description"] != atCap ||
		cre["NewValue"].(map[string]any)["description"] != capped {
		t.Errorf("history values: %.300s", r.body)
	}
}
