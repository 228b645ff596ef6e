package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator/catalogue"
)

func specTables(extra int) []catalogue.Table {
	return slices.Concat(catalogue.Standard(), catalogue.Custom(), catalogue.Generated(extra))
}

func decodeDefinition(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	return def
}

// labelsOf returns a Label's English and German texts, or an error text
// when it is not a two-language label with the English user label.
func labelsOf(label any) (string, string, error) {
	l, _ := label.(map[string]any)
	localized, _ := l["LocalizedLabels"].([]any)
	if len(localized) != 2 {
		return "", "", fmt.Errorf("%d localized labels", len(localized))
	}
	en, _ := localized[0].(map[string]any)
	de, _ := localized[1].(map[string]any)
	user, _ := l["UserLocalizedLabel"].(map[string]any)
	if en["LanguageCode"] != float64(1033) || de["LanguageCode"] != float64(1031) || user["LanguageCode"] != float64(1033) || user["Label"] != en["Label"] {
		return "", "", fmt.Errorf("languages %v/%v, user label %v", en["LanguageCode"], de["LanguageCode"], user)
	}
	return fmt.Sprint(en["Label"]), fmt.Sprint(de["Label"]), nil
}

// Every spec table is served, with what the spec says and every property of
// the EntityMetadata and AttributeMetadata schemas.
func TestCatalogueServesTheSpec(t *testing.T) {
	t.Parallel()
	const extra = 3
	s := startServer(t, Options{ExtraCustomTables: extra})
	tables := specTables(extra)
	var names []string
	for _, tab := range tables {
		names = append(names, tab.LogicalName)
	}
	slices.Sort(names)
	if got := s.EntityNames(); !slices.Equal(got, names) {
		t.Fatalf("served tables %v\nwant %v", got, names)
	}
	for _, tab := range tables {
		raw, _ := s.EntityDefinitionJSON(tab.LogicalName)
		def := decodeDefinition(t, raw)
		checkEntityAgainstSpec(t, tab, def)
		st, _ := s.EntityAudit(tab.LogicalName)
		if st.IsAuditEnabled != tab.AuditEnabled || st.CanBeChanged == tab.AuditLocked {
			t.Errorf("%s: audit state %v/%v, spec audit %v locked %v", tab.LogicalName, st.IsAuditEnabled, st.CanBeChanged, tab.AuditEnabled, tab.AuditLocked)
		}
		cols := tab.Columns()
		if len(st.Attributes) != len(cols) {
			t.Errorf("%s: %d columns served, %d in the spec", tab.LogicalName, len(st.Attributes), len(cols))
		}
		for _, c := range cols {
			checkColumnAgainstSpec(t, s, tab, c)
		}
		for col, want := range map[string]AttributeAuditState{
			tab.PrimaryIDName(): {false, false, "", "#Microsoft.Dynamics.CRM.UniqueIdentifierAttributeMetadata"},
			"versionnumber":     {false, false, "", "#Microsoft.Dynamics.CRM.BigIntAttributeMetadata"},
			"createdbyname":     {false, false, "createdby", "#Microsoft.Dynamics.CRM.StringAttributeMetadata"},
		} {
			if got := st.Attributes[col]; got != want {
				t.Errorf("%s.%s = %+v, want %+v", tab.LogicalName, col, got, want)
			}
		}
	}
}

func checkEntityAgainstSpec(t *testing.T, tab catalogue.Table, def map[string]any) {
	t.Helper()
	name := tab.LogicalName
	for _, p := range entitySchema {
		if _, ok := def[p.name]; !ok {
			t.Errorf("%s: no %s", name, p.name)
		}
	}
	if _, ok := def["Attributes"]; ok {
		t.Errorf("%s: definition holds navigation property Attributes", name)
	}
	ownership := tab.Ownership
	if ownership == "" {
		ownership = "None"
	}
	for prop, want := range map[string]any{
		"LogicalName": name, "SchemaName": tab.SchemaName, "ObjectTypeCode": float64(tab.ObjectTypeCode),
		"IsCustomEntity": tab.Custom, "IsManaged": !tab.Custom, "IsActivity": tab.Activity, "OwnershipType": ownership,
		"PrimaryIdAttribute": tab.PrimaryIDName(), "PrimaryNameAttribute": tab.PrimaryName,
	} {
		if def[prop] != want {
			t.Errorf("%s: %s = %v, want %v", name, prop, def[prop], want)
		}
	}
	if audit, _ := def["IsAuditEnabled"].(map[string]any); audit["Value"] != tab.AuditEnabled || audit["CanBeChanged"] != !tab.AuditLocked {
		t.Errorf("%s: IsAuditEnabled %v", name, audit)
	}
	for prop, want := range map[string][2]string{
		"DisplayName":           {tab.English[0], tab.German[0]},
		"DisplayCollectionName": {tab.English[1], tab.German[1]},
	} {
		en, de, err := labelsOf(def[prop])
		if err != nil || en != want[0] || de != want[1] {
			t.Errorf("%s: %s %q/%q %v, want %q", name, prop, en, de, err, want)
		}
	}
}

