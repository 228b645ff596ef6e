package provider

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr/xattr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

func timestamp(s string) timestampValue {
	v, _ := timestampType{}.ValueFromString(context.Background(), types.StringValue(s))
	return v.(timestampValue)
}

func unknownTimestamp() timestampValue {
	v, _ := timestampType{}.ValueFromString(context.Background(), types.StringUnknown())
	return v.(timestampValue)
}

func duration(s string) positiveDurationValue {
	v, _ := positiveDurationType{}.ValueFromString(context.Background(), types.StringValue(s))
	return v.(positiveDurationValue)
}

func validate(v xattr.ValidateableAttribute, attribute string) diag.Diagnostics {
	var resp xattr.ValidateAttributeResponse
	v.ValidateAttribute(context.Background(), xattr.ValidateAttributeRequest{Path: path.Root(attribute)}, &resp)
	return resp.Diagnostics
}

// timestampType accepts exactly what time.Parse(time.RFC3339) accepts, the
// parser the data sources used before timetypes, and says why it refuses.
func TestTimestampValidation(t *testing.T) {
	for _, s := range []string{
		"2026-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00.123Z", "2026-01-01T00:00:00-00:00",
		"yesterday", "2026-01-01", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "", "2026-13-01T00:00:00Z",
	} {
		_, parseErr := time.Parse(time.RFC3339, s)
		diags := validate(timestamp(s), "from")
		if diags.HasError() != (parseErr != nil) {
			t.Errorf("%q: refused = %v, time.Parse error = %v", s, diags.HasError(), parseErr)
			continue
		}
		if parseErr != nil {
			want := `from must be an RFC 3339 timestamp such as 2026-01-01T00:00:00Z, got "` + s + `".`
			if got := diags.Errors()[0].Detail(); got != want {
				t.Errorf("%q: detail %q, want %q", s, got, want)
			}
		}
	}
	for _, v := range []timestampValue{{}, unknownTimestamp()} {
		if diags := validate(v, "from"); diags.HasError() {
			t.Errorf("null or unknown value refused: %v", diags)
		}
	}
}

// positiveDurationType accepts what time.ParseDuration accepts above zero,
// as the hand-written validator did; days are refused with a hint.
func TestPositiveDurationValidation(t *testing.T) {
	for s, ok := range map[string]bool{
		"24h": true, "90m": true, "1h30m": true, "0.5h": true, "168h": true,
		"1 day": false, "7d": false, "0s": false, "-1h": false, "": false, "24": false,
	} {
		diags := validate(duration(s), "lookback")
		if diags.HasError() == ok {
			t.Errorf("%q: refused = %v, want ok = %v", s, diags.HasError(), ok)
			continue
		}
		if !ok {
			detail := diags.Errors()[0].Detail()
			if !strings.HasPrefix(detail, "lookback must be a positive duration such as 24h or 90m") ||
				!strings.Contains(detail, "168h") || !strings.Contains(detail, `"`+s+`"`) {
				t.Errorf("%q: detail %q", s, detail)
			}
		}
	}
}

// The custom types build their own values from Terraform, so that the
// validation above is the one the framework runs.
func TestTimeTypesFromTerraform(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []basetypes.StringTypable{timestampType{}, positiveDurationType{}} {
		value, err := typ.ValueFromTerraform(ctx, tftypes.NewValue(tftypes.String, "24h"))
		if err != nil {
			t.Fatal(err)
		}
		if !value.Type(ctx).Equal(typ) {
			t.Errorf("%s built a %T", typ, value)
		}
		if typ.Equal(types.StringType) || !typ.Equal(typ) {
			t.Errorf("%s: wrong type equality", typ)
		}
		null, err := typ.ValueFromTerraform(ctx, tftypes.NewValue(tftypes.String, nil))
		if err != nil || !null.IsNull() {
			t.Errorf("%s: null gives %v, %v", typ, null, err)
		}
	}
	equal, diags := timestamp("2026-01-01T00:00:00Z").StringSemanticEquals(ctx, timestamp("2026-01-01T00:00:00.000Z"))
	if diags.HasError() || !equal {
		t.Errorf("the same instant written twice: equal = %v, %v", equal, diags)
	}
	equal, diags = duration("60m").StringSemanticEquals(ctx, duration("1h"))
	if diags.HasError() || !equal {
		t.Errorf("60m and 1h: equal = %v, %v", equal, diags)
	}
}

func TestCheckWindowOrder(t *testing.T) {
	for _, tc := range []struct {
		from, to timestampValue
		refused  bool
	}{
		{timestamp("2026-03-01T00:00:00Z"), timestamp("2026-01-01T00:00:00Z"), true},
		{timestamp("2026-01-01T00:00:00Z"), timestamp("2026-01-01T00:00:00Z"), false},
		{timestamp("2026-01-01T02:00:00+02:00"), timestamp("2026-01-01T00:00:00Z"), false},
		{timestamp("2026-01-01T00:00:00Z"), timestampValue{}, false},
		{timestamp("2026-01-01T00:00:00Z"), unknownTimestamp(), false},
	} {
		var diags diag.Diagnostics
		checkWindowOrder(tc.from, tc.to, &diags)
		if diags.HasError() != tc.refused {
			t.Errorf("%s .. %s: refused = %v", tc.from, tc.to, diags.HasError())
		}
	}
	var diags diag.Diagnostics
	checkWindowOrder(timestamp("2026-03-01T00:00:00Z"), timestamp("2026-01-01T00:00:00Z"), &diags)
	if want := "to (2026-01-01T00:00:00Z) is before from (2026-03-01T00:00:00Z). Swap them, or widen the window."; diags.Errors()[0].Detail() != want {
		t.Errorf("detail %q", diags.Errors()[0].Detail())
	}
}

