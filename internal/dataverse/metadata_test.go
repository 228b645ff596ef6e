package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

func managed(v, canChange bool) map[string]any {
	return map[string]any{"Value": v, "CanBeChanged": canChange, "ManagedPropertyLogicalName": "canmodifyauditsettings"}
}

// entityRow is an EntityDefinitions item as the audit read returns it.
func entityRow(name string, audit bool, attrs ...map[string]any) map[string]any {
	row := map[string]any{
		"@odata.etag":    `W/"1"`,
		"LogicalName":    name,
		"MetadataId":     "id-" + name,
		"IsCustomEntity": strings.HasPrefix(name, "new_"),
		"IsManaged":      true,
		"DisplayName": map[string]any{
			"LocalizedLabels":    []any{map[string]any{"Label": "Label of " + name, "LanguageCode": 1033}},
			"UserLocalizedLabel": map[string]any{"Label": "Label of " + name, "LanguageCode": 1033},
		},
		"IsAuditEnabled":                 managed(audit, true),
		"IsRetrieveAuditEnabled":         false,
		"IsRetrieveMultipleAuditEnabled": true,
	}
	if attrs != nil {
		list := make([]any, len(attrs))
		for i, a := range attrs {
			list[i] = a
		}
		row["Attributes"] = list
	}
	return row
}

func attrRow(name, odataType string, audit bool, attributeOf any) map[string]any {
	return map[string]any{
		"@odata.type":    "#" + odataType,
		"LogicalName":    name,
		"MetadataId":     "id-" + name,
		"AttributeOf":    attributeOf,
		"IsAuditEnabled": managed(audit, true),
	}
}

// metadataCall is a parsed RetrieveEntity / RetrieveAllEntities request.
type metadataCall struct {
	all, withColumns, saved bool
	table                   string
}

func parseMetadataCall(r *http.Request) (metadataCall, bool) {
	p := strings.TrimPrefix(r.URL.Path, "/api/data/v9.2/")
	var c metadataCall
	switch {
	case strings.HasPrefix(p, "RetrieveAllEntities("):
		c.all = true
	case strings.HasPrefix(p, "RetrieveEntity("):
		_, rest, _ := strings.Cut(p, "LogicalName='")
		c.table, _, _ = strings.Cut(rest, "'")
	default:
		return c, false
	}
	c.withColumns = strings.Contains(p, "EntityFilters'Attributes'")
	c.saved = strings.Contains(p, "RetrieveAsIfPublished=true")
	return c, true
}

