package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func getOK(t *testing.T, s *Server, token, path string) map[string]any {
	t.Helper()
	r := callAPI(t, s, http.MethodGet, path, token, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return r.json(t)
}

func wantError(t *testing.T, r apiResponse, status int, code, msgPart string) {
	t.Helper()
	gotCode, msg := r.odataError(t)
	if r.status != status || gotCode != code || !strings.Contains(msg, msgPart) {
		t.Errorf("got %d %s %q, want %d %s containing %q", r.status, gotCode, msg, status, code, msgPart)
	}
}

// fullDefinition GETs a definition as raw members, drops @odata.context and
// (for a cast column) adds the @odata.type a PUT needs.
func fullDefinition(t *testing.T, s *Server, token, path, odataType string) rawObject {
	t.Helper()
	r := callAPI(t, s, http.MethodGet, path, token, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	o, err := parseRawObject(r.body)
	if err != nil {
		t.Fatal(err)
	}
	o = slices.DeleteFunc(o, func(m rawMember) bool { return m.name == "@odata.context" })
	if odataType != "" {
		o = append(rawObject{{"@odata.type", mustRaw(odataType)}}, o...)
	}
	return o
}

func put(t *testing.T, s *Server, token, path string, body rawObject, headers map[string]string) apiResponse {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return callAPI(t, s, http.MethodPut, path, token, string(b), headers)
}

func without(o rawObject, names ...string) rawObject {
	return slices.DeleteFunc(o.clone(), func(m rawMember) bool { return slices.Contains(names, m.name) })
}

func TestGetEntityDefinitionsCollection(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	base := s.EnvironmentURL() + "/api/data/v9.2/$metadata#"

	body := getOK(t, s, token, "EntityDefinitions?$select=LogicalName,IsAuditEnabled,IsRetrieveAuditEnabled,IsRetrieveMultipleAuditEnabled")
	if body["@odata.context"] != base+"EntityDefinitions(LogicalName,IsAuditEnabled,IsRetrieveAuditEnabled,IsRetrieveMultipleAuditEnabled)" {
		t.Errorf("context %v", body["@odata.context"])
	}
	items := body["value"].([]any)
	if len(items) != len(s.EntityNames()) {
		t.Errorf("%d items", len(items))
	}
	first := items[0].(map[string]any)
	if len(first) != 5 || first["MetadataId"] == nil || first["IsAuditEnabled"].(map[string]any)["ManagedPropertyLogicalName"] != "canmodifyauditsettings" {
		t.Errorf("item %v", first)
	}

	r := callAPI(t, s, http.MethodGet, "EntityDefinitions?$select=LogicalName,IsAuditEnabledd", token, nil, nil)
	wantError(t, r, 400, "0x0", "Could not find a property named 'IsAuditEnabledd' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.")

	for filter, want := range map[string][]string{
		"LogicalName eq 'account' or LogicalName eq 'contact'":                      {"account", "contact"},
		"IsCustomEntity eq true":                                                    {"new_auditfinding", "new_controltest", "new_inspection", "new_project"},
		"IsCustomEntity eq true and LogicalName eq 'new_project'":                   {"new_project"},
		"LogicalName eq 'nosuch'":                                                   {},
		"IsCustomEntity eq false and LogicalName eq 'task' or LogicalName eq 'fax'": {"fax", "task"},
	} {
		body := getOK(t, s, token, "EntityDefinitions?$select=LogicalName&$filter="+urlQueryEscape(filter))
		var got []string
		for _, it := range body["value"].([]any) {
			got = append(got, it.(map[string]any)["LogicalName"].(string))
		}
		if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("%s: %v, want %v", filter, got, want)
		}
	}
	for _, q := range []string{
		"$filter=" + urlQueryEscape("startswith(LogicalName,'a')"),
		"$filter=" + urlQueryEscape("ObjectTypeCode eq 1"),
		"$filter=" + urlQueryEscape("LogicalName ne 'account'"),
		"$top=5",
	} {
		r := callAPI(t, s, http.MethodGet, "EntityDefinitions?"+q, token, nil, nil)
		wantError(t, r, 400, "0x0", "not supported by the Dynamics 365 emulator")
	}
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions?$filter="+urlQueryEscape("Foo eq 'x'"), token, nil, nil)
	wantError(t, r, 400, "0x0", "Could not find a property named 'Foo'")

	// Bulk read of table and column audit settings in one request.
	body = getOK(t, s, token, "EntityDefinitions?$select=LogicalName,IsAuditEnabled&$expand=Attributes($select=LogicalName,IsAuditEnabled,AttributeOf)")
	if body["@odata.context"] != base+"EntityDefinitions(LogicalName,IsAuditEnabled,Attributes(LogicalName,IsAuditEnabled,AttributeOf))" {
		t.Errorf("context %v", body["@odata.context"])
	}
	for _, it := range body["value"].([]any) {
		e := it.(map[string]any)
		attrs := e["Attributes"].([]any)
		if len(attrs) < 8 {
			t.Fatalf("%v: %d attributes", e["LogicalName"], len(attrs))
		}
		for _, a := range attrs {
			am := a.(map[string]any)
			if len(am) != 5 || !strings.HasPrefix(am["@odata.type"].(string), "#Microsoft.Dynamics.CRM.") || am["MetadataId"] == nil {
				t.Fatalf("attribute %v", am)
			}
		}
	}

	// Without $select inside the expand: the AttributeMetadata properties only.
	body = getOK(t, s, token, "EntityDefinitions?$select=LogicalName&$filter=LogicalName%20eq%20'account'&$expand=Attributes")
	if body["@odata.context"] != base+"EntityDefinitions(LogicalName,Attributes())" {
		t.Errorf("context %v", body["@odata.context"])
	}
	for _, a := range body["value"].([]any)[0].(map[string]any)["Attributes"].([]any) {
		am := a.(map[string]any)
		if _, ok := am["MaxLength"]; ok {
			t.Errorf("uncast expanded attribute has MaxLength: %v", am["LogicalName"])
		}
		if am["@odata.type"] == nil || am["IsAuditEnabled"] == nil || am["DisplayName"] == nil {
			t.Errorf("expanded attribute %v", am)
		}
	}
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions?$expand=Attributes($select=MaxLength)", token, nil, nil)
	wantError(t, r, 400, "0x0", "Could not find a property named 'MaxLength' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'.")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions?$expand=Nope", token, nil, nil)
	wantError(t, r, 400, "0x0", "Could not find a property named 'Nope'")
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27", "(", "%28", ")", "%29", ",", "%2C").Replace(s)
}

func TestGetEntityDefinition(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	base := s.EnvironmentURL() + "/api/data/v9.2/$metadata#"
	stored, _ := s.EntityDefinitionJSON("account")

	r := callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='account')", token, nil, nil)
	o, err := parseRawObject(r.body)
	if r.status != 200 || err != nil {
		t.Fatalf("%d %v", r.status, err)
	}
	if o[0].name != "@odata.context" || string(o[0].value) != `"`+base+`EntityDefinitions/$entity"` {
		t.Errorf("context %s %s", o[0].name, o[0].value)
	}
	if got := mustRaw(o[1:]); !bytes.Equal(got, stored) {
		t.Errorf("full GET differs from stored definition")
	}
	id := readString(o, "MetadataId")
	r2 := callAPI(t, s, http.MethodGet, "EntityDefinitions("+id+")", token, nil, nil)
	if !bytes.Equal(r.body, r2.body) {
		t.Error("GET by MetadataId differs")
	}

	body := getOK(t, s, token, "EntityDefinitions(LogicalName='account')?$select=LogicalName,IsAuditEnabled,DisplayName&$expand=Attributes($select=LogicalName)")
	if body["@odata.context"] != base+"EntityDefinitions(LogicalName,IsAuditEnabled,DisplayName,Attributes(LogicalName))/$entity" || len(body) != 6 {
		t.Errorf("%v", body)
	}

	r = callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='nosuch')", token, nil, nil)
	wantError(t, r, 404, "0x80040217", "Could not find entity with name 'nosuch'.")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions(00000000-0000-0000-0000-000000000001)", token, nil, nil)
	wantError(t, r, 404, "0x80040217", "Could not find entity with MetadataId '00000000-0000-0000-0000-000000000001'.")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions(SchemaName='Account')", token, nil, nil)
	wantError(t, r, 400, "0x80060888", "Bad Request - Error in query syntax.")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='account')/Keyz", token, nil, nil)
	wantError(t, r, 404, "0x8006088a", "Resource not found for the segment 'Keyz'.")
}

