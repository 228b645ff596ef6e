package dataverse

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

const orgID = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"

func orgRow() map[string]any {
	return map[string]any{
		"@odata.etag":                "W/\"123\"",
		"organizationid":             orgID,
		"isauditenabled":             true,
		"isuseraccessauditenabled":   false,
		"isreadauditenabled":         true,
		"auditretentionperiodv2":     -1,
		"useraccessauditinginterval": 4,
	}
}

func TestGetOrganizationAuditSettings(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": "x", "value": []any{orgRow()}})
	}))
	got, err := c.GetOrganizationAuditSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	forever := int64(-1)
	want := OrganizationAuditSettings{
		OrganizationID: orgID, IsAuditEnabled: true, IsReadAuditEnabled: true,
		AuditRetentionPeriodV2: &forever, UserAccessAuditingInterval: 4,
	}
	if got.AuditSettings != nil {
		t.Errorf("auditsettings absent from the row: got %q, want nil", *got.AuditSettings)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v\nwant %+v", *got, want)
	}
	r := rec.Request(0)
	if r.Method != http.MethodGet || r.URL.Path != "/api/data/v9.2/organizations" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	const sel = "organizationid,isauditenabled,isuseraccessauditenabled,isreadauditenabled,auditretentionperiodv2,useraccessauditinginterval,auditsettings"
	if r.URL.RawQuery != "$select="+sel {
		t.Errorf("raw query = %q", r.URL.RawQuery)
	}
	if q := r.URL.Query(); len(q) != 1 || q.Get("$select") != sel {
		t.Errorf("query = %v", q)
	}
}

// An environment where nobody ever set a retention reports null: it stays
// nil, never 0.
func TestGetOrganizationAuditSettingsNullRetention(t *testing.T) {
	t.Parallel()
	row := orgRow()
	row["auditretentionperiodv2"] = nil
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{row}})
	})
	got, err := c.GetOrganizationAuditSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AuditRetentionPeriodV2 != nil {
		t.Errorf("retention = %d, want nil", *got.AuditRetentionPeriodV2)
	}
}

func TestGetOrganizationAuditSettingsNeedsOneRow(t *testing.T) {
	t.Parallel()
	for _, rows := range [][]any{{}, {orgRow(), orgRow()}} {
		c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"value": rows})
		})
		_, err := c.GetOrganizationAuditSettings(context.Background())
		if err == nil || !strings.Contains(err.Error(), "exactly one") {
			t.Errorf("%d rows: err = %v", len(rows), err)
		}
	}
}

func TestGetOrganizationAuditSettingsByID(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/data/v9.2/organizations("+orgID+")" {
			writeJSON(w, http.StatusOK, orgRow())
			return
		}
		writeJSON(w, http.StatusNotFound, odataErr("0x80040217", "organization With Id = ... Does Not Exist"))
	}))
	got, err := c.GetOrganizationAuditSettingsByID(context.Background(), strings.ToUpper(orgID))
	if err != nil {
		t.Fatal(err)
	}
	if got.OrganizationID != orgID || !got.IsAuditEnabled || got.AuditRetentionPeriodV2 == nil || *got.AuditRetentionPeriodV2 != -1 {
		t.Errorf("got %+v", got)
	}
	if !strings.HasPrefix(rec.Request(0).URL.RawQuery, "$select=organizationid,") {
		t.Errorf("query = %q", rec.Request(0).URL.RawQuery)
	}

	_, err = c.GetOrganizationAuditSettingsByID(context.Background(), "11111111-2222-3333-4444-555555555555")
	if !IsNotFound(err) {
		t.Errorf("want not found, got %v", err)
	}

	before := rec.Count()
	for _, bad := range []string{"", "not-a-guid", "{" + orgID + "}", orgID + ")", "0a1b2c3d4e5f607182 93a4b5c6d7e8f9"} {
		if _, err := c.GetOrganizationAuditSettingsByID(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "not a GUID") {
			t.Errorf("id %q: err = %v", bad, err)
		}
	}
	if rec.Count() != before {
		t.Errorf("bad ids sent %d requests", rec.Count()-before)
	}
}