func TestListEntityAuditInfo(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		call, ok := parseMetadataCall(r)
		if !ok || !call.all {
			writeJSON(w, http.StatusNotFound, odataErr("0x8006088a", "Resource not found for the segment"))
			return
		}
		accountCols := []map[string]any{
			attrRow("name", "Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata", call.saved, nil),
			attrRow("createdbyname", "Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata", false, "createdby"),
			attrRow("revenue", "Microsoft.Dynamics.CRM.ComplexMoneyAttributeMetadata", true, nil),
		}
		contact := entityRow("contact", false)
		contact["DisplayName"] = map[string]any{"LocalizedLabels": []any{}, "UserLocalizedLabel": nil}
		contact["IsCustomEntity"] = nil
		if call.withColumns {
			contact["Attributes"] = []any{}
		} else {
			accountCols = nil
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context": "x", "Timestamp": "t",
			"EntityMetadata": []any{entityRow("account", true, accountCols...), contact,
				entityRow("new_widget", false, attrRow("new_name", "Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata", false, nil))},
		})
	}))

	got, err := c.ListEntityAuditInfo(context.Background(), WithColumns)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Count() != 2 {
		t.Fatalf("%d requests, want 2 (saved and published)", rec.Count())
	}
	// The saved and the published view are read side by side, in either
	// order: RetrieveAllEntities for the saved one, a plain GET with
	// $select for the published one.
	paths := []string{realURL(rec.Request(0)), realURL(rec.Request(1))}
	slices.Sort(paths)
	for i, want := range []string{
		"/api/data/v9.2/EntityDefinitions?$select=LogicalName,IsAuditEnabled,IsRetrieveAuditEnabled,IsRetrieveMultipleAuditEnabled&$expand=Attributes($select=LogicalName,IsAuditEnabled)",
		"/api/data/v9.2/RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',RetrieveAsIfPublished=true)",
	} {
		if p := paths[i]; p != want {
			t.Errorf("request %d: %s, want %s", i, p, want)
		}
	}
	if len(got) != 3 {
		t.Fatalf("got %d tables: %v", len(got), got)
	}
	acc := got["account"]
	if acc.LogicalName != "account" || acc.MetadataID != "id-account" || acc.DisplayName != "Label of account" ||
		acc.IsCustomEntity || !acc.IsManaged || !acc.IsRetrieveMultipleAuditEnabled || acc.IsRetrieveAuditEnabled {
		t.Errorf("account = %+v", acc)
	}
	if acc.IsAuditEnabled != (BooleanManagedProperty{Value: true, CanBeChanged: true, ManagedPropertyLogicalName: "canmodifyauditsettings"}) {
		t.Errorf("account IsAuditEnabled = %+v", acc.IsAuditEnabled)
	}
	if len(acc.Attributes) != 3 {
		t.Fatalf("account attributes = %v", acc.Attributes)
	}
	if a := acc.Attributes["revenue"]; a.ODataType != "Microsoft.Dynamics.CRM.MoneyAttributeMetadata" || !a.IsAuditEnabled.Value || a.AttributeOf != "" || a.MetadataID != "id-revenue" {
		t.Errorf("revenue = %+v", a)
	}
	if a := acc.Attributes["createdbyname"]; a.AttributeOf != "createdby" || a.IsAuditEnabled.Value {
		t.Errorf("createdbyname = %+v", a)
	}
	// name is audited as saved, not as published.
	if !acc.Attributes["name"].IsAuditEnabled.Value || acc.Published == nil || acc.Published.Attributes["name"] {
		t.Errorf("name saved/published = %+v / %+v", acc.Attributes["name"], acc.Published)
	}
	if got := acc.UnpublishedAuditChanges(); len(got) != 1 || got[0] != "name" || !acc.HasUnpublishedAuditChanges() {
		t.Errorf("unpublished = %v", got)
	}
	con := got["contact"]
	if con.DisplayName != "" || con.IsCustomEntity || con.Attributes == nil || len(con.Attributes) != 0 || con.HasUnpublishedAuditChanges() {
		t.Errorf("contact = %+v", con)
	}
	if w := got["new_widget"]; !w.IsCustomEntity || w.Attributes["new_name"] == nil {
		t.Errorf("new_widget = %+v", w)
	}

	// Without columns: EntityFilters Entity, Attributes nil.
	got, err = c.ListEntityAuditInfo(context.Background(), WithoutColumns)
	if err != nil {
		t.Fatal(err)
	}
	if p := rec.Request(2).URL.Path; !strings.Contains(p, "EntityFilters'Entity'") {
		t.Errorf("path = %v", p)
	}
	if got["account"].Attributes != nil {
		t.Errorf("Attributes = %v, want nil", got["account"].Attributes)
	}
}

func TestGetEntityAuditInfo(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		call, ok := parseMetadataCall(r)
		if !ok || call.table != "account" {
			writeJSON(w, http.StatusNotFound, odataErr("0x80040217", "Could not find entity"))
			return
		}
		// Saved: auditing off, not yet published.
		writeJSON(w, http.StatusOK, map[string]any{"EntityMetadata": entityRow("account", !call.saved,
			attrRow("name", "Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata", true, nil))})
	}))
	ctx := context.Background()
	got, err := c.GetEntityAuditInfo(ctx, "account", WithColumns)
	if err != nil {
		t.Fatal(err)
	}
	if got.LogicalName != "account" || got.IsAuditEnabled.Value || got.Attributes["name"] == nil || !got.Published.IsAuditEnabled {
		t.Errorf("got %+v", got)
	}
	if u := got.UnpublishedAuditChanges(); len(u) != 1 || u[0] != "IsAuditEnabled" {
		t.Errorf("unpublished = %v", u)
	}
	// The saved and the published view are read side by side, in either order.
	paths := []string{realURL(rec.Request(0)), realURL(rec.Request(1))}
	slices.Sort(paths)
	if paths[0] != "/api/data/v9.2/EntityDefinitions(LogicalName='account')?$select=LogicalName,IsAuditEnabled,IsRetrieveAuditEnabled,IsRetrieveMultipleAuditEnabled&$expand=Attributes($select=LogicalName,IsAuditEnabled)" ||
		paths[1] != "/api/data/v9.2/RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',LogicalName='account',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=true)" {
		t.Errorf("paths = %v, want the published and the saved view", paths)
	}
	if _, err := c.GetEntityAuditInfo(ctx, "account", WithoutColumns); err != nil {
		t.Fatal(err)
	}
	if p := rec.Request(2).URL.Path; !strings.Contains(p, "EntityFilters'Entity'") {
		t.Errorf("path = %v", p)
	}

	_, err = c.GetEntityAuditInfo(ctx, "nosuchtable", WithoutColumns)
	if !IsNotFound(err) {
		t.Errorf("unknown table: err = %v", err)
	}
	n := rec.Count()
	for _, bad := range []string{"", "Account", "acc'ount", "a b", "a/b", "account)", "ä"} {
		if _, err := c.GetEntityAuditInfo(ctx, bad, WithColumns); err == nil || !strings.Contains(err.Error(), "logical name") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	if rec.Count() != n {
		t.Errorf("invalid names sent %d requests", rec.Count()-n)
	}
}