func TestGetAttributes(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	base := s.EnvironmentURL() + "/api/data/v9.2/$metadata#"
	acct := getOK(t, s, token, "EntityDefinitions(LogicalName='account')?$select=MetadataId")
	eid := acct["MetadataId"].(string)

	body := getOK(t, s, token, "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,IsAuditEnabled")
	if body["@odata.context"] != base+"EntityDefinitions('"+eid+"')/Attributes(LogicalName,IsAuditEnabled)" {
		t.Errorf("context %v", body["@odata.context"])
	}
	st, _ := s.EntityAudit("account")
	if n := len(body["value"].([]any)); n != len(st.Attributes) || n < 15 {
		t.Errorf("%d attributes", n)
	}
	body = getOK(t, s, token, "EntityDefinitions(LogicalName='account')/Attributes?$filter=LogicalName%20eq%20'name'")
	items := body["value"].([]any)
	if len(items) != 1 {
		t.Fatalf("filter: %v", items)
	}
	name := items[0].(map[string]any)
	if name["@odata.type"] != "#Microsoft.Dynamics.CRM.StringAttributeMetadata" || name["MaxLength"] != nil || name["IsAuditEnabled"] == nil {
		t.Errorf("uncast item %v", name)
	}

	// One column, uncast: common properties and @odata.type.
	single := getOK(t, s, token, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')")
	if single["@odata.context"] != base+"EntityDefinitions('"+eid+"')/Attributes/$entity" ||
		single["@odata.type"] != "#Microsoft.Dynamics.CRM.StringAttributeMetadata" || single["MaxLength"] != nil {
		t.Errorf("uncast: %v", single)
	}
	byID := getOK(t, s, token, "EntityDefinitions("+eid+")/Attributes("+single["MetadataId"].(string)+")")
	if byID["LogicalName"] != "name" {
		t.Errorf("by id: %v", byID["LogicalName"])
	}

	// Cast: the full definition, the type only in the context.
	cast := callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata", token, nil, nil)
	co, _ := parseRawObject(cast.body)
	if string(co[0].value) != `"`+base+`EntityDefinitions('`+eid+`')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata/$entity"` {
		t.Errorf("cast context %s", co[0].value)
	}
	if co.index("@odata.type") >= 0 || co.index("MaxLength") < 0 || co.index("DatabaseLength") < 0 {
		t.Errorf("cast body %s", cast.body)
	}
	stored, _ := s.AttributeDefinitionJSON("account", "name")
	if got := mustRaw(append(rawObject{{"@odata.type", mustRaw("#Microsoft.Dynamics.CRM.StringAttributeMetadata")}}, co[1:]...)); !bytes.Equal(got, stored) {
		t.Errorf("cast GET differs from stored:\n%s\n%s", got, stored)
	}
	body = getOK(t, s, token, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength")
	if len(body) != 4 || body["MaxLength"] != float64(100) {
		t.Errorf("cast select %v", body)
	}
	r := callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')?$select=MaxLength", token, nil, nil)
	wantError(t, r, 400, "0x0", "Could not find a property named 'MaxLength' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'.")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata", token, nil, nil)
	wantError(t, r, 404, "0x80040217", "is of type 'Microsoft.Dynamics.CRM.StringAttributeMetadata'")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.NoSuchMetadata", token, nil, nil)
	wantError(t, r, 404, "0x8006088a", "Microsoft.Dynamics.CRM.NoSuchMetadata")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='nosuch')", token, nil, nil)
	wantError(t, r, 404, "0x80040217", "Could not find attribute with name 'nosuch' on entity 'account'.")

	// A cast on the collection filters by type.
	body = getOK(t, s, token, "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata")
	if body["@odata.context"] != base+"EntityDefinitions('"+eid+"')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata" {
		t.Errorf("context %v", body["@odata.context"])
	}
	items = body["value"].([]any)
	if len(items) == 0 {
		t.Fatal("no picklists")
	}
	for _, it := range items {
		m := it.(map[string]any)
		if m["AttributeType"] != "Picklist" || m["@odata.type"] != nil || m["ChildPicklistLogicalNames"] == nil {
			t.Errorf("picklist item %v", m["LogicalName"])
		}
	}
	if got := s.RequestCount("GET EntityDefinitions"); got != 12 {
		t.Errorf("GET EntityDefinitions = %d", got)
	}
}

func TestPatchMetadataRefused(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	before, _ := s.EntityDefinitionJSON("account")
	for _, path := range []string{"EntityDefinitions(LogicalName='account')", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')", "EntityDefinitions(LogicalName='nosuch')"} {
		r := callAPI(t, s, http.MethodPatch, path, token, map[string]any{"IsAuditEnabled": map[string]any{"Value": false}}, nil)
		wantError(t, r, 405, "0x80060888", "only full updates with PUT")
	}
	after, _ := s.EntityDefinitionJSON("account")
	if !bytes.Equal(before, after) || len(s.AuditRecords()) != 0 || len(s.UnpublishedEntities()) != 0 {
		t.Error("PATCH changed state")
	}
	if s.RequestCount("PATCH EntityDefinitions") != 3 || s.WriteCount() != 3 {
		t.Errorf("counts %v", s.Requests())
	}
}

func TestPutEntityReplacesDefinition(t *testing.T) {
	t.Parallel()
	// Plain GETs here check what was saved, before any publish.
	s, token := startAppServer(t, Options{PlainMetadataGetServesSaved: true})
	path := "EntityDefinitions(LogicalName='account')"
	def := fullDefinition(t, s, token, path, "")
	stored, _ := s.EntityDefinitionJSON("account")

	// Sending back exactly what was read changes nothing, but still counts
	// as an unpublished change.
	if r := put(t, s, token, path, append(rawObject{{"@odata.etag", mustRaw(`W/"1"`)}}, def...), map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if after, _ := s.EntityDefinitionJSON("account"); !bytes.Equal(after, stored) {
		t.Errorf("round trip changed the definition:\n%s\n%s", after, stored)
	}
	if len(s.AuditRecords()) != 0 {
		t.Error("audit rows for no change")
	}
	if got := s.UnpublishedEntities(); !slices.Equal(got, []string{"account"}) || s.IsPublished("account") {
		t.Errorf("unpublished %v", got)
	}

	// A property left out is gone afterwards.
	if r := put(t, s, token, path, without(def, "EntityColor", "IsMailMergeEnabled"), map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	full := getLatest(t, s, token, path)
	for _, gone := range []string{"EntityColor", "IsMailMergeEnabled"} {
		if _, ok := full[gone]; ok {
			t.Errorf("%s survived a PUT without it", gone)
		}
	}
	sel := getLatest(t, s, token, path+"?$select=EntityColor")
	if v, ok := sel["EntityColor"]; !ok || v != nil {
		t.Errorf("selecting a dropped property: %v", sel)
	}
	if got := s.RequestCount("PUT EntityDefinitions"); got != 2 {
		t.Errorf("PUT EntityDefinitions = %d", got)
	}
}

func TestPutEntityLabels(t *testing.T) {
	t.Parallel()
	// Plain GETs here check what was saved, before any publish.
	s, token := startAppServer(t, Options{PlainMetadataGetServesSaved: true})
	path := "EntityDefinitions(LogicalName='contact')"
	def := fullDefinition(t, s, token, path, "")
	englishOnly := mustRaw(object{
		{"LocalizedLabels", []any{object{{"Label", "Person"}, {"LanguageCode", 1033}, {"IsManaged", true}, {"MetadataId", nil}, {"HasChanged", nil}}}},
		{"UserLocalizedLabel", nil},
	})
	labels := func() []string {
		body := getLatest(t, s, token, path+"?$select=DisplayName")
		dn := body["DisplayName"].(map[string]any)
		var out []string
		for _, l := range dn["LocalizedLabels"].([]any) {
			lm := l.(map[string]any)
			out = append(out, lm["Label"].(string))
		}
		if u, ok := dn["UserLocalizedLabel"].(map[string]any); ok {
			out = append(out, "user:"+u["Label"].(string))
		}
		return out
	}

	if r := put(t, s, token, path, def.with("DisplayName", englishOnly), map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := labels(); !slices.Equal(got, []string{"Person", "Kontakt", "user:Person"}) {
		t.Errorf("merged labels %v", got)
	}
	if r := put(t, s, token, path, def.with("DisplayName", englishOnly), nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := labels(); !slices.Equal(got, []string{"Person", "user:Person"}) {
		t.Errorf("replaced labels %v", got)
	}
}

func TestPutAttributeRoundTripsNumbers(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	for _, c := range []struct{ entity, attr, typ, want string }{
		{"account", "exchangerate", "Microsoft.Dynamics.CRM.DecimalAttributeMetadata", `"MaxValue":100000000000,"MinValue":0.0000000001`},
		{"quotedetail", "quantity", "Microsoft.Dynamics.CRM.DecimalAttributeMetadata", `"MaxValue":100000000000,"MinValue":-100000000000`},
		{"account", "revenue", "Microsoft.Dynamics.CRM.MoneyAttributeMetadata", `"MaxValue":100000000000000.0,"MinValue":0.0`},
		{"account", "numberofemployees", "Microsoft.Dynamics.CRM.IntegerAttributeMetadata", `"MaxValue":1000000000,"MinValue":0`},
	} {
		path := "EntityDefinitions(LogicalName='" + c.entity + "')/Attributes(LogicalName='" + c.attr + "')"
		def := fullDefinition(t, s, token, path+"/"+c.typ, c.typ)
		before, _ := s.AttributeDefinitionJSON(c.entity, c.attr)
		if r := put(t, s, token, path, def, map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
			t.Fatalf("%s: %d %s", c.attr, r.status, r.body)
		}
		after, _ := s.AttributeDefinitionJSON(c.entity, c.attr)
		if !bytes.Equal(before, after) || !bytes.Contains(after, []byte(c.want)) {
			t.Errorf("%s.%s changed:\n%s\n%s", c.entity, c.attr, before, after)
		}
	}
	// The sent text is kept as sent.
	path := "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='exchangerate')"
	def := fullDefinition(t, s, token, path+"/Microsoft.Dynamics.CRM.DecimalAttributeMetadata", "#Microsoft.Dynamics.CRM.DecimalAttributeMetadata")
	def = def.with("MaxValue", json.RawMessage("100000000000.0000000001"))
	if r := put(t, s, token, path, def, nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	after, _ := s.AttributeDefinitionJSON("account", "exchangerate")
	if !bytes.Contains(after, []byte(`"MaxValue":100000000000.0000000001,`)) {
		t.Errorf("%s", after)
	}
}

func TestPutValidation(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	epath := "EntityDefinitions(LogicalName='lead')"
	edef := fullDefinition(t, s, token, epath, "")
	apath := epath + "/Attributes(LogicalName='companyname')"
	adef := fullDefinition(t, s, token, apath+"/Microsoft.Dynamics.CRM.StringAttributeMetadata", "Microsoft.Dynamics.CRM.StringAttributeMetadata")
	before, _ := s.EntityDefinitionJSON("lead")

	cases := []struct {
		name    string
		path    string
		body    rawObject
		raw     string
		status  int
		code    string
		msgPart string
	}{
		{"unknown property", epath, edef.with("Foo", mustRaw(1)), "", 400, "0x0", "Could not find a property named 'Foo' on type 'Microsoft.Dynamics.CRM.EntityMetadata'."},
		{"audit as bool", epath, edef.with("IsAuditEnabled", mustRaw(true)), "", 400, "0x80048d19", "StartObject"},
		{"audit value as string", epath, edef.with("IsAuditEnabled", mustRaw(map[string]any{"Value": "true", "CanBeChanged": true})), "", 400, "0x80048d19", "Cannot convert the literal 'true' to the expected type 'Edm.Boolean'."},
		{"retrieve audit null", epath, edef.with("IsRetrieveAuditEnabled", mustRaw(nil)), "", 400, "0x80048d19", "Nullable=False"},
		{"label not an object", epath, edef.with("DisplayName", mustRaw("Lead")), "", 400, "0x80048d19", "StartObject"},
		{"wrong logical name", epath, edef.with("LogicalName", mustRaw("contact")), "", 400, "0x80040203", "LogicalName"},
		{"no metadata id", epath, without(edef, "MetadataId"), "", 400, "0x80040203", "MetadataId"},
		{"wrong entity type", epath, append(rawObject{{"@odata.type", mustRaw("#Microsoft.Dynamics.CRM.AttributeMetadata")}}, edef...), "", 400, "0x80048d19", "not assignable"},
		{"not json", epath, nil, "{nope", 400, "0x80048d19", "Invalid JSON"},
		{"duplicate", epath, nil, `{"LogicalName":"lead","LogicalName":"lead"}`, 400, "0x80048d19", "Multiple properties"},
		{"empty", epath, nil, " ", 400, "0x80048d19", "empty request body"},
		{"column without type", apath, without(adef, "@odata.type"), "", 400, "0x80040203", "@odata.type"},
		{"column type change", apath, without(adef, "DatabaseLength", "FormulaDefinition", "YomiOf").with("@odata.type", mustRaw("#Microsoft.Dynamics.CRM.MemoAttributeMetadata")), "", 400, "0x80040203", "Cannot change attribute type"},
		{"column unknown type", apath, adef.with("@odata.type", mustRaw("#Microsoft.Dynamics.CRM.NopeAttributeMetadata")), "", 400, "0x80048d19", "could not be resolved"},
		{"column AttributeType change", apath, adef.with("AttributeType", mustRaw("Memo")), "", 400, "0x80040203", "Cannot change attribute type"},
		{"column property of other type", apath, adef.with("Precision", mustRaw(2)), "", 400, "0x0", "Could not find a property named 'Precision' on type 'Microsoft.Dynamics.CRM.StringAttributeMetadata'."},
		{"column MaxLength too big", apath, adef.with("MaxLength", mustRaw(json.RawMessage("4294967296"))), "", 400, "0x80048d19", "Edm.Int32"},
		{"column of other table", apath, adef.with("EntityLogicalName", mustRaw("account")), "", 400, "0x80040203", "EntityLogicalName"},
		{"unknown column", epath + "/Attributes(LogicalName='nosuch')", adef, "", 404, "0x80040217", "Could not find attribute with name 'nosuch' on entity 'lead'."},
		{"unknown table", "EntityDefinitions(LogicalName='nosuch')", edef, "", 404, "0x80040217", "Could not find entity with name 'nosuch'."},
		{"PUT on collection", "EntityDefinitions", edef, "", 405, "", "does not support http method 'PUT'"},
		{"PUT on cast", apath + "/Microsoft.Dynamics.CRM.StringAttributeMetadata", adef, "", 405, "", "PUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r apiResponse
			if c.body != nil {
				r = put(t, s, token, c.path, c.body, nil)
			} else {
				r = callAPI(t, s, http.MethodPut, c.path, token, c.raw, nil)
			}
			wantError(t, r, c.status, c.code, c.msgPart)
		})
	}
	if after, _ := s.EntityDefinitionJSON("lead"); !bytes.Equal(before, after) {
		t.Error("a refused PUT changed the definition")
	}
	if len(s.AuditRecords()) != 0 || len(s.UnpublishedEntities()) != 0 {
		t.Error("a refused PUT left traces")
	}
}

func TestPutLockedAuditSetting(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	path := "EntityDefinitions(LogicalName='activitypointer')"
	def := fullDefinition(t, s, token, path, "")
	before, _ := s.EntityDefinitionJSON("activitypointer")

	r := put(t, s, token, path, def.with("IsAuditEnabled", mustRaw(managed(true, false, "canmodifyauditsettings"))), nil)
	wantError(t, r, 400, "0x80040203", "'canmodifyauditsettings'")
	r = put(t, s, token, path, def.with("IsAuditEnabled", mustRaw(managed(false, true, "canmodifyauditsettings"))), nil)
	wantError(t, r, 400, "0x80040203", "CanBeChanged")
	// Locked but unchanged is fine; so is a locked table's retrieve setting.
	if r := put(t, s, token, path, def, nil); r.status != 204 {
		t.Errorf("unchanged: %d %s", r.status, r.body)
	}
	// A locked column.
	cpath := "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='versionnumber')"
	cdef := fullDefinition(t, s, token, cpath+"/Microsoft.Dynamics.CRM.BigIntAttributeMetadata", "Microsoft.Dynamics.CRM.BigIntAttributeMetadata")
	r = put(t, s, token, cpath, cdef.with("IsAuditEnabled", mustRaw(managed(true, false, "canmodifyauditsettings"))), nil)
	wantError(t, r, 400, "0x80040203", "'canmodifyauditsettings'")
	// A locked table that is audited cannot lose its setting by leaving it out.
	udef := fullDefinition(t, s, token, "EntityDefinitions(LogicalName='uomschedule')", "")
	r = put(t, s, token, "EntityDefinitions(LogicalName='uomschedule')", without(udef, "IsAuditEnabled"), nil)
	wantError(t, r, 400, "0x80040203", "'canmodifyauditsettings'")

	after, _ := s.EntityDefinitionJSON("activitypointer")
	if !bytes.Equal(before, after) || len(s.AuditRecords()) != 0 {
		t.Error("refused PUT changed state or wrote audit rows")
	}
	if got := s.UnpublishedEntities(); !slices.Equal(got, []string{"activitypointer"}) {
		t.Errorf("unpublished %v", got)
	}
}

func TestPutWritesAuditRows(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	userID := s.ApplicationUserID("app")
	path := "EntityDefinitions(LogicalName='account')"
	def := fullDefinition(t, s, token, path, "")
	acctID := readString(def, "MetadataId")
	actions := func() []int {
		var out []int
		for _, r := range s.AuditRecords() {
			out = append(out, r.Action)
		}
		return out
	}

	off := def.with("IsAuditEnabled", mustRaw(managed(false, true, "canmodifyauditsettings")))
	for range 2 { // the second PUT changes nothing: no rows
		if r := put(t, s, token, path, off, map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	if got := actions(); !slices.Equal(got, []int{102, 108}) {
		t.Fatalf("actions %v", got)
	}
	rows := s.AuditRecords()
	if rows[0].ObjectTypeCode != "account" || rows[0].ObjectID != acctID || rows[0].UserID != userID ||
		rows[0].Operation != OperationUpdate || rows[0].OldValues["isauditenabled"] != true || rows[0].NewValues["isauditenabled"] != false ||
		rows[0].TransactionID != rows[1].TransactionID {
		t.Errorf("row %+v", rows[0])
	}
	retrieve := off.with("IsRetrieveAuditEnabled", mustRaw(true))
	put(t, s, token, path, retrieve, nil)
	on := retrieve.with("IsAuditEnabled", mustRaw(managed(true, true, "canmodifyauditsettings")))
	put(t, s, token, path, on, nil)
	if got := actions(); !slices.Equal(got, []int{102, 108, 102, 102, 105}) {
		t.Fatalf("actions %v", got)
	}
	if r := s.AuditRecords()[2]; r.NewValues["isretrieveauditenabled"] != true || len(r.NewValues) != 1 {
		t.Errorf("retrieve row %+v", r)
	}

	cpath := path + "/Attributes(LogicalName='telephone1')"
	cdef := fullDefinition(t, s, token, cpath+"/Microsoft.Dynamics.CRM.StringAttributeMetadata", "Microsoft.Dynamics.CRM.StringAttributeMetadata")
	colID := readString(cdef, "MetadataId")
	coff := cdef.with("IsAuditEnabled", mustRaw(managed(false, true, "canmodifyauditsettings")))
	put(t, s, token, cpath, coff, nil)
	put(t, s, token, cpath, coff, nil)
	put(t, s, token, cpath, cdef, nil)
	if got := actions(); !slices.Equal(got, []int{102, 108, 102, 102, 105, 103, 109, 103, 106}) {
		t.Fatalf("actions %v", got)
	}
	if r := s.AuditRecords()[5]; r.ObjectID != colID || r.ObjectTypeCode != "account" || r.OldValues["isauditenabled"] != true {
		t.Errorf("column row %+v", r)
	}
	st, _ := s.EntityAudit("account")
	if !st.IsAuditEnabled || !st.IsRetrieveAuditEnabled || !st.Attributes["telephone1"].IsAuditEnabled {
		t.Errorf("state %+v", st)
	}
	// Nothing is published yet.
	if pub, _ := s.PublishedEntityAudit("account"); pub.IsRetrieveAuditEnabled {
		t.Error("published state changed before publishing")
	}
}

func TestPutSolutionHeader(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	path := "EntityDefinitions(LogicalName='incident')"
	def := fullDefinition(t, s, token, path, "")
	h := map[string]string{"MSCRM.SolutionUniqueName": "new_auditbaseline", "MSCRM.MergeLabels": "true"}
	if r := put(t, s, token, path, def, h); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	cpath := path + "/Attributes(LogicalName='title')"
	cdef := fullDefinition(t, s, token, cpath+"/Microsoft.Dynamics.CRM.StringAttributeMetadata", "Microsoft.Dynamics.CRM.StringAttributeMetadata")
	if r := put(t, s, token, cpath, cdef, h); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	put(t, s, token, path, def, h)
	if got := s.SolutionComponents("new_auditbaseline"); !slices.Equal(got, []string{"entity:incident", "attribute:incident.title"}) {
		t.Errorf("components %v", got)
	}
	r := put(t, s, token, path, def.with("IsAuditEnabled", mustRaw(managed(false, true, "canmodifyauditsettings"))), map[string]string{"MSCRM.SolutionUniqueName": "nosuch"})
	wantError(t, r, 404, "0x80040217", "nosuch")
	if st, _ := s.EntityAudit("incident"); !st.IsAuditEnabled || len(s.AuditRecords()) != 0 {
		t.Error("PUT with unknown solution changed state")
	}
	s.AddSolution("contoso_audit")
	if r := put(t, s, token, path, def, map[string]string{"MSCRM.SolutionUniqueName": "contoso_audit"}); r.status != 204 {
		t.Errorf("%d %s", r.status, r.body)
	}
	if got := s.SolutionComponents("contoso_audit"); !slices.Equal(got, []string{"entity:incident"}) {
		t.Errorf("components %v", got)
	}
	if len(s.SolutionComponents("Default")) != 0 {
		t.Error("Default got components without the header")
	}
}

func TestMetadataPrivileges(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	s.AddSecretClient("reader", "secret", WithPrivileges(PrivReadEntity, PrivReadAttribute))
	s.AddSecretClient("nobody", "secret", WithPrivileges())
	reader := login(t, s, "reader", "secret")
	nobody := login(t, s, "nobody", "secret")
	path := "EntityDefinitions(LogicalName='account')"
	def := fullDefinition(t, s, token, path, "")
	cpath := path + "/Attributes(LogicalName='name')"
	cdef := fullDefinition(t, s, token, cpath+"/Microsoft.Dynamics.CRM.StringAttributeMetadata", "Microsoft.Dynamics.CRM.StringAttributeMetadata")
	off := def.with("IsAuditEnabled", mustRaw(managed(false, true, "canmodifyauditsettings")))

	getOK(t, s, reader, path+"?$select=LogicalName&$expand=Attributes($select=LogicalName)")
	r := put(t, s, reader, path, off, nil)
	wantError(t, r, 403, "0x80040220", "is missing prvWriteEntity privilege")
	if _, msg := r.odataError(t); !strings.Contains(msg, "Principal user (Id="+s.ApplicationUserID("reader")+", type=8, roleCount=1, privilegeCount=2") || !strings.Contains(msg, "on OTC=9800 for entity 'entity'") {
		t.Errorf("message %s", msg)
	}
	r = put(t, s, reader, cpath, cdef, nil)
	wantError(t, r, 403, "0x80040220", "is missing prvWriteAttribute privilege")
	r = callAPI(t, s, http.MethodGet, "EntityDefinitions?$select=LogicalName", nobody, nil, nil)
	wantError(t, r, 403, "0x80040220", "is missing prvReadEntity privilege")
	if st, _ := s.EntityAudit("account"); !st.IsAuditEnabled || len(s.AuditRecords()) != 0 || len(s.UnpublishedEntities()) != 0 {
		t.Error("forbidden PUT changed state")
	}
}

func TestUpdateEntityAudit(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	// An unpublished Terraform change, then the admin's Save and Publish.
	def := fullDefinition(t, s, token, "EntityDefinitions(LogicalName='contact')", "")
	put(t, s, token, "EntityDefinitions(LogicalName='contact')", def.with("IsRetrieveAuditEnabled", mustRaw(true)), nil)
	if s.IsPublished("contact") {
		t.Fatal("published after PUT")
	}
	err := s.UpdateEntityAudit("contact", func(st *EntityAuditState) {
		st.IsAuditEnabled = false
		st.IsRetrieveMultipleAuditEnabled = true
		a := st.Attributes["jobtitle"]
		a.IsAuditEnabled = false
		st.Attributes["jobtitle"] = a
		st.Attributes["nosuch"] = AttributeAuditState{IsAuditEnabled: true}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateEntityAudit("nosuch", func(*EntityAuditState) {}); err == nil {
		t.Error("no error for an unknown table")
	}
	st, _ := s.EntityAudit("contact")
	pub, _ := s.PublishedEntityAudit("contact")
	if st.IsAuditEnabled || !st.IsRetrieveAuditEnabled || !st.IsRetrieveMultipleAuditEnabled || st.Attributes["jobtitle"].IsAuditEnabled {
		t.Errorf("state %+v", st)
	}
	if !s.IsPublished("contact") || pub.IsAuditEnabled || !pub.IsRetrieveAuditEnabled || !pub.IsRetrieveMultipleAuditEnabled {
		t.Errorf("published %+v", pub)
	}
	var actions []int
	for i, r := range s.AuditRecords() {
		actions = append(actions, r.Action)
		wantUser := s.AdminUserID()
		if i == 0 { // the PUT's row
			wantUser = s.ApplicationUserID("app")
		}
		if r.UserID != wantUser {
			t.Errorf("row %d (%d) by %s, want %s", i, r.Action, r.UserID, wantUser)
		}
	}
	if !slices.Equal(actions, []int{102, 102, 108, 103, 109}) {
		t.Errorf("actions %v", actions)
	}
	// The GET shows the admin's change.
	body := getOK(t, s, token, "EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='jobtitle')?$select=IsAuditEnabled")
	if body["IsAuditEnabled"].(map[string]any)["Value"] != false {
		t.Errorf("%v", body)
	}
	// Locking a table for a test.
	if err := s.UpdateEntityAudit("lead", func(st *EntityAuditState) { st.CanBeChanged = false }); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.EntityAudit("lead"); st.CanBeChanged || !st.IsAuditEnabled {
		t.Errorf("lead %+v", st)
	}
}

// Every definition survives a GET + PUT unchanged: the catalogue is valid
// against the emulator's own payload checks.
func TestEveryDefinitionRoundTrips(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	for _, name := range s.EntityNames() {
		path := "EntityDefinitions(LogicalName='" + name + "')"
		before, _ := s.EntityDefinitionJSON(name)
		if r := put(t, s, token, path, fullDefinition(t, s, token, path, ""), map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		if after, _ := s.EntityDefinitionJSON(name); !bytes.Equal(before, after) {
			t.Errorf("%s changed", name)
		}
	}
	for _, table := range []string{"account", "new_project"} {
		st, _ := s.EntityAudit(table)
		for col, a := range st.Attributes {
			typ := strings.TrimPrefix(a.ODataType, "#")
			path := "EntityDefinitions(LogicalName='" + table + "')/Attributes(LogicalName='" + col + "')"
			before, _ := s.AttributeDefinitionJSON(table, col)
			if r := put(t, s, token, path, fullDefinition(t, s, token, path+"/"+typ, typ), map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
				t.Fatalf("%s.%s: %d %s", table, col, r.status, r.body)
			}
			if after, _ := s.AttributeDefinitionJSON(table, col); !bytes.Equal(before, after) {
				t.Errorf("%s.%s changed:\n%s\n%s", table, col, before, after)
			}
		}
	}
	if len(s.AuditRecords()) != 0 {
		t.Error("audit rows for unchanged definitions")
	}
}

var strongHeader = map[string]string{"Consistency": "Strong"}

// getLatest is getOK with Consistency: Strong: the definition as saved,
// whatever the metadata cache holds.
func getLatest(t *testing.T, s *Server, token, path string) map[string]any {
	t.Helper()
	r := callAPI(t, s, http.MethodGet, path, token, nil, strongHeader)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return r.json(t)
}

func managedFlag(t *testing.T, m map[string]any, name string) any {
	t.Helper()
	v, ok := m[name].(map[string]any)
	if !ok {
		t.Fatalf("%s missing in %v", name, m)
	}
	return v["Value"]
}

// cachedReads reads account's IsRetrieveAuditEnabled and the audit setting
// of its column "name" in every shape a read of the saved definition has,
// with or without Consistency: Strong: the plain GETs (the server must run
// with PlainMetadataGetServesSaved, so that they serve the saved definition)
// and the functions with RetrieveAsIfPublished=true. Under "published …"
// it reads the same through the functions with RetrieveAsIfPublished=false.
func cachedReads(t *testing.T, s *Server, token string, headers map[string]string) map[string]any {
	t.Helper()
	get := func(path string) map[string]any {
		t.Helper()
		r := callAPI(t, s, http.MethodGet, path, token, nil, headers)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		return r.json(t)
	}
	nameColumn := func(attrs any) any {
		t.Helper()
		for _, a := range attrs.([]any) {
			if am := a.(map[string]any); am["LogicalName"] == "name" {
				return managedFlag(t, am, "IsAuditEnabled")
			}
		}
		t.Fatalf("no column name in %v", attrs)
		return nil
	}
	table := "EntityDefinitions(LogicalName='account')"
	out := map[string]any{}
	out["table"] = get(table + "?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"]
	coll := get("EntityDefinitions?$select=LogicalName,IsRetrieveAuditEnabled&$expand=Attributes($select=LogicalName,IsAuditEnabled)&$filter=" + urlQueryEscape("LogicalName eq 'account'"))
	item := coll["value"].([]any)[0].(map[string]any)
	out["collection"] = item["IsRetrieveAuditEnabled"]
	out["expanded column"] = nameColumn(item["Attributes"])
	out["attributes"] = nameColumn(get(table + "/Attributes?$select=LogicalName,IsAuditEnabled")["value"])
	out["column"] = managedFlag(t, get(table+"/Attributes(LogicalName='name')?$select=IsAuditEnabled"), "IsAuditEnabled")
	out["cast column"] = managedFlag(t, get(table+"/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata"), "IsAuditEnabled")
	for _, published := range []bool{false, true} {
		prefix, flag := "", "true"
		if published {
			prefix, flag = "published ", "false"
		}
		one := get("RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',LogicalName='account'," +
			"MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=" + flag + ")")["EntityMetadata"].(map[string]any)
		out[prefix+"RetrieveEntity"] = one["IsRetrieveAuditEnabled"]
		out[prefix+"RetrieveEntity column"] = nameColumn(one["Attributes"])
		for _, e := range get("RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',RetrieveAsIfPublished=" + flag + ")")["EntityMetadata"].([]any) {
			if em := e.(map[string]any); em["LogicalName"] == "account" {
				out[prefix+"RetrieveAllEntities"] = em["IsRetrieveAuditEnabled"]
				out[prefix+"RetrieveAllEntities column"] = nameColumn(em["Attributes"])
			}
		}
	}
	return out
}

// readsPerCachedReads is the number of requests cachedReads sends: five
// plain GETs and two function calls for each of saved and published.
const readsPerCachedReads = 9

// wantReads checks the saved-definition reads of cachedReads against table
// and column, and the published ones against published (table, column):
// nothing is published in these tests, so those never change.
func wantReads(t *testing.T, what string, got map[string]any, table, column bool, published [2]bool) {
	t.Helper()
	for _, k := range []string{"table", "collection", "RetrieveEntity", "RetrieveAllEntities"} {
		if got[k] != table {
			t.Errorf("%s: %s read IsRetrieveAuditEnabled = %v, want %v", what, k, got[k], table)
		}
	}
	for _, k := range []string{"expanded column", "attributes", "column", "cast column", "RetrieveEntity column", "RetrieveAllEntities column"} {
		if got[k] != column {
			t.Errorf("%s: %s read name.IsAuditEnabled = %v, want %v", what, k, got[k], column)
		}
	}
	for _, k := range []string{"published RetrieveEntity", "published RetrieveAllEntities"} {
		if got[k] != published[0] {
			t.Errorf("%s: %s read IsRetrieveAuditEnabled = %v, want %v (as published)", what, k, got[k], published[0])
		}
		if got[k+" column"] != published[1] {
			t.Errorf("%s: %s column read name.IsAuditEnabled = %v, want %v (as published)", what, k, got[k+" column"], published[1])
		}
	}
}

// The cache layer is tested on the saved definition, which PUTs change:
// the plain GETs run with PlainMetadataGetServesSaved (by default they serve
// the published one, which a PUT does not change), the functions with
// RetrieveAsIfPublished=true. The published reads must show neither PUT.
func TestMetadataCacheServesTheDefinitionBeforeAWrite(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock, PlainMetadataGetServesSaved: true})
	table := "EntityDefinitions(LogicalName='account')"
	column := table + "/Attributes(LogicalName='name')"
	before := cachedReads(t, s, token, nil)
	oldTable, oldColumn := before["table"].(bool), before["column"].(bool)
	published := [2]bool{oldTable, oldColumn}
	wantReads(t, "before", before, oldTable, oldColumn, published)

	def := fullDefinition(t, s, token, table, "")
	if r := put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!oldTable)), nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// A column PUT reads its definition strongly, as a client must.
	r := callAPI(t, s, http.MethodGet, column+"/Microsoft.Dynamics.CRM.StringAttributeMetadata", token, nil, strongHeader)
	cdef, err := parseRawObject(r.body)
	if err != nil {
		t.Fatal(err)
	}
	cdef = append(rawObject{{"@odata.type", mustRaw("#Microsoft.Dynamics.CRM.StringAttributeMetadata")}}, cdef...)
	cdef = cdef.with("IsAuditEnabled", mustRaw(map[string]any{"Value": !oldColumn, "CanBeChanged": true, "ManagedPropertyLogicalName": "canmodifyauditsettings"}))
	s.ResetCounters()
	if r := put(t, s, token, column, cdef, nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}

	// Without the header: the table as it was before the last PUT (the
	// table PUT's change, not the column's).
	wantReads(t, "inside the window", cachedReads(t, s, token, nil), !oldTable, oldColumn, published)
	if got := s.StrongConsistencyCount(); got != 0 {
		t.Errorf("StrongConsistencyCount = %d", got)
	}
	// With it: the latest, every time.
	wantReads(t, "Consistency: Strong", cachedReads(t, s, token, strongHeader), !oldTable, !oldColumn, published)
	if got := s.StrongConsistencyCount(); got != readsPerCachedReads {
		t.Errorf("StrongConsistencyCount = %d, want %d", got, readsPerCachedReads)
	}
	// Other tables are not affected.
	if v := getOK(t, s, token, "EntityDefinitions(LogicalName='contact')?$select=LogicalName")["LogicalName"]; v != "contact" {
		t.Errorf("contact %v", v)
	}

	clock.Advance(29 * time.Second)
	wantReads(t, "29 s after", cachedReads(t, s, token, nil), !oldTable, oldColumn, published)
	clock.Advance(time.Second)
	wantReads(t, "30 s after", cachedReads(t, s, token, nil), !oldTable, !oldColumn, published)
}

// The plain GETs serve the saved definition here (PlainMetadataGetServesSaved),
// so that the PUT shows in the part that reads past the cache.
func TestMetadataCacheHeaderInBatchPart(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock, PlainMetadataGetServesSaved: true})
	table := "EntityDefinitions(LogicalName='contact')"
	old := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"].(bool)
	def := fullDefinition(t, s, token, table, "")
	if r := put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!old)), nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	s.ResetCounters()
	get := "GET /api/data/v9.2/" + table + "?$select=IsRetrieveAuditEnabled HTTP/1.1\r\nAccept: application/json\r\n"
	ans := postBatch(t, s, token, []string{get + "\r\n", get + "Consistency: Strong\r\n\r\n"}, "")
	if ans.status != 200 || len(ans.bodies) != 2 {
		t.Fatalf("%d %v", ans.status, ans.bodies)
	}
	for i, want := range []string{`"IsRetrieveAuditEnabled":` + boolText(old), `"IsRetrieveAuditEnabled":` + boolText(!old)} {
		if !strings.Contains(ans.bodies[i], want) {
			t.Errorf("part %d: %s, want %s", i+1, ans.bodies[i], want)
		}
	}
	if got := s.StrongConsistencyCount(); got != 1 {
		t.Errorf("StrongConsistencyCount = %d, want 1 (the part that carried it)", got)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestMetadataCacheWindowOption(t *testing.T) {
	t.Parallel()
	table := "EntityDefinitions(LogicalName='lead')"
	for _, c := range []struct {
		name   string
		window time.Duration
		stale  bool
	}{
		{"off", -1, false},
		{"5 s", 5 * time.Second, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
			// Saved definitions on plain GETs: a PUT changes those.
			s, token := startAppServer(t, Options{TimeSource: clock, MetadataCacheWindow: c.window, PlainMetadataGetServesSaved: true})
			old := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"].(bool)
			def := fullDefinition(t, s, token, table, "")
			if r := put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!old)), nil); r.status != 204 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			want := !old
			if c.stale {
				want = old
			}
			if got := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"]; got != want {
				t.Errorf("at once: %v, want %v", got, want)
			}
			if got := retrieveEntity(t, s, token, "lead", true)["IsRetrieveAuditEnabled"]; got != want {
				t.Errorf("at once, RetrieveEntity: %v, want %v", got, want)
			}
			clock.Advance(5 * time.Second)
			if got := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"]; got != !old {
				t.Errorf("after 5 s: %v, want %v", got, !old)
			}
			if got := retrieveEntity(t, s, token, "lead", true)["IsRetrieveAuditEnabled"]; got != !old {
				t.Errorf("after 5 s, RetrieveEntity: %v, want %v", got, !old)
			}
		})
	}
}