func TestUpdateOrganizationAuditSettings(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(msapitest.NoContent))
	on, days := true, int64(365)
	err := c.UpdateOrganizationAuditSettings(context.Background(), orgID, OrganizationAuditSettingsPatch{
		IsAuditEnabled:         &on,
		AuditRetentionPeriodV2: &days,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Count() != 1 {
		t.Fatalf("requests = %d", rec.Count())
	}
	r := rec.Request(0)
	if r.Method != http.MethodPatch || r.URL.Path != "/api/data/v9.2/organizations("+orgID+")" || r.URL.RawQuery != "" {
		t.Errorf("request %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
	}
	if r.Header.Get("If-Match") != "*" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("headers %v", r.Header)
	}
	var sent map[string]any
	if err := json.Unmarshal(rec.Body(0), &sent); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent["isauditenabled"] != true || sent["auditretentionperiodv2"] != float64(365) {
		t.Errorf("body = %s", rec.Body(0))
	}

	// false and 0 are values, not "unset".
	off, zero := false, int64(0)
	if err := c.UpdateOrganizationAuditSettings(context.Background(), orgID, OrganizationAuditSettingsPatch{IsReadAuditEnabled: &off, UserAccessAuditingInterval: &zero}); err != nil {
		t.Fatal(err)
	}
	if got := string(rec.Body(1)); got != `{"isreadauditenabled":false,"useraccessauditinginterval":0}` {
		// omitempty on a pointer omits only nil
		t.Errorf("body = %s", got)
	}

	if err := c.UpdateOrganizationAuditSettings(context.Background(), orgID, OrganizationAuditSettingsPatch{}); err != nil {
		t.Errorf("empty patch: %v", err)
	}
	if err := c.UpdateOrganizationAuditSettings(context.Background(), "nope", OrganizationAuditSettingsPatch{IsAuditEnabled: &on}); err == nil {
		t.Error("bad id accepted")
	}
	if rec.Count() != 2 {
		t.Errorf("requests = %d, want 2 (empty patch and bad id send nothing)", rec.Count())
	}
}

func TestPatchIsEmpty(t *testing.T) {
	t.Parallel()
	v := int64(1)
	b := true
	if !(OrganizationAuditSettingsPatch{}).IsEmpty() {
		t.Error("zero patch not empty")
	}
	for _, p := range []OrganizationAuditSettingsPatch{
		{IsAuditEnabled: &b}, {IsUserAccessAuditEnabled: &b}, {IsReadAuditEnabled: &b},
		{AuditRetentionPeriodV2: &v}, {UserAccessAuditingInterval: &v},
	} {
		if p.IsEmpty() {
			t.Errorf("%+v reported empty", p)
		}
	}
}

func TestWhoAmI(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, msapitest.WhoAmIBody())
	}))
	got, err := c.WhoAmI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := WhoAmIResponse{
		BusinessUnitID: "11111111-1111-1111-1111-111111111111",
		UserID:         "22222222-2222-2222-2222-222222222222",
		OrganizationID: "33333333-3333-3333-3333-333333333333",
	}
	if *got != want {
		t.Errorf("got %+v", *got)
	}
	if rec.Request(0).Method != http.MethodGet || rec.Request(0).URL.Path != "/api/data/v9.2/WhoAmI" {
		t.Errorf("request %s %s", rec.Request(0).Method, rec.Request(0).URL)
	}
}

// auditsettings comes back as the string the service sends, JSON inside a
// JSON string.
func TestGetOrganizationAuditSettingsJSON(t *testing.T) {
	t.Parallel()
	row := orgRow()
	row["auditsettings"] = `{"StoreLabelNameforPicklistAudits":true}`
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": "x", "value": []any{row}})
	})
	got, err := c.GetOrganizationAuditSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.AuditSettings == nil || *got.AuditSettings != `{"StoreLabelNameforPicklistAudits":true}` {
		t.Errorf("AuditSettings = %v", got.AuditSettings)
	}
}
