package dataverse

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func showValue(p *string) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *p)
}

func showChanges(cs []AuditChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s: %s → %s", c.Attribute, showValue(c.OldValue), showValue(c.NewValue))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func equalChanges(a, b []AuditChange) bool { return showChanges(a) == showChanges(b) }

func TestRenderAuditValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want *string
	}{
		{`88800`, strp("88800")},
		{`88800.5000`, strp("88800.5000")},
		{`1e3`, strp("1e3")},
		{`-0`, strp("-0")},
		{`1`, strp("1")},
		{`true`, strp("true")},
		{`false`, strp("false")},
		{`"1999-08-24T00:00:00Z"`, strp("1999-08-24T00:00:00Z")},
		{`"O'Neil \"Jr\" \u00e9"`, strp(`O'Neil "Jr" é`)},
		{`""`, strp("")},
		{`null`, nil},
		{` {"a": [1, 2]} `, strp(`{"a":[1,2]}`)},
	}
	for _, tt := range tests {
		got, err := RenderAuditValue(json.RawMessage(tt.raw))
		if err != nil || showValue(got) != showValue(tt.want) {
			t.Errorf("RenderAuditValue(%s) = %s, %v; want %s", tt.raw, showValue(got), err, showValue(tt.want))
		}
	}
	for _, bad := range []string{``, `nul`, `tru`, `"open`, `{`, `12a`} {
		if got, err := RenderAuditValue(json.RawMessage(bad)); err == nil {
			t.Errorf("RenderAuditValue(%q) = %s, want an error", bad, showValue(got))
		}
	}
}

func TestChangesFromDetail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		detail string
		want   string
	}{
		{
			"money, choice, lookup, date, null, annotations",
			`{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail",
			  "AuditRecord":{"auditid":"x"},
			  "OldValue":{"@odata.type":"#Microsoft.Dynamics.CRM.account","revenue":1000,"industrycode":2,
			    "industrycode@OData.Community.Display.V1.FormattedValue":"Agriculture",
			    "_primarycontactid_value":"11111111-1111-1111-1111-111111111111",
			    "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"contact",
			    "lastonholdtime":null,"name":"Fourth Coffee"},
			  "NewValue":{"@odata.type":"#Microsoft.Dynamics.CRM.account","revenue":88800,"industrycode":1,
			    "_primarycontactid_value":null,"lastonholdtime":"1999-08-24T00:00:00Z","donotemail":true},
			  "InvalidNewValueAttributes":[],"LocLabelLanguageCode":0,"DeletedAttributes":{}}`,
			`[donotemail: nil → "true"; industrycode: "2" → "1"; lastonholdtime: nil → "1999-08-24T00:00:00Z"; ` +
				`name: "Fourth Coffee" → nil; primarycontactid: "11111111-1111-1111-1111-111111111111" → nil; revenue: "1000" → "88800"]`,
		},
		{
			"create: no old value",
			`{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail","OldValue":null,"NewValue":{"name":"A"}}`,
			`[name: nil → "A"]`,
		},
		{"no type, values present", `{"NewValue":{"name":"A"}}`, `[name: nil → "A"]`},
		{"attribute detail without values", `{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail"}`, `[]`},
		{"share detail", `{"@odata.type":"#Microsoft.Dynamics.CRM.ShareAuditDetail","OldValue":{"a":1}}`, `[]`},
		{"relationship detail", `{"@odata.type":"#Microsoft.Dynamics.CRM.RelationshipAuditDetail","RelationshipName":"x"}`, `[]`},
		{"null", `null`, `[]`},
		{"empty", ``, `[]`},
	}
	for _, tt := range tests {
		got, err := ChangesFromDetail(json.RawMessage(tt.detail))
		if err != nil || showChanges(got) != tt.want {
			t.Errorf("%s:\n got %s (err %v)\nwant %s", tt.name, showChanges(got), err, tt.want)
		}
	}
	for _, bad := range []string{`[1]`, `{"OldValue":[1]}`, `{"NewValue":{"a":nul}}`, `{`} {
		if got, err := ChangesFromDetail(json.RawMessage(bad)); err == nil {
			t.Errorf("ChangesFromDetail(%s) = %s, want an error", bad, showChanges(got))
		}
	}
}

func TestAuditAttributeName(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"name": "name", "_ownerid_value": "ownerid", "_value": "_value", "__value": "__value", "_x_value": "x",
		"@odata.type": "", "name@OData.Community.Display.V1.FormattedValue": "", "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "",
	} {
		if got := auditAttributeName(key); got != want {
			t.Errorf("auditAttributeName(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzChangesFromDetail(f *testing.F) {
	f.Add(`{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail","OldValue":{"a":1,"_b_value":"x","a@x":"y"},"NewValue":{"a":2.50,"c":null}}`)
	f.Add(`{"OldValue":null,"NewValue":{"":true,"@":false,"_value":"v","__value":1}}`)
	f.Add(`{"@odata.type":"#Microsoft.Dynamics.CRM.ShareAuditDetail"}`)
	f.Add(`{"OldValue":{"a":{"b":[1,"2",null]}},"NewValue":"x"}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, detail string) {
		changes, err := ChangesFromDetail(json.RawMessage(detail))
		if err != nil {
			return
		}
		for i, c := range changes {
			if strings.Contains(c.Attribute, "@") || (i > 0 && changes[i-1].Attribute >= c.Attribute) {
				t.Fatalf("changes %s", showChanges(changes))
			}
		}
	})
}
