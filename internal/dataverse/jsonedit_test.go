package dataverse

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// A realistic slice of an EntityMetadata definition: big decimals, labels in
// several languages, nulls, nested arrays, and properties this client knows
// nothing about.
const sampleEntityDef = `{
  "@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#EntityDefinitions/$entity",
  "@odata.etag": "W/\"42\"",
  "MetadataId": "70816501-edb9-4740-a16c-6a5efbc05d84",
  "LogicalName": "account",
  "ObjectTypeCode": 1,
  "MaxValue": 100000000000.0000000001,
  "Tiny": 1E-400,
  "Huge": 123456789012345678901234567890,
  "NegZero": -0.0,
  "IsAuditEnabled": {"Value": false, "CanBeChanged": true, "ManagedPropertyLogicalName": "canmodifyauditsettings"},
  "IsRetrieveAuditEnabled": false,
  "DisplayName": {
    "LocalizedLabels": [
      {"Label": "Account", "LanguageCode": 1033, "IsManaged": true, "MetadataId": "2a4901bf-2241-db11-898a-0007e9e17ebd", "HasChanged": null},
      {"Label": "Compte \u00e9t\u00e9 <&>", "LanguageCode": 1036, "IsManaged": true, "MetadataId": "x", "HasChanged": null},
      {"Label": "取引先企業 🏢", "LanguageCode": 1041, "IsManaged": true, "MetadataId": "y", "HasChanged": null}
    ],
    "UserLocalizedLabel": {"Label": "Account", "LanguageCode": 1033}
  },
  "Description": {"LocalizedLabels": [], "UserLocalizedLabel": null},
  "UnknownFutureProperty": {"Nested": [[1, 2.50], {"a": null}], "Flag": true},
  "EntityColor": null
}`

func TestSetJSONValueKeepsEverythingElse(t *testing.T) {
	t.Parallel()
	got, err := setJSONValue(json.RawMessage(sampleEntityDef), true, "IsAuditEnabled", "Value")
	if err != nil {
		t.Fatal(err)
	}
	// Byte-exact: only the value changed, whitespace and escapes included.
	want := strings.Replace(sampleEntityDef, `{"Value": false,`, `{"Value": true,`, 1)
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	var v BooleanManagedProperty
	if err := getJSONValue(got, &v, "IsAuditEnabled"); err != nil {
		t.Fatal(err)
	}
	if v != (BooleanManagedProperty{Value: true, CanBeChanged: true, ManagedPropertyLogicalName: "canmodifyauditsettings"}) {
		t.Errorf("IsAuditEnabled = %+v", v)
	}
}

func TestSetJSONValueTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		def   string
		value any
		path  []string
		want  string
	}{
		{"top-level bool", `{"a":1,"IsRetrieveAuditEnabled":false,"b":2}`, true, []string{"IsRetrieveAuditEnabled"}, `{"a":1,"IsRetrieveAuditEnabled":true,"b":2}`},
		{"null to bool", `{"x": null}`, false, []string{"x"}, `{"x": false}`},
		{"bool to null", `{"x":true}`, nil, []string{"x"}, `{"x":null}`},
		{"big decimal neighbours", `{"m":100000000000.0000000001,"v":{"Value":false},"n":1e400}`, true, []string{"v", "Value"}, `{"m":100000000000.0000000001,"v":{"Value":true},"n":1e400}`},
		{"set a big decimal exactly", `{"m":1}`, json.Number("100000000000.0000000001"), []string{"m"}, `{"m":100000000000.0000000001}`},
		{"raw message value", `{"m":1}`, json.RawMessage(` {"a" : [1, 2]} `), []string{"m"}, `{"m":{"a":[1,2]}}`},
		{"unicode and html not escaped", `{"Label":"x","k":"\u00e9"}`, "Compte <été> & 取引先 🏢", []string{"Label"}, `{"Label":"Compte <été> & 取引先 🏢","k":"\u00e9"}`},
		{"escaped key", `{"I\u0073AuditEnabled":{"Value":false}}`, true, []string{"IsAuditEnabled", "Value"}, `{"I\u0073AuditEnabled":{"Value":true}}`},
		{"nested labels array untouched", `{"L":{"LocalizedLabels":[{"Label":"a","LanguageCode":1033},{"Label":"b"}],"UserLocalizedLabel":null},"z":0}`, 1, []string{"z"}, `{"L":{"LocalizedLabels":[{"Label":"a","LanguageCode":1033},{"Label":"b"}],"UserLocalizedLabel":null},"z":1}`},
		{"replace an object", `{"o":{"a":1},"p":[]}`, map[string]int{"b": 2}, []string{"o"}, `{"o":{"b":2},"p":[]}`},
		{"strings with braces", `{"s":"}{\"","o":{"t":"]","Value":false}}`, true, []string{"o", "Value"}, `{"s":"}{\"","o":{"t":"]","Value":true}}`},
		{"surrounding whitespace kept", "\n {\n\t\"a\" :\t1 } \n", 2, []string{"a"}, "\n {\n\t\"a\" :\t2 } \n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := setJSONValue(json.RawMessage(tc.def), tc.value, tc.path...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestSetJSONValueErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		def      string
		path     []string
		notFound bool
		contains string
	}{
		{"missing top key", `{"a":1}`, []string{"b"}, true, `"b"`},
		{"missing nested key", `{"a":{"c":1}}`, []string{"a", "b"}, true, `"a.b"`},
		{"not an object along the path", `{"a":"text"}`, []string{"a", "b"}, false, "not a JSON object"},
		{"array along the path", `{"a":[{"b":1}]}`, []string{"a", "b"}, false, "not a JSON object"},
		{"null along the path", `{"a":null}`, []string{"a", "b"}, false, "not a JSON object"},
		{"top level not an object", `[1,2]`, []string{"a"}, false, "not a JSON object"},
		{"invalid JSON", `{"a":1`, []string{"a"}, false, "not valid JSON"},
		{"duplicate keys", `{"a":1,"a":2}`, []string{"a"}, false, "duplicate key"},
		{"empty path", `{"a":1}`, nil, false, "empty path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := setJSONValue(json.RawMessage(tc.def), true, tc.path...)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, errJSONPathNotFound) != tc.notFound {
				t.Errorf("errors.Is(errJSONPathNotFound) = %v: %v", !tc.notFound, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not contain %q", err, tc.contains)
			}
		})
	}
	if _, err := setJSONValue(json.RawMessage(`{"a":1}`), func() {}, "a"); err == nil {
		t.Error("unencodable value: no error")
	}
}