// A read-then-write without the header within the window PUTs back the
// stale definition: the earlier change is lost, as on the real service.
// The plain GET serves the saved definition, so that it is the cache, not
// the published copy, that is stale.
func TestMetadataCacheStaleWriteRevertsEarlierChange(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{PlainMetadataGetServesSaved: true})
	table := "EntityDefinitions(LogicalName='account')"
	before, _ := s.EntityAudit("account")
	def := fullDefinition(t, s, token, table, "")
	put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!before.IsRetrieveAuditEnabled)), nil)
	stale := fullDefinition(t, s, token, table, "")
	put(t, s, token, table, stale.with("IsRetrieveMultipleAuditEnabled", mustRaw(!before.IsRetrieveMultipleAuditEnabled)), nil)
	after, _ := s.EntityAudit("account")
	if after.IsRetrieveAuditEnabled != before.IsRetrieveAuditEnabled || after.IsRetrieveMultipleAuditEnabled == before.IsRetrieveMultipleAuditEnabled {
		t.Errorf("before %+v, after %+v: the second PUT should have reverted the first", before, after)
	}
}

// Microsoft's "Update table definitions" example sends the @odata.context
// of the GET in the PUT body; the service ignores it.
func TestPutAcceptsODataContext(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	table := "EntityDefinitions(LogicalName='lead')"
	r := callAPI(t, s, http.MethodGet, table, token, nil, nil)
	def, err := parseRawObject(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := def.get("@odata.context"); !ok {
		t.Fatal("the GET has no @odata.context")
	}
	stored, _ := s.EntityDefinitionJSON("lead")
	if r := put(t, s, token, table, def, map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if after, _ := s.EntityDefinitionJSON("lead"); string(after) != string(stored) {
		t.Errorf("the PUT changed the definition:\n%s\n%s", stored, after)
	}
	cdef := fullDefinition(t, s, token, table+"/Attributes(LogicalName='companyname')/Microsoft.Dynamics.CRM.StringAttributeMetadata", "#Microsoft.Dynamics.CRM.StringAttributeMetadata")
	cdef = append(rawObject{{"@odata.context", mustRaw(s.EnvironmentURL() + "/api/data/v9.2/$metadata#EntityDefinitions('x')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata/$entity")}}, cdef...)
	if r := put(t, s, token, table+"/Attributes(LogicalName='companyname')", cdef, nil); r.status != 204 {
		t.Fatalf("column: %d %s", r.status, r.body)
	}
}

// A deleted custom table leaves the catalogue and the metadata routes, and
// keeps its audit history; system tables cannot be deleted.
func TestDeleteTable(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	s.SeedAuditHistory(300, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 3)
	countRows := func() int {
		n := 0
		for _, r := range s.AuditRecords() {
			if r.ObjectTypeCode == "new_project" {
				n++
			}
		}
		return n
	}
	before := countRows()
	if before == 0 {
		t.Fatal("the seed wrote no new_project rows")
	}
	if err := s.DeleteTable("new_project"); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s.EntityNames(), "new_project") {
		t.Error("new_project is still among EntityNames")
	}
	if r := callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='new_project')", token, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET the deleted table: status %d, want 404", r.status)
	}
	if after := countRows(); after != before {
		t.Errorf("audit rows of new_project: %d after the delete, %d before", after, before)
	}
	for _, name := range []string{"account", "new_project"} {
		if err := s.DeleteTable(name); err == nil {
			t.Errorf("DeleteTable(%s) succeeded", name)
		}
	}
}