func TestAuditLogSearchRequestWindow(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lookback := auditLogSearchModel{Lookback: duration("90m")}
	r, err := lookback.request(now)
	if err != nil || !r.From.Equal(now.Add(-90*time.Minute)) || !r.To.Equal(now) {
		t.Errorf("lookback 90m: %v .. %v, %v", r.From, r.To, err)
	}
	open := auditLogSearchModel{From: timestamp("2026-04-01T00:00:00Z")}
	r, err = open.request(now)
	if err != nil || r.From.Format(time.RFC3339) != "2026-04-01T00:00:00Z" || !r.To.Equal(now) {
		t.Errorf("from only: %v .. %v, %v", r.From, r.To, err)
	}
	closed := auditLogSearchModel{From: timestamp("2026-04-01T00:00:00Z"), To: timestamp("2026-04-02T00:00:00+02:00")}
	r, err = closed.request(now)
	if err != nil || r.To.UTC().Format(time.RFC3339) != "2026-04-01T22:00:00Z" {
		t.Errorf("from and to: %v .. %v, %v", r.From, r.To, err)
	}
}

func TestAuditRecordsQuery(t *testing.T) {
	m := auditRecordsModel{From: timestamp("2026-04-01T00:00:00Z"), Limit: types.Int64Value(5),
		Operations: []types.String{types.StringValue("update")}, Actions: []types.String{types.StringValue("104")}}
	q, err := m.query()
	if err != nil {
		t.Fatal(err)
	}
	if q.From == nil || q.From.Format(time.RFC3339) != "2026-04-01T00:00:00Z" || q.To != nil || q.Limit != 5 ||
		len(q.Operations) != 1 || len(q.Actions) != 1 || q.Actions[0] != 104 {
		t.Errorf("query = %+v", q)
	}
	if q, _ := (&auditRecordsModel{}).query(); q.Limit != defaultAuditLimit || q.From != nil {
		t.Errorf("empty configuration: %+v", q)
	}
}

// validateDataSourceConfig runs the provider's plan-time validation of a data
// source configuration with the given attributes set, as Terraform would.
func validateDataSourceConfig(t *testing.T, ds datasource.DataSource, typeName string, set map[string]tftypes.Value) []*tfprotov6.Diagnostic {
	t.Helper()
	ctx := context.Background()
	var schemaResp datasource.SchemaResponse
	ds.Schema(ctx, datasource.SchemaRequest{}, &schemaResp)
	objectType, ok := schemaResp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatal("the schema is not an object")
	}
	values := map[string]tftypes.Value{}
	for name, typ := range objectType.AttributeTypes {
		values[name] = tftypes.NewValue(typ, nil)
	}
	maps.Copy(values, set)
	config, err := tfprotov6.NewDynamicValue(objectType, tftypes.NewValue(objectType, values))
	if err != nil {
		t.Fatal(err)
	}
	server := providerserver.NewProtocol6(New("test")())()
	resp, err := server.ValidateDataResourceConfig(ctx, &tfprotov6.ValidateDataResourceConfigRequest{TypeName: typeName, Config: &config})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Diagnostics
}

// A refused time value is reported once, in the provider's words, although
// both the type and ValidateConfig read it.
func TestBadTimeValuesReportedOnce(t *testing.T) {
	for _, tc := range []struct {
		ds       datasource.DataSource
		typeName string
		set      map[string]tftypes.Value
		want     string
	}{
		{newAuditRecordsDataSource(), "dynamics365_audit_records",
			map[string]tftypes.Value{"from": tftypes.NewValue(tftypes.String, "yesterday")}, `from must be an RFC 3339 timestamp`},
		{newAuditLogSearchDataSource(), "dynamics365_audit_log_search",
			map[string]tftypes.Value{"lookback": tftypes.NewValue(tftypes.String, "-1h")}, `lookback must be a positive duration`},
		{newAuditLogSearchDataSource(), "dynamics365_audit_log_search",
			map[string]tftypes.Value{"from": tftypes.NewValue(tftypes.String, "2026-01-01"),
				"to": tftypes.NewValue(tftypes.String, "2025-01-01T00:00:00Z")}, `from must be an RFC 3339 timestamp`},
	} {
		diags := validateDataSourceConfig(t, tc.ds, tc.typeName, tc.set)
		if len(diags) != 1 || !strings.HasPrefix(diags[0].Detail, tc.want) {
			var got []string
			for _, d := range diags {
				got = append(got, d.Summary+": "+d.Detail)
			}
			t.Errorf("%s %v: diagnostics %q, want one starting %q", tc.typeName, tc.set, got, tc.want)
		}
	}
	if diags := validateDataSourceConfig(t, newAuditRecordsDataSource(), "dynamics365_audit_records", map[string]tftypes.Value{
		"from": tftypes.NewValue(tftypes.String, "2026-01-01T00:00:00Z"), "to": tftypes.NewValue(tftypes.String, "2026-02-01T00:00:00Z"),
	}); len(diags) != 0 {
		t.Errorf("a good window is refused: %v", diags)
	}
}