func checkColumnAgainstSpec(t *testing.T, s *Server, tab catalogue.Table, c catalogue.Column) {
	t.Helper()
	where := tab.LogicalName + "." + c.LogicalName
	raw, ok := s.AttributeDefinitionJSON(tab.LogicalName, c.LogicalName)
	if !ok {
		t.Errorf("%s not served", where)
		return
	}
	def := decodeDefinition(t, raw)
	odataType := attrTypeByKey(c.Type).odataType
	if def["@odata.type"] != "#"+odataType {
		t.Errorf("%s: @odata.type %v, spec type %s", where, def["@odata.type"], c.Type)
	}
	for _, p := range attributeSchema(odataType) {
		if _, ok := def[p.name]; !ok {
			t.Errorf("%s: no %s", where, p.name)
		}
	}
	attributeOf, _ := def["AttributeOf"].(string)
	if def["SchemaName"] != c.SchemaName || def["IsPrimaryId"] != c.PrimaryID || def["IsPrimaryName"] != c.PrimaryName ||
		attributeOf != c.AttributeOf || def["IsValidForCreate"] == c.ReadOnly {
		t.Errorf("%s: served %v/%v/%v/%v/%v differs from the spec %+v", where, def["SchemaName"], def["IsPrimaryId"], def["IsPrimaryName"], attributeOf, def["IsValidForCreate"], c)
	}
	if audit, _ := def["IsAuditEnabled"].(map[string]any); audit["CanBeChanged"] != c.CanBeAudited() {
		t.Errorf("%s: IsAuditEnabled %v, spec auditable %v", where, audit, c.CanBeAudited())
	}
	if c.Virtual() {
		return
	}
	en, de, err := labelsOf(def["DisplayName"])
	if err != nil || en != c.English || de != c.German {
		t.Errorf("%s: DisplayName %q/%q %v, want %q/%q", where, en, de, err, c.English, c.German)
	}
}

// Numbers are served as the spec writes them, never through float64.
func TestCataloguePreservesNumbersAsWritten(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	acct, _ := s.EntityDefinitionJSON("account")
	for _, want := range []string{`"ObjectTypeCode":1,`, `"IsAuditEnabled":{"Value":true,"CanBeChanged":true,"ManagedPropertyLogicalName":"canmodifyauditsettings"}`, `"EntitySetName":"accounts"`, `"Label":"Firma","LanguageCode":1031`} {
		if !bytes.Contains(acct, []byte(want)) {
			t.Errorf("account lacks %s", want)
		}
	}
	for col, want := range map[string][]string{
		"account.exchangerate":  {`"MaxValue":100000000000,"MinValue":0.0000000001,"Precision":10`, `"@odata.type":"#Microsoft.Dynamics.CRM.DecimalAttributeMetadata"`},
		"account.versionnumber": {`"MaxValue":9223372036854775807,"MinValue":-9223372036854775808`},
		"account.revenue":       {`"MaxValue":100000000000000.0`},
		"quotedetail.quantity":  {`"MaxValue":100000000000,"MinValue":-100000000000`},
		"account.createdon":     {`"DateTimeBehavior":{"Value":"UserLocal"}`},
		"account.ownerid":       {`"Targets":["systemuser","team"]`, `"AttributeType":"Owner"`},
		"account.name":          {`"MaxLength":100`, `"IsPrimaryName":true`, `"FormatName":{"Value":"Text"}`},
	} {
		ent, attr, _ := strings.Cut(col, ".")
		raw, ok := s.AttributeDefinitionJSON(ent, attr)
		if !ok {
			t.Errorf("%s missing", col)
			continue
		}
		for _, w := range want {
			if !bytes.Contains(raw, []byte(w)) {
				t.Errorf("%s lacks %s: %s", col, w, raw)
			}
		}
	}
}

var metadataIDPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// Standard ids are the same in every environment (as in Dataverse); custom
// ones differ; apart from their ids, two environments build the same custom
// and generated tables; within one environment every MetadataId is unique.
func TestCatalogueIDs(t *testing.T) {
	t.Parallel()
	const extra = 5
	first := startServer(t, Options{ExtraCustomTables: extra})
	second := startServer(t, Options{ExtraCustomTables: extra})
	ids := map[string]string{}
	for _, tab := range specTables(extra) {
		d1, _ := first.EntityDefinitionJSON(tab.LogicalName)
		d2, _ := second.EntityDefinitionJSON(tab.LogicalName)
		if bytes.Equal(d1, d2) == tab.Custom {
			t.Errorf("%s: definitions equal in two environments: %v (custom %v)", tab.LogicalName, bytes.Equal(d1, d2), tab.Custom)
		}
		if masked := metadataIDPattern.ReplaceAll(d1, nil); !bytes.Equal(masked, metadataIDPattern.ReplaceAll(d2, nil)) {
			t.Errorf("%s: definitions differ in more than ids", tab.LogicalName)
		}
		owners := []string{tab.LogicalName}
		rawIDs := []json.RawMessage{d1}
		for _, c := range tab.Columns() {
			a, _ := first.AttributeDefinitionJSON(tab.LogicalName, c.LogicalName)
			owners = append(owners, tab.LogicalName+"."+c.LogicalName)
			rawIDs = append(rawIDs, a)
		}
		for i, raw := range rawIDs {
			id, _ := decodeDefinition(t, raw)["MetadataId"].(string)
			if other, dup := ids[id]; dup || id == "" {
				t.Errorf("%s: MetadataId %q also used by %s", owners[i], id, other)
			}
			ids[id] = owners[i]
		}
	}
}

// A GET then an unchanged PUT leaves every generated table and one column of
// each distinct shape (per table kind, type, format and flags) as it was: the
// expansion yields definitions the emulator's own PUT validation accepts.
func TestCatalogueDefinitionsSurvivePut(t *testing.T) {
	t.Parallel()
	const extra = 2
	s, token := startAppServer(t, Options{ExtraCustomTables: extra})
	mergeLabels := map[string]string{"MSCRM.MergeLabels": "true"}
	shapes := map[string]bool{}
	for _, tab := range specTables(extra) {
		path := "EntityDefinitions(LogicalName='" + tab.LogicalName + "')"
		if tab.Custom {
			before, _ := s.EntityDefinitionJSON(tab.LogicalName)
			if r := put(t, s, token, path, fullDefinition(t, s, token, path, ""), mergeLabels); r.status != 204 {
				t.Fatalf("%s: %d %s", tab.LogicalName, r.status, r.body)
			}
			if after, _ := s.EntityDefinitionJSON(tab.LogicalName); !bytes.Equal(before, after) {
				t.Errorf("%s changed", tab.LogicalName)
			}
		}
		for _, c := range tab.Columns() {
			shape := fmt.Sprint(tab.Custom, c.Type, c.Format, c.Virtual(), c.PrimaryID, c.PrimaryName, c.ReadOnly, c.CanBeAudited(), c.RequiredLevel)
			if shapes[shape] {
				continue
			}
			shapes[shape] = true
			typ := attrTypeByKey(c.Type).odataType
			cpath := path + "/Attributes(LogicalName='" + c.LogicalName + "')"
			before, _ := s.AttributeDefinitionJSON(tab.LogicalName, c.LogicalName)
			if r := put(t, s, token, cpath, fullDefinition(t, s, token, cpath+"/"+typ, typ), mergeLabels); r.status != 204 {
				t.Fatalf("%s.%s: %d %s", tab.LogicalName, c.LogicalName, r.status, r.body)
			}
			if after, _ := s.AttributeDefinitionJSON(tab.LogicalName, c.LogicalName); !bytes.Equal(before, after) {
				t.Errorf("%s.%s changed:\n%s\n%s", tab.LogicalName, c.LogicalName, before, after)
			}
		}
	}
	t.Logf("%d column shapes round-tripped", len(shapes))
	if len(shapes) < 20 {
		t.Errorf("only %d column shapes", len(shapes))
	}
	if len(s.AuditRecords()) != 0 {
		t.Error("audit rows for unchanged definitions")
	}
}
