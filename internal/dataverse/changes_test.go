package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
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

func TestEntitySetName(t *testing.T) {
	t.Parallel()
	rec := &msapitest.Recorder{}
	c, _, _ := newTestServer(t, rec.Handler(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "'nosuch'") {
			writeJSON(w, http.StatusNotFound, odataErr("0x80040217", "Could not find entity"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"EntitySetName": "accounts", "MetadataId": "x"})
	}))
	got, err := c.EntitySetName(context.Background(), "account")
	if err != nil || got != "accounts" {
		t.Fatalf("got %q, %v", got, err)
	}
	r := rec.Request(0)
	if r.URL.Path != "/api/data/v9.2/EntityDefinitions(LogicalName='account')" || r.URL.RawQuery != "$select=EntitySetName" {
		t.Errorf("request %s?%s", r.URL.Path, r.URL.RawQuery)
	}
	if _, err := c.EntitySetName(context.Background(), "nosuch"); !IsNotFound(err) {
		t.Errorf("unknown table: %v", err)
	}
	if _, err := c.EntitySetName(context.Background(), "Bad Name"); err == nil || rec.Count() != 2 {
		t.Errorf("bad name: %v, %d requests", err, rec.Count())
	}
}

func TestRetrieveRecordChangeHistoryPaging(t *testing.T) {
	t.Parallel()
	const record = "6a3f1e2d-1111-4222-8333-444455556666"
	detail := func(id string, oldV, newV int) map[string]any {
		return map[string]any{
			"@odata.type": "#Microsoft.Dynamics.CRM.AttributeAuditDetail",
			"AuditRecord": map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.audit", "auditid": id, "action": 2},
			"OldValue":    map[string]any{"revenue": oldV},
			"NewValue":    map[string]any{"revenue": newV},
		}
	}
	var n atomic.Int64
	var pagings []pagingInfo
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		q := r.URL.Query()
		if r.URL.Path != "/api/data/v9.2/RetrieveRecordChangeHistory(Target=@target,PagingInfo=@p)" ||
			q.Get("@target") != "{'@odata.id':'accounts("+record+")'}" {
			t.Errorf("request %s ? %v", r.URL.Path, q)
		}
		var p pagingInfo
		if err := json.Unmarshal([]byte(q.Get("@p")), &p); err != nil {
			t.Errorf("@p %q: %v", q.Get("@p"), err)
		}
		pagings = append(pagings, p)
		coll := map[string]any{"MoreRecords": false, "PagingCookie": "", "TotalRecordCount": -1}
		switch p.PageNumber {
		case 1:
			coll["MoreRecords"], coll["PagingCookie"] = true, `<cookie page="1"/>`
			coll["AuditDetails"] = []any{detail("a1", 1, 2), detail("a2", 2, 3)}
		case 2:
			coll["AuditDetails"] = []any{
				detail("a3", 3, 4),
				map[string]any{"@odata.type": "#Microsoft.Dynamics.CRM.ShareAuditDetail", "AuditRecord": map[string]any{"auditid": "a4"}},
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"AuditDetailCollection": coll})
	})
	got, err := c.RetrieveRecordChangeHistory(context.Background(), "accounts", strings.ToUpper(record))
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 || len(got) != 4 {
		t.Fatalf("%d requests, %d audits", n.Load(), len(got))
	}
	if !equalChanges(got["a3"], []AuditChange{{"revenue", strp("3"), strp("4")}}) || len(got["a4"]) != 0 {
		t.Errorf("a3 %s a4 %s", showChanges(got["a3"]), showChanges(got["a4"]))
	}
	want := []pagingInfo{{PageNumber: 1, Count: 5000}, {PageNumber: 2, Count: 5000, PagingCookie: `<cookie page="1"/>`}}
	if fmt.Sprint(pagings) != fmt.Sprint(want) {
		t.Errorf("paging %+v, want %+v", pagings, want)
	}
}

func TestRetrieveRecordChangeHistoryErrors(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"AuditDetailCollection": map[string]any{"MoreRecords": true, "AuditDetails": []any{}}})
	})
	ctx := context.Background()
	if _, err := c.RetrieveRecordChangeHistory(ctx, "accounts", "6a3f1e2d-1111-4222-8333-444455556666"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("endless paging: %v", err)
	}
	if _, err := c.RetrieveRecordChangeHistory(ctx, "accounts(x)", "6a3f1e2d-1111-4222-8333-444455556666"); err == nil {
		t.Error("bad entity set accepted")
	}
	if _, err := c.RetrieveRecordChangeHistory(ctx, "accounts", "x'"); err == nil {
		t.Error("bad record id accepted")
	}
}

// FuzzChangesFromDetail: no panic; changes come sorted, one per attribute,
// never an annotation. The seeds run with every go test.
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