func TestKeyLiteralEscapesQuotes(t *testing.T) {
	t.Parallel()
	if got := keyLiteral("o'brien"); got != "'o%27%27brien'" {
		t.Errorf("keyLiteral = %s", got)
	}
}

// A full column definition as the cast GET returns it: no @odata.type, only
// the context names the type.
const sampleAttributeDef = `{"@odata.context":"https://org/api/data/v9.2/$metadata#EntityDefinitions('account')/Attributes/Microsoft.Dynamics.CRM.MoneyAttributeMetadata/$entity","MetadataId":"m","LogicalName":"revenue","MaxValue":100000000000000.0000000000,"MinValue":-100000000000000,"Precision":2,"IsAuditEnabled":{"Value":false,"CanBeChanged":true,"ManagedPropertyLogicalName":"canmodifyauditsettings"},"DisplayName":{"LocalizedLabels":[{"Label":"Chiffre d’affaires","LanguageCode":1036}],"UserLocalizedLabel":null}}` //nolint:misspell // "Chiffre d’affaires" is a French label.

// auditEnabledCopy reads a definition with read, checks that it came back
// byte for byte as the server sent it, and returns it with auditing turned
// on (IsAuditEnabled.Value true), as the domain operations change it.
func auditEnabledCopy(t *testing.T, sent string, read func() (json.RawMessage, error)) json.RawMessage {
	t.Helper()
	def, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if string(def) != sent {
		t.Fatalf("definition not returned as sent:\n%s", def)
	}
	changed, err := setJSONValue(def, true, "IsAuditEnabled", "Value")
	if err != nil {
		t.Fatal(err)
	}
	return changed
}

