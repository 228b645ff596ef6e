package emulator

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestGetOrganizations(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	orgID := s.OrganizationID()
	ctxBase := s.EnvironmentURL() + "/api/data/v9.2/$metadata#organizations"

	t.Run("all columns", func(t *testing.T) {
		r := callAPI(t, s, http.MethodGet, "organizations", token, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		body := r.json(t)
		if body["@odata.context"] != ctxBase {
			t.Errorf("context = %v", body["@odata.context"])
		}
		rows := body["value"].([]any)
		if len(rows) != 1 {
			t.Fatalf("rows = %v", rows)
		}
		row := rows[0].(map[string]any)
		want := map[string]any{
			"organizationid":             orgID,
			"isauditenabled":             false,
			"isuseraccessauditenabled":   false,
			"isreadauditenabled":         false,
			"auditretentionperiodv2":     float64(30),
			"useraccessauditinginterval": float64(4),
			"auditretentionperiod":       float64(30),
			"allowentityonlyaudit":       false,
			"languagecode":               float64(1033),
		}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("%s = %v, want %v", k, row[k], v)
			}
		}
		for _, k := range []string{"name", "auditsettings", "_basecurrencyid_value", "versionnumber", "createdon", "modifiedon", "@odata.etag"} {
			if _, ok := row[k]; !ok {
				t.Errorf("column %s missing", k)
			}
		}
		if etag, _ := row["@odata.etag"].(string); !strings.HasPrefix(etag, `W/"`) {
			t.Errorf("etag = %v", row["@odata.etag"])
		}
	})

	t.Run("select", func(t *testing.T) {
		r := callAPI(t, s, http.MethodGet, "organizations?$select=isauditenabled,auditretentionperiodv2", token, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		body := r.json(t)
		if body["@odata.context"] != ctxBase+"(isauditenabled,auditretentionperiodv2)" {
			t.Errorf("context = %v", body["@odata.context"])
		}
		row := body["value"].([]any)[0].(map[string]any)
		if len(row) != 4 || row["organizationid"] != orgID || row["isauditenabled"] != false || row["auditretentionperiodv2"] != float64(30) {
			t.Errorf("row = %v", row)
		}
	})

	t.Run("bad select", func(t *testing.T) {
		r := callAPI(t, s, http.MethodGet, "organizations?$select=isauditenabled,IsAuditEnabled", token, nil, nil)
		code, msg := r.odataError(t)
		if r.status != 400 || code != "0x0" || msg != "Could not find a property named 'IsAuditEnabled' on type 'Microsoft.Dynamics.CRM.organization'." {
			t.Errorf("%d %s %s", r.status, code, msg)
		}
	})

	t.Run("by id", func(t *testing.T) {
		r := callAPI(t, s, http.MethodGet, "organizations("+orgID+")?$select=name", token, nil, nil)
		body := r.json(t)
		if r.status != 200 || body["@odata.context"] != ctxBase+"(name)/$entity" || body["organizationid"] != orgID {
			t.Errorf("%d %v", r.status, body)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		id := "00000000-0000-0000-0000-000000000001"
		r := callAPI(t, s, http.MethodGet, "organizations("+id+")", token, nil, nil)
		code, msg := r.odataError(t)
		if r.status != 404 || code != "0x80040217" || msg != "organization With Id = "+id+" Does Not Exist" {
			t.Errorf("%d %s %s", r.status, code, msg)
		}
	})

	t.Run("malformed key", func(t *testing.T) {
		r := callAPI(t, s, http.MethodGet, "organizations(not-a-guid)", token, nil, nil)
		if r.status != 400 {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
}

func TestPatchOrganizationValidation(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	path := "organizations(" + s.OrganizationID() + ")"
	before := s.Organization()
	etagOf := func() string {
		return callAPI(t, s, http.MethodGet, "organizations", token, nil, nil).json(t)["value"].([]any)[0].(map[string]any)["@odata.etag"].(string)
	}
	etag := etagOf()

	for _, tc := range []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		code    string
		message string // substring
	}{
		{"unknown property", `{"isauditenabled":true,"isAuditEnabled":true}`, nil, 400, "0x0", "Invalid property 'isAuditEnabled' was found in entity 'Microsoft.Dynamics.CRM.organization'."},
		{"string for int", `{"auditretentionperiodv2":"x"}`, nil, 400, "0x80048d19", "Error identified in Payload provided by the user for Entity :'organizations'"},
		{"string for int message", `{"auditretentionperiodv2":"x"}`, nil, 400, "0x80048d19", "Cannot convert the literal 'x' to the expected type 'Edm.Int32'."},
		{"string for bool", `{"isauditenabled":"true"}`, nil, 400, "0x80048d19", "'Edm.Boolean'"},
		{"int for bool", `{"isreadauditenabled":1}`, nil, 400, "0x80048d19", "Cannot convert the literal '1' to the expected type 'Edm.Boolean'."},
		{"fraction for int", `{"useraccessauditinginterval":1.5}`, nil, 400, "0x80048d19", "'Edm.Int32'"},
		{"null for bool", `{"isauditenabled":null}`, nil, 400, "0x80048d19", "does not allow null values"},
		{"retention zero", `{"isauditenabled":true,"auditretentionperiodv2":0}`, nil, 400, "0x80040203", "'auditretentionperiodv2'"},
		{"retention too long", `{"auditretentionperiodv2":365001}`, nil, 400, "0x80040203", "365000"},
		{"retention -2", `{"auditretentionperiodv2":-2}`, nil, 400, "0x80040203", "-1"},
		{"interval negative", `{"useraccessauditinginterval":-1}`, nil, 400, "0x80040203", "'useraccessauditinginterval'"},
		{"interval above Int32", `{"useraccessauditinginterval":99999999999}`, nil, 400, "0x80048d19", "Cannot convert the literal '99999999999' to the expected type 'Edm.Int32'."},
		{"null retention", `{"auditretentionperiodv2":null}`, nil, 400, "0x80048d19", "does not allow null values"},
		{"organizationid", `{"organizationid":"` + s.OrganizationID() + `"}`, nil, 400, "0x80040203", "organizationid"},
		{"lookup value", `{"_basecurrencyid_value":"` + s.OrganizationID() + `"}`, nil, 400, "0x0", "Invalid property '_basecurrencyid_value'"},
		{"not json", `isauditenabled=true`, nil, 400, "0x80048d19", ""},
		{"array", `[{"isauditenabled":true}]`, nil, 400, "0x80048d19", ""},
		{"stale etag", `{"isauditenabled":true}`, map[string]string{"If-Match": `W/"1"`}, 412, "0x80060882", "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := callAPI(t, s, http.MethodPatch, path, token, tc.body, tc.headers)
			code, msg := r.odataError(t)
			if r.status != tc.status || code != tc.code || !strings.Contains(msg, tc.message) {
				t.Errorf("got %d %s %q", r.status, code, msg)
			}
		})
	}
	if r := callAPI(t, s, http.MethodPatch, "organizations", token, `{"isauditenabled":true}`, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PATCH collection: %d", r.status)
	}
	if r := callAPI(t, s, http.MethodPatch, "organizations(00000000-0000-0000-0000-000000000001)", token, `{"isauditenabled":true}`, nil); r.status != http.StatusNotFound {
		t.Errorf("PATCH unknown id: %d", r.status)
	}
	if got := s.Organization(); got != before {
		t.Errorf("state changed: %+v -> %+v", before, got)
	}
	if rows := s.AuditRecords(); len(rows) != 0 {
		t.Errorf("audit rows written: %+v", rows)
	}
	if got := etagOf(); got != etag {
		t.Errorf("version changed %s -> %s", etag, got)
	}
}

func TestPatchOrganizationWritesAudits(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	orgID := s.OrganizationID()
	path := "organizations(" + orgID + ")"
	userID := s.ApplicationUserID("app")

	r := callAPI(t, s, http.MethodPatch, path, token, map[string]any{
		"isauditenabled": true, "isuseraccessauditenabled": true, "auditretentionperiodv2": 90, "isreadauditenabled": false,
	}, map[string]string{"If-Match": "*"})
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := r.header.Get("OData-EntityId"); got != s.EnvironmentURL()+"/api/data/v9.2/"+path {
		t.Errorf("OData-EntityId = %s", got)
	}
	want := Organization{OrganizationID: orgID, Name: s.Organization().Name, IsAuditEnabled: true, IsUserAccessAuditEnabled: true, AuditRetentionPeriodV2: 90, UserAccessAuditingInterval: 4}
	if got := s.Organization(); got != want {
		t.Errorf("Organization = %+v, want %+v", got, want)
	}

	rows := s.AuditRecords()
	if len(rows) != 3 {
		t.Fatalf("audit rows = %+v", rows)
	}
	if a := rows[0]; a.Action != 104 || a.Operation != 2 || a.ObjectTypeCode != "organization" || a.ObjectID != orgID || a.UserID != userID || a.UserName == "" ||
		!reflect.DeepEqual(a.OldValues, map[string]any{"isauditenabled": false, "isuseraccessauditenabled": false, "auditretentionperiodv2": 30}) ||
		!reflect.DeepEqual(a.NewValues, map[string]any{"isauditenabled": true, "isuseraccessauditenabled": true, "auditretentionperiodv2": 90}) {
		t.Errorf("row 104 = %+v", a)
	}
	if rows[1].Action != 107 || rows[2].Action != 112 {
		t.Errorf("actions = %d, %d", rows[1].Action, rows[2].Action)
	}
	for _, a := range rows {
		if a.TransactionID != rows[0].TransactionID || a.UserID != userID || a.AuditID == "" || a.CreatedOn.IsZero() {
			t.Errorf("row = %+v", a)
		}
	}

	// A retry of the same PATCH changes nothing and writes nothing.
	etag := callAPI(t, s, http.MethodGet, path+"?$select=isauditenabled", token, nil, nil).json(t)["@odata.etag"]
	r = callAPI(t, s, http.MethodPatch, path, token, map[string]any{"isauditenabled": true, "auditretentionperiodv2": 90}, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := len(s.AuditRecords()); n != 3 {
		t.Errorf("identical PATCH wrote rows: %d", n)
	}
	if got := callAPI(t, s, http.MethodGet, path+"?$select=isauditenabled", token, nil, nil).json(t)["@odata.etag"]; got != etag {
		t.Errorf("identical PATCH bumped the version: %v -> %v", etag, got)
	}

	// If-Match with the current etag works; turning auditing off writes 104 + 110.
	r = callAPI(t, s, http.MethodPatch, path, token, map[string]any{"isauditenabled": false}, map[string]string{"If-Match": etag.(string)})
	if r.status != http.StatusNoContent {
		t.Fatalf("%d %s", r.status, r.body)
	}
	rows = s.AuditRecords()
	if len(rows) != 5 || rows[3].Action != 104 || rows[4].Action != 110 ||
		!reflect.DeepEqual(rows[3].NewValues, map[string]any{"isauditenabled": false}) {
		t.Errorf("rows = %+v", rows)
	}
	// The old etag is now stale.
	r = callAPI(t, s, http.MethodPatch, path, token, map[string]any{"isauditenabled": true}, map[string]string{"If-Match": etag.(string)})
	if r.status != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d", r.status)
	}

	// Changing something that is not an audit setting writes no audit row.
	if r := callAPI(t, s, http.MethodPatch, path, token, map[string]any{"name": "Contoso"}, nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if s.Organization().Name != "Contoso" || len(s.AuditRecords()) != 5 {
		t.Errorf("name change: %+v, %d rows", s.Organization(), len(s.AuditRecords()))
	}
	if got := s.RequestCount("PATCH organizations"); got != 5 {
		t.Errorf("PATCH organizations = %d", got)
	}
	if got := s.WriteCount(); got != 5 {
		t.Errorf("WriteCount = %d", got)
	}
}

func TestPatchReturnRepresentation(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	r := callAPI(t, s, http.MethodPatch, "organizations("+s.OrganizationID()+")?$select=useraccessauditinginterval", token,
		map[string]any{"useraccessauditinginterval": 8}, map[string]string{"Prefer": "return=representation"})
	if r.status != 200 || r.json(t)["useraccessauditinginterval"] != float64(8) {
		t.Errorf("%d %s", r.status, r.body)
	}
}

func TestUpdateOrganizationIsAnAdminChange(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	s.UpdateOrganization(func(o *Organization) {
		o.IsAuditEnabled = true
		o.IsUserAccessAuditEnabled = true
		o.UserAccessAuditingInterval = 12
		o.OrganizationID = "ignored"
	})
	if o := s.Organization(); !o.IsAuditEnabled || o.UserAccessAuditingInterval != 12 || o.OrganizationID != s.OrganizationID() {
		t.Errorf("Organization = %+v", o)
	}
	rows := s.AuditRecords()
	if len(rows) != 3 || rows[0].Action != 104 || rows[1].Action != 107 || rows[2].Action != 112 {
		t.Fatalf("rows = %+v", rows)
	}
	if rows[0].UserID != s.AdminUserID() || !reflect.DeepEqual(rows[0].OldValues, map[string]any{"isauditenabled": false, "isuseraccessauditenabled": false, "useraccessauditinginterval": 4}) {
		t.Errorf("row = %+v", rows[0])
	}
	s.UpdateOrganization(func(o *Organization) { o.IsUserAccessAuditEnabled = false })
	rows = s.AuditRecords()
	if len(rows) != 5 || rows[4].Action != 113 {
		t.Errorf("rows = %+v", rows)
	}
	s.UpdateOrganization(func(o *Organization) {})
	if len(s.AuditRecords()) != 5 {
		t.Error("no-op update wrote rows")
	}
	// Returned rows are copies.
	rows[0].NewValues["isauditenabled"] = "tampered"
	if s.AuditRecords()[0].NewValues["isauditenabled"] != true {
		t.Error("AuditRecords shares maps with the store")
	}
}

func TestPrivileges(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	s.AddSecretClient("reader", "secret", WithPrivileges("prvReadOrganization"))
	s.AddSecretClient("nobody", "secret", WithPrivileges())
	reader := login(t, s, "reader", "secret")
	nobody := login(t, s, "nobody", "secret")
	path := "organizations(" + s.OrganizationID() + ")"

	if r := callAPI(t, s, http.MethodGet, "organizations?$select=isauditenabled", reader, nil, nil); r.status != 200 {
		t.Errorf("reader GET: %d %s", r.status, r.body)
	}
	r := callAPI(t, s, http.MethodPatch, path, reader, map[string]any{"isauditenabled": true}, nil)
	code, msg := r.odataError(t)
	userID := s.ApplicationUserID("reader")
	if r.status != 403 || code != "0x80040220" ||
		!strings.HasPrefix(msg, "Principal user (Id="+userID+", type=8, roleCount=1, privilegeCount=1, accessMode=4), is missing prvWriteOrganization privilege (Id=") ||
		!strings.Contains(msg, "on OTC=1019 for entity 'organization'") {
		t.Errorf("reader PATCH: %d %s %s", r.status, code, msg)
	}
	if s.Organization().IsAuditEnabled || len(s.AuditRecords()) != 0 {
		t.Error("forbidden PATCH changed state")
	}
	r = callAPI(t, s, http.MethodGet, "organizations", nobody, nil, nil)
	if code, msg := r.odataError(t); r.status != 403 || !strings.Contains(msg, "missing prvReadOrganization privilege") {
		t.Errorf("nobody GET: %d %s %s", r.status, code, msg)
	}
	// WhoAmI needs no privilege.
	if r := callAPI(t, s, http.MethodGet, "WhoAmI", nobody, nil, nil); r.status != 200 {
		t.Errorf("nobody WhoAmI: %d", r.status)
	}
	if s.WriteCount() != 1 {
		t.Errorf("WriteCount = %d", s.WriteCount())
	}
}

func TestConcurrentPatches(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	path := "organizations(" + s.OrganizationID() + ")"
	const n = 20
	done := make(chan int, n)
	for i := range n {
		go func() {
			// No t.Fatal in this goroutine: report the status (0 on error).
			body := fmt.Sprintf(`{"auditretentionperiodv2":%d}`, 100+i%2)
			req, _ := http.NewRequest(http.MethodPatch, s.EnvironmentURL()+"/api/data/v9.2/"+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := s.HTTPClient().Do(req)
			if err != nil {
				done <- 0
				return
			}
			_ = resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for range n {
		if st := <-done; st != http.StatusNoContent {
			t.Errorf("status %d", st)
		}
	}
	// Every row records a real change: consecutive rows never repeat a value.
	rows := s.AuditRecords()
	for i, r := range rows {
		if r.OldValues["auditretentionperiodv2"] == r.NewValues["auditretentionperiodv2"] {
			t.Errorf("row %d records no change: %+v", i, r)
		}
		if i > 0 && rows[i-1].NewValues["auditretentionperiodv2"] != r.OldValues["auditretentionperiodv2"] {
			t.Errorf("row %d does not continue row %d", i, i-1)
		}
	}
	if s.RequestCount("PATCH organizations") != n || s.WriteCount() != n {
		t.Errorf("counts: %v", s.Requests())
	}
}
