package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var (
	simStart     = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	settingsTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // the clock of auditServer
)

// auditServer starts an emulator with organization auditing on and a
// logged-in client with all privileges.
func auditServer(t *testing.T) (*Server, string) {
	t.Helper()
	s, token := startAppServer(t, Options{Clock: func() time.Time { return settingsTime }})
	s.UpdateOrganization(func(o *Organization) { o.IsAuditEnabled = true; o.IsUserAccessAuditEnabled = true })
	return s, token
}

type auditPage struct {
	Context  string           `json:"@odata.context"`
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
}

func getPage(t *testing.T, s *Server, rawURL, token string, headers map[string]string) (auditPage, apiResponse) {
	t.Helper()
	path := strings.TrimPrefix(rawURL, s.EnvironmentURL()+"/api/data/v9.2/")
	r := callAPI(t, s, http.MethodGet, path, token, nil, headers)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var p auditPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p, r
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditsRequirePrivileges(t *testing.T) {
	t.Parallel()
	s, _ := auditServer(t)
	s.AddSecretClient("reader", "secret", WithPrivileges(PrivReadOrganization))
	token := login(t, s, "reader", "secret")
	id := s.AuditRecords()[0].AuditID
	for _, path := range []string{"audits", "audits(" + id + ")", "audits(" + id + ")/Microsoft.Dynamics.CRM.RetrieveAuditDetails"} {
		r := callAPI(t, s, http.MethodGet, path, token, nil, nil)
		code, msg := r.odataError(t)
		if r.status != http.StatusForbidden || code != "0x80040220" || !strings.Contains(msg, "is missing prvReadAuditSummary privilege") {
			t.Errorf("%s: %d %s %s", path, r.status, code, msg)
		}
	}
	r := callAPI(t, s, http.MethodGet, "RetrieveRecordChangeHistory(Target=@t)?@t="+url.QueryEscape("{'@odata.id':'accounts(00000000-0000-0000-0000-000000000001)'}"), token, nil, nil)
	if code, msg := r.odataError(t); r.status != http.StatusForbidden || code != "0x80040220" || !strings.Contains(msg, "prvReadRecordAuditHistory") {
		t.Errorf("history: %d %s %s", r.status, code, msg)
	}
	wantRequestCounts(t, s, map[string]int{"GET audits": 2, "GET RetrieveAuditDetails": 1})
}

func TestAuditsColumnsAndSelect(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	u := s.AddUser("Nancy Anderson")
	id, err := s.SimulateCreate(simStart, u, "account", map[string]any{"name": "Contoso", "revenue": 88800})
	mustNoErr(t, err)

	p, r := getPage(t, s, "audits?$filter="+url.QueryEscape("objecttypecode eq 'account'"), token, nil)
	if p.Context != s.EnvironmentURL()+"/api/data/v9.2/$metadata#audits" || len(p.Value) != 1 {
		t.Fatalf("%s", r.body)
	}
	row := p.Value[0]
	want := map[string]any{
		"_callinguserid_value": nil, "_objectid_value": id, "_regardingobjectid_value": nil, "_userid_value": u.ID,
		"action": 1.0, "attributemask": row["attributemask"], "createdon": "2026-11-25T13:00:00Z", "objecttypecode": "account",
		"operation": 1.0, "useradditionalinfo": nil,
	}
	for k, v := range want {
		if got, ok := row[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	for _, k := range []string{"@odata.etag", "auditid", "transactionid"} {
		if s, _ := row[k].(string); s == "" {
			t.Errorf("%s missing: %v", k, row)
		}
	}
	if len(row) != 13 {
		t.Errorf("row has %d members: %v", len(row), row)
	}
	if m, _ := row["attributemask"].(string); !strings.HasPrefix(m, ",") || !strings.HasSuffix(m, ",") {
		t.Errorf("attributemask = %v", row["attributemask"])
	}

	p, _ = getPage(t, s, "audits?$select=createdon,action&$filter="+url.QueryEscape("objecttypecode eq 'account'"), token, nil)
	if !strings.HasSuffix(p.Context, "#audits(createdon,action)") || len(p.Value[0]) != 4 || p.Value[0]["auditid"] == nil {
		t.Errorf("select: %s %v", p.Context, p.Value)
	}

	for sel, name := range map[string]string{"changedata": "changedata", "action,nosuch": "nosuch"} {
		r := callAPI(t, s, http.MethodGet, "audits?$select="+sel, token, nil, nil)
		code, msg := r.odataError(t)
		if r.status != http.StatusBadRequest || code != "0x0" || msg != "Could not find a property named '"+name+"' on type 'Microsoft.Dynamics.CRM.audit'." {
			t.Errorf("$select=%s: %d %s %s", sel, r.status, code, msg)
		}
	}
	for q, want := range map[string]string{
		"$skip=10":                           "$skip is not supported",
		"$orderby=action":                    "only 'createdon asc' and 'createdon desc'",
		"$orderby=createdon desc,action asc": "not supported",
		"$orderby=nosuch":                    "Could not find a property named 'nosuch'",
		"$filter=" + url.QueryEscape("action eq 'x'"): "incompatible types",
		"$top=-1":            "Invalid value '-1' for $top",
		"$skiptoken=garbage": "$skiptoken",
		"$expand=userid":     "not supported by the Dynamics 365 emulator",
	} {
		r := callAPI(t, s, http.MethodGet, "audits?"+q, token, nil, nil)
		if _, msg := r.odataError(t); r.status != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %s", q, r.status, msg)
		}
	}

	// Single row.
	auditID := row["auditid"].(string)
	r = callAPI(t, s, http.MethodGet, "audits("+auditID+")?$select=action", token, nil, nil)
	if m := r.json(t); r.status != http.StatusOK || m["action"] != 1.0 || m["auditid"] != auditID || !strings.HasSuffix(m["@odata.context"].(string), "#audits(action)/$entity") {
		t.Errorf("single: %d %s", r.status, r.body)
	}
	r = callAPI(t, s, http.MethodGet, "audits(00000000-0000-0000-0000-000000000001)", token, nil, nil)
	if code, msg := r.odataError(t); r.status != http.StatusNotFound || code != "0x80040217" || !strings.Contains(msg, "Does Not Exist") {
		t.Errorf("unknown: %d %s %s", r.status, code, msg)
	}
	if r := callAPI(t, s, http.MethodGet, "audits(nope)", token, nil, nil); r.status != http.StatusBadRequest {
		t.Errorf("bad key: %d", r.status)
	}
	if r := callAPI(t, s, http.MethodDelete, "audits("+auditID+")", token, nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", r.status)
	}
}

func TestAuditsAnnotations(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	u := s.AddUser("Nancy Anderson")
	_, err := s.SimulateCreate(simStart, u, "account", map[string]any{"name": "Contoso"})
	mustNoErr(t, err)
	q := "audits?$filter=" + url.QueryEscape("objecttypecode eq 'account'")

	p, r := getPage(t, s, q, token, map[string]string{"Prefer": `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`})
	row := p.Value[0]
	for k, v := range map[string]any{
		"action@OData.Community.Display.V1.FormattedValue":          "Create",
		"operation@OData.Community.Display.V1.FormattedValue":       "Create",
		"_userid_value@OData.Community.Display.V1.FormattedValue":   "Nancy Anderson",
		"_objectid_value@OData.Community.Display.V1.FormattedValue": "Contoso",
		"objecttypecode@OData.Community.Display.V1.FormattedValue":  "Account",
		"createdon@OData.Community.Display.V1.FormattedValue":       "11/25/2026 1:00 PM",
	} {
		if row[k] != v {
			t.Errorf("%s = %v, want %v", k, row[k], v)
		}
	}
	if _, ok := row["_userid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]; ok {
		t.Error("lookuplogicalname without asking")
	}
	if got := r.header.Get("Preference-Applied"); got != `odata.include-annotations="OData.Community.Display.V1.FormattedValue"` {
		t.Errorf("Preference-Applied = %q", got)
	}
	// Annotations come before their property.
	if i, j := bytes.Index(r.body, []byte(`"_userid_value@OData`)), bytes.Index(r.body, []byte(`"_userid_value":`)); i < 0 || i > j {
		t.Errorf("annotation order: %s", r.body)
	}

	for _, pref := range []string{`odata.include-annotations="*"`, `odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname", odata.maxpagesize=10`} {
		p, r := getPage(t, s, q, token, map[string]string{"Prefer": pref})
		row := p.Value[0]
		if row["_objectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "account" ||
			row["_userid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "systemuser" ||
			row["action@OData.Community.Display.V1.FormattedValue"] != "Create" {
			t.Errorf("%s: %v", pref, row)
		}
		if strings.Contains(pref, "maxpagesize") && !strings.Contains(r.header.Get("Preference-Applied"), "odata.maxpagesize=10") {
			t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
		}
	}
	// Settings rows carry their labels too.
	p, _ = getPage(t, s, "audits?$filter=action eq 104", token, map[string]string{"Prefer": `odata.include-annotations="*"`})
	if len(p.Value) != 1 || p.Value[0]["action@OData.Community.Display.V1.FormattedValue"] != "Audit Change at Org Level" {
		t.Errorf("104: %v", p.Value)
	}
	if ActionLabels[0] != "Unknown" || ActionLabels[65] != "User Access via Web Services" || ActionLabels[113] != "User Access Audit Stopped" || ActionLabels[57] != "Add Privileges to Role" {
		t.Errorf("ActionLabels: %d", len(ActionLabels))
	}
}

// collectAll follows nextLinks and returns the auditids in order.
func collectAll(t *testing.T, s *Server, first, token string, headers map[string]string, between func(page int)) ([]string, int) {
	t.Helper()
	var ids []string
	pages := 0
	for link := first; link != ""; {
		p, r := getPage(t, s, link, token, headers)
		pages++
		if p.NextLink != "" {
			if !strings.HasPrefix(p.NextLink, s.EnvironmentURL()+"/api/data/v9.2/audits?") || !strings.Contains(p.NextLink, "$skiptoken=") {
				t.Fatalf("nextLink %s", p.NextLink)
			}
			if bytes.Index(r.body, []byte(`"value"`)) > bytes.Index(r.body, []byte(`"@odata.nextLink"`)) {
				t.Fatalf("nextLink before value")
			}
		}
		for _, row := range p.Value {
			ids = append(ids, row["auditid"].(string))
		}
		if between != nil {
			between(pages)
		}
		link = p.NextLink
	}
	return ids, pages
}

func TestAuditsPaging(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	s.SeedAuditHistory(120, simStart, simStart.Add(24*time.Hour), 7)
	filter := "$filter=" + url.QueryEscape("createdon ge 2026-11-25T13:00:00Z")
	var want []string
	for _, r := range s.AuditRecords() {
		if !r.CreatedOn.Before(simStart) {
			want = append(want, r.AuditID)
		}
	}
	if len(want) != 120 {
		t.Fatalf("seeded %d", len(want))
	}
	prefer := map[string]string{"Prefer": "odata.maxpagesize=50"}

	// Descending, with rows added (later and earlier than the page) after
	// the first page: later pages neither shift nor repeat.
	u := s.AddUser("Late Writer")
	var added []string
	ids, pages := collectAll(t, s, "audits?$select=createdon&$orderby=createdon%20desc&"+filter, token, prefer, func(page int) {
		if page != 1 {
			return
		}
		for i := range 10 {
			at := simStart.Add(48 * time.Hour)
			if i%2 == 1 {
				at = simStart.Add(12*time.Hour + time.Duration(i)*time.Minute)
			}
			_, err := s.SimulateCreate(at, u, "account", map[string]any{"name": fmt.Sprint("late ", i)})
			mustNoErr(t, err)
		}
		recs := s.AuditRecords()
		for _, r := range recs[len(recs)-10:] {
			added = append(added, r.AuditID)
		}
	})
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("row %s twice", id)
		}
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("row %s missing", id)
		}
	}
	if len(ids) > 125 || len(ids) < 120 || pages != 3 {
		t.Errorf("%d rows in %d pages", len(ids), pages)
	}
	// Descending order holds.
	recs := map[string]AuditRecord{}
	for _, r := range s.AuditRecords() {
		recs[r.AuditID] = r
	}
	for i := 1; i < len(ids); i++ {
		if recs[ids[i]].CreatedOn.After(recs[ids[i-1]].CreatedOn) {
			t.Fatalf("not descending at %d", i)
		}
	}
	// Later rows (48 h) are not in a descending read that had started.
	for i, id := range added {
		if i%2 == 0 && seen[id] {
			t.Errorf("row added above the first page appeared")
		}
	}

	// Ascending reads everything, including rows added meanwhile.
	ids, pages = collectAll(t, s, "audits?$orderby=createdon%20asc&"+filter, token, prefer, nil)
	if len(ids) != 130 || pages != 3 {
		t.Errorf("asc: %d rows, %d pages", len(ids), pages)
	}
	// Without $orderby: some order, every row once.
	ids, _ = collectAll(t, s, "audits?"+filter, token, prefer, nil)
	if len(ids) != 130 {
		t.Errorf("unordered: %d rows", len(ids))
	}

	// $top limits the total across pages.
	ids, pages = collectAll(t, s, "audits?$top=70&$orderby=createdon%20desc&"+filter, token, prefer, nil)
	if len(ids) != 70 || pages != 2 {
		t.Errorf("$top=70: %d rows, %d pages", len(ids), pages)
	}
	ids, pages = collectAll(t, s, "audits?$top=100&$orderby=createdon%20desc&"+filter, token, prefer, nil)
	if len(ids) != 100 || pages != 2 {
		t.Errorf("$top=100: %d rows, %d pages", len(ids), pages)
	}
	if p, _ := getPage(t, s, "audits?$top=0", token, nil); len(p.Value) != 0 || p.NextLink != "" {
		t.Errorf("$top=0: %v", p)
	}

	// maxpagesize above 5000 is ignored (no Preference-Applied).
	_, r := getPage(t, s, "audits?$top=3", token, map[string]string{"Prefer": "odata.maxpagesize=6000"})
	if got := r.header.Get("Preference-Applied"); got != "" {
		t.Errorf("Preference-Applied = %q", got)
	}
	_, r = getPage(t, s, "audits?$top=3", token, prefer)
	if got := r.header.Get("Preference-Applied"); got != "odata.maxpagesize=50" {
		t.Errorf("Preference-Applied = %q", got)
	}

	// A skip token from a descending read does not fit an ascending query.
	p, _ := getPage(t, s, "audits?$orderby=createdon%20desc", token, prefer)
	tok := p.NextLink[strings.Index(p.NextLink, "$skiptoken=")+len("$skiptoken="):]
	if r := callAPI(t, s, http.MethodGet, "audits?$orderby=createdon%20asc&$skiptoken="+tok, token, nil, nil); r.status != http.StatusBadRequest {
		t.Errorf("mismatched token: %d", r.status)
	}
}

func TestAuditVolume(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	start := time.Now()
	n := s.SeedAuditHistory(100_000, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 42)
	t.Logf("SeedAuditHistory(100000): %v", time.Since(start))
	if n != 100_000 || s.AuditCount() < 100_000 {
		t.Fatalf("seeded %d, %d rows", n, s.AuditCount())
	}
	start = time.Now()
	ids, pages := collectAll(t, s, "audits?$select=createdon,action&$orderby=createdon%20desc&$filter="+url.QueryEscape("createdon lt 2025-06-01T00:00:00Z"), token, nil, nil)
	t.Logf("read %d rows in %d pages: %v", len(ids), pages, time.Since(start))
	if len(ids) != 100_000 || pages != 20 {
		t.Errorf("%d rows in %d pages", len(ids), pages)
	}
}