func TestEntityDefinitionRoundTrip(t *testing.T) {
	t.Parallel()
	var putBody []byte
	var putReq *http.Request
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		const saved = "/api/data/v9.2/RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',LogicalName='account',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=true)"
		switch {
		case r.Method == http.MethodGet && r.URL.Path == saved:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"EntityMetadata":`+sampleEntityDef+`}`)
		case r.Method == http.MethodPut && r.URL.Path == "/api/data/v9.2/EntityDefinitions(LogicalName='account')":
			putReq = r
			putBody, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusNotFound, odataErr("0x8006088a", "no"))
		}
	})
	ctx := context.Background()
	changed := auditEnabledCopy(t, sampleEntityDef, func() (json.RawMessage, error) {
		return c.readSavedDefinition(ctx, "account", WithoutColumns)
	})
	if err := c.putEntityDefinition(ctx, "account", changed, "AuditBaseline"); err != nil {
		t.Fatal(err)
	}
	if putReq.Header.Get("MSCRM.MergeLabels") != "true" || putReq.Header.Get("MSCRM.SolutionUniqueName") != "AuditBaseline" ||
		!strings.HasPrefix(putReq.Header.Get("Content-Type"), "application/json") {
		t.Errorf("headers = %v", putReq.Header)
	}
	// The body is the GET minus its annotations, with only the one value changed.
	var want map[string]json.RawMessage
	if err := json.Unmarshal(changed, &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "@odata.context")
	delete(want, "@odata.etag")
	wantBytes, _ := json.Marshal(want)
	wc, _ := canonicalJSON(wantBytes)
	gc, err := canonicalJSON(putBody)
	if err != nil || !bytes.Equal(wc, gc) {
		t.Errorf("PUT body differs (%v):\n%s\n%s", err, gc, wc)
	}
	if !bytes.Contains(putBody, []byte(`"MaxValue":100000000000.0000000001`)) || !bytes.Contains(putBody, []byte(`"Compte \u00e9t\u00e9 <&>"`)) {
		t.Errorf("values not byte-identical: %s", putBody)
	}

	// Without a solution the header is absent.
	if err := c.putEntityDefinition(ctx, "account", changed, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := putReq.Header[http.CanonicalHeaderKey("MSCRM.SolutionUniqueName")]; ok {
		t.Errorf("solution header sent: %v", putReq.Header)
	}
	if err := c.putEntityDefinition(ctx, "account", json.RawMessage(`[1]`), ""); err == nil {
		t.Error("non-object definition: no error")
	}
	if err := c.putEntityDefinition(ctx, "Account", changed, ""); err == nil {
		t.Error("invalid name: no error")
	}
}

func TestEntityDefinitionReadRejectsNonObject(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []int{1})
	})
	if _, err := c.readSavedDefinition(context.Background(), "account", WithoutColumns); err == nil {
		t.Error("no error")
	}
}

func TestAttributeDefinitionRoundTrip(t *testing.T) {
	t.Parallel()
	const colPath = "/api/data/v9.2/EntityDefinitions(LogicalName='account')/Attributes(LogicalName='revenue')"
	const odataType = "Microsoft.Dynamics.CRM.MoneyAttributeMetadata"
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/data/v9.2/RetrieveEntity("):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"EntityMetadata":{"LogicalName":"account","Attributes":[`+sampleAttributeDef+`]}}`)
		case r.Method == http.MethodPut && r.URL.Path == colPath:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusNotFound, odataErr("0x8006088a", fmt.Sprintf("no %s %s", r.Method, r.URL.Path)))
		}
	}))
	ctx := context.Background()
	changed := auditEnabledCopy(t, sampleAttributeDef, func() (json.RawMessage, error) {
		def, err := c.readSavedDefinition(ctx, "account", WithColumns)
		if err != nil {
			return nil, err
		}
		cols, err := savedColumnDefinitions(def)
		return cols["revenue"], err
	})
	if err := c.putAttributeDefinition(ctx, "account", "revenue", odataType, changed, ""); err != nil {
		t.Fatal(err)
	}
	put := rec.Body(1)
	want := `{"@odata.type":"#Microsoft.Dynamics.CRM.MoneyAttributeMetadata",` + strings.SplitN(sampleAttributeDef, `$entity",`, 2)[1]
	want = strings.Replace(want, `{"Value":false`, `{"Value":true`, 1)
	if string(put) != want {
		t.Errorf("PUT body\n got %s\nwant %s", put, want)
	}
	if rec.Request(1).Header.Get("MSCRM.MergeLabels") != "true" {
		t.Errorf("headers = %v", rec.Request(1).Header)
	}

	n := rec.Count()
	for _, tc := range [][3]string{
		{"account", "revenue", "StringAttributeMetadata"},
		{"account", "revenue", "Microsoft.Dynamics.CRM.X/../../y"},
		{"account", "revenue", ""},
		{"account", "Revenue", odataType},
		{"acc ount", "revenue", odataType},
	} {
		if err := c.putAttributeDefinition(ctx, tc[0], tc[1], tc[2], changed, ""); err == nil {
			t.Errorf("%v: PUT: no error", tc)
		}
	}
	if rec.Count() != n {
		t.Errorf("invalid input sent %d requests", rec.Count()-n)
	}
}

func TestPublishXML(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(msapitest.NoContent))
	ctx := context.Background()
	if err := c.PublishXML(ctx, []string{"contact", "account", "contact", "a&b<c>"}); err != nil {
		t.Fatal(err)
	}
	r := rec.Request(0)
	if r.Method != http.MethodPost || r.URL.Path != "/api/data/v9.2/PublishXml" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	var body struct{ ParameterXml string }
	if err := json.Unmarshal(rec.Body(0), &body); err != nil {
		t.Fatal(err)
	}
	const want = "<importexportxml><entities><entity>a&amp;b&lt;c&gt;</entity><entity>account</entity><entity>contact</entity></entities></importexportxml>"
	if body.ParameterXml != want {
		t.Errorf("ParameterXml = %s", body.ParameterXml)
	}
	if err := c.PublishXML(ctx, nil); err == nil || rec.Count() != 1 {
		t.Errorf("empty list: err = %v, requests = %d", err, rec.Count())
	}
	if err := c.PublishAllXML(ctx); err != nil {
		t.Fatal(err)
	}
	if r := rec.Request(1); r.Method != http.MethodPost || r.URL.Path != "/api/data/v9.2/PublishAllXml" || string(rec.Body(1)) != "{}" {
		t.Errorf("request %s %s %s", r.Method, r.URL.Path, rec.Body(1))
	}
}