func TestGetJSONValue(t *testing.T) {
	t.Parallel()
	def := json.RawMessage(sampleEntityDef)
	var n any
	if err := getJSONValue(def, &n, "MaxValue"); err != nil {
		t.Fatal(err)
	}
	if n != json.Number("100000000000.0000000001") {
		t.Errorf("MaxValue = %#v", n)
	}
	var label string
	if err := getJSONValue(def, &label, "DisplayName", "UserLocalizedLabel", "Label"); err != nil || label != "Account" {
		t.Errorf("label = %q, %v", label, err)
	}
	var raw json.RawMessage
	if err := getJSONValue(def, &raw, "UnknownFutureProperty"); err != nil || string(raw) != `{"Nested": [[1, 2.50], {"a": null}], "Flag": true}` {
		t.Errorf("raw = %s, %v", raw, err)
	}
	if err := getJSONValue(def, &raw, "Description", "Nope"); !errors.Is(err, errJSONPathNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if err := getJSONValue(def, &raw, "LogicalName", "x"); err == nil || errors.Is(err, errJSONPathNotFound) {
		t.Errorf("string along path: %v", err)
	}
	if err := getJSONValue(json.RawMessage(`{`), &raw); err == nil {
		t.Error("invalid JSON: no error")
	}
}

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{` { "b" : 1 , "a" : [ true , false , null ] } `, `{"a":[true,false,null],"b":1}`},
		{`{"n":100000000000.0000000001,"m":1.0,"e":1E+400,"z":-0}`, `{"e":1E+400,"m":1.0,"n":100000000000.0000000001,"z":-0}`},
		{`{"s":"\u00e9t\u00e9 \u003c\/"}`, `{"s":"été </"}`},
		{`"<&>"`, `"<&>"`},
		{`{"b":{"d":{},"c":[]},"a":{"y":[{"k":2,"j":1}]}}`, `{"a":{"y":[{"j":1,"k":2}]},"b":{"c":[],"d":{}}}`},
		{`{"\u00e9":1,"e":2,"E":3}`, `{"E":3,"e":2,"é":1}`},
		{`{"ctl":"a\tb\u0001"}`, `{"ctl":"a\tb\u0001"}`},
		{`[]`, `[]`},
		{`null`, `null`},
	}
	for _, tc := range cases {
		got, err := canonicalJSON(json.RawMessage(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("canonicalJSON(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	// Equal definitions written differently are equal canonically.
	a, _ := canonicalJSON(json.RawMessage(sampleEntityDef))
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(sampleEntityDef))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	reenc, _ := json.MarshalIndent(m, "", "    ")
	b, err := canonicalJSON(reenc)
	if err != nil || !bytes.Equal(a, b) {
		t.Errorf("re-encoded definition differs canonically (%v):\n%s\n%s", err, a, b)
	}
	for _, bad := range []string{`{"a":1,"a":1}`, `{"a":1} x`, `{"a":`, ``, `{"a":[1,{"b":2,"b":3}]}`} {
		if _, err := canonicalJSON(json.RawMessage(bad)); err == nil {
			t.Errorf("canonicalJSON(%q): no error", bad)
		}
	}
}

func TestPrepareDefinitionForPut(t *testing.T) {
	t.Parallel()
	got, err := prepareDefinitionForPut(json.RawMessage(sampleEntityDef), "")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("@odata.")) {
		t.Errorf("annotations left: %s", got)
	}
	// Everything else is equal, numbers included.
	var orig map[string]json.RawMessage
	if err := json.Unmarshal([]byte(sampleEntityDef), &orig); err != nil {
		t.Fatal(err)
	}
	delete(orig, "@odata.context")
	delete(orig, "@odata.etag")
	var sent map[string]json.RawMessage
	if err := json.Unmarshal(got, &sent); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(orig, sent) {
		t.Errorf("members differ:\n%v\n%v", orig, sent)
	}
	if !bytes.HasPrefix(got, []byte(`{"MetadataId":"70816501-edb9-4740-a16c-6a5efbc05d84","LogicalName":"account","ObjectTypeCode":1,`)) {
		t.Errorf("order not kept: %.120s", got)
	}

	// A column: @odata.type first, an existing one replaced, other annotations dropped.
	col := `{"@odata.context":"c","LogicalName":"name","@odata.type":"#Old","@odata.id":"i","MaxLength":100,"x@odata.other":1}`
	got, err = prepareDefinitionForPut(json.RawMessage(col), "Microsoft.Dynamics.CRM.StringAttributeMetadata")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@odata.type":"#Microsoft.Dynamics.CRM.StringAttributeMetadata","LogicalName":"name","MaxLength":100,"x@odata.other":1}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// A choice column as RetrieveEntity serves it: its option set (a
	// navigation property of the column type) is not sent back; a table's
	// member of that name would be.
	choice := `{"LogicalName":"new_stage","OptionSet":{"Options":[{"Value":1}]},"GlobalOptionSet":null,"IsAuditEnabled":{"Value":true}}`
	got, err = prepareDefinitionForPut(json.RawMessage(choice), "Microsoft.Dynamics.CRM.PicklistAttributeMetadata")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"@odata.type":"#Microsoft.Dynamics.CRM.PicklistAttributeMetadata","LogicalName":"new_stage","IsAuditEnabled":{"Value":true}}`; string(got) != want {
		t.Errorf("choice column: got  %s\nwant %s", got, want)
	}
	if got, _ = prepareDefinitionForPut(json.RawMessage(choice), ""); !bytes.Contains(got, []byte(`"OptionSet"`)) {
		t.Errorf("a table definition lost a member: %s", got)
	}
	// Without a type to add, an existing @odata.type is kept.
	got, _ = prepareDefinitionForPut(json.RawMessage(`{"@odata.etag":"e","@odata.type":"#T.U","a":1}`), "")
	if string(got) != `{"@odata.type":"#T.U","a":1}` {
		t.Errorf("got %s", got)
	}
	for _, bad := range []string{`[]`, `{`, `{"a":1,"a":2}`} {
		if _, err := prepareDefinitionForPut(json.RawMessage(bad), ""); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzSetJSONValue(f *testing.F) {
	f.Add([]byte(sampleEntityDef), "IsAuditEnabled", `true`)
	f.Add([]byte(`{"a":100000000000.0000000001,"b":{"c":[1,"}"]}}`), "b", `{"Value":false}`)
	f.Add([]byte(`{"\u00e9":"x","y":null}`), "é", `"取引先"`)
	f.Add([]byte(` {"k" : [ ] } `), "k", `1e400`)
	f.Add([]byte(`{"a":1,"a":2}`), "a", `3`)
	f.Add([]byte(`[1]`), "a", `null`)
	f.Fuzz(func(t *testing.T, def []byte, key string, value string) {
		if !json.Valid([]byte(value)) {
			return
		}
		got, err := setJSONValue(def, json.RawMessage(value), key)
		var orig map[string]json.RawMessage
		origOK := json.Valid(def) && json.Unmarshal(def, &orig) == nil && orig != nil
		if err != nil {
			if origOK {
				if _, has := orig[key]; has && !strings.Contains(err.Error(), "duplicate key") {
					t.Fatalf("setJSONValue(%q, %q) failed: %v", def, key, err)
				}
			}
			return
		}
		if !origOK {
			t.Fatalf("setJSONValue accepted %q", def)
		}
		if !json.Valid(got) {
			t.Fatalf("result is not valid JSON: %q", got)
		}
		var res map[string]json.RawMessage
		if err := json.Unmarshal(got, &res); err != nil {
			t.Fatal(err)
		}
		if len(res) != len(orig) {
			t.Fatalf("members %d → %d", len(orig), len(res))
		}
		for k, v := range orig {
			if k == key {
				wantC, err1 := canonicalJSON(json.RawMessage(value))
				gotC, err2 := canonicalJSON(res[k])
				if err1 == nil && (err2 != nil || !bytes.Equal(wantC, gotC)) {
					t.Fatalf("value %q = %q", k, res[k])
				}
				continue
			}
			if !bytes.Equal(v, res[k]) {
				t.Fatalf("member %q changed: %q → %q", k, v, res[k])
			}
		}
	})
}

func FuzzCanonicalJSON(f *testing.F) {
	f.Add([]byte(sampleEntityDef))
	f.Add([]byte(`{"b":1,"a":[1.0,-0,1e400,"\u00e9"]}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte("\"\xff\""))
	f.Add([]byte(`1 2`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := canonicalJSON(data)
		if !json.Valid(data) {
			if err == nil {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			return
		}
		if err != nil {
			if !strings.Contains(err.Error(), "duplicate key") {
				t.Fatalf("canonicalJSON(%q): %v", data, err)
			}
			return
		}
		if !json.Valid(c) {
			t.Fatalf("invalid output %q", c)
		}
		again, err := canonicalJSON(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("not idempotent: %q → %q (%v)", c, again, err)
		}
		decode := func(b []byte) any {
			var v any
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if a, b := decode(data), decode(c); !reflect.DeepEqual(a, b) {
			t.Fatalf("meaning changed: %q → %q", data, c)
		}
	})
}
