package provider

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// Each descriptor names a schema attribute, the model field with that
// tfsdk tag, and a Dataverse setting; together they cover every setting once.
func TestTableAuditSettingsDescribeTheSchemaAndModel(t *testing.T) {
	s := entityAuditSettingsSchema(context.Background())
	fields := map[dataverse.TableAuditField]bool{}
	for _, d := range tableAuditSettings {
		a, ok := s.Attributes[d.attribute].(schema.BoolAttribute)
		if !ok || !a.Optional || !a.Computed || !strings.HasPrefix(a.MarkdownDescription, d.description) {
			t.Errorf("%s: schema attribute %#v", d.attribute, s.Attributes[d.attribute])
		}
		if fields[d.field] {
			t.Errorf("%s: %s described twice", d.attribute, d.field)
		}
		fields[d.field] = true
		if d.lockable() != (d.field == dataverse.TableAuditEnabled) {
			t.Errorf("%s: lockable = %v", d.attribute, d.lockable())
		}
		var m entityAuditSettingsModel
		ptr := d.value(&m)
		mt := reflect.TypeOf(m)
		for i := range mt.NumField() {
			if mt.Field(i).Tag.Get("tfsdk") == d.attribute {
				if reflect.ValueOf(&m).Elem().Field(i).Addr().Interface() != ptr {
					t.Errorf("%s: value() is not the model field tagged %q", d.attribute, d.attribute)
				}
			}
		}
	}
	for _, f := range dataverse.TableAuditFields {
		if !fields[f] {
			t.Errorf("%s has no descriptor", f)
		}
	}
}

func bools(pairs ...any) map[dataverse.TableAuditField]bool {
	out := map[dataverse.TableAuditField]bool{}
	for i := 0; i < len(pairs); i += 2 {
		out[pairs[i].(dataverse.TableAuditField)] = pairs[i+1].(bool)
	}
	return out
}

// The private state written by earlier versions still reads, and what is
// written now has the same shape.
func TestEntityPrivateStateFormat(t *testing.T) {
	const stored = `{"originals":{"audit_enabled":false,"retrieve_multiple_audit_enabled":true,"attributes":{"revenue":false}},` +
		`"managed":["audit_enabled","retrieve_multiple_audit_enabled"],"imported":true}`
	var priv entityPrivateState
	if err := json.Unmarshal([]byte(stored), &priv); err != nil {
		t.Fatal(err)
	}
	want := entityPrivateState{
		Originals: entityTarget{
			Table:      bools(dataverse.TableAuditEnabled, false, dataverse.TableRetrieveMultipleAuditEnabled, true),
			Attributes: map[string]bool{"revenue": false},
		},
		Managed:  []string{"audit_enabled", "retrieve_multiple_audit_enabled"},
		Imported: true,
	}
	if !reflect.DeepEqual(priv, want) {
		t.Fatalf("decoded %+v\nwant %+v", priv, want)
	}
	out, err := json.Marshal(priv)
	if err != nil {
		t.Fatal(err)
	}
	var again, storedAny any
	_ = json.Unmarshal(out, &again)
	_ = json.Unmarshal([]byte(stored), &storedAny)
	if !reflect.DeepEqual(again, storedAny) {
		t.Errorf("encoded %s\nwant the stored shape %s", out, stored)
	}
	if out, _ := json.Marshal(entityTarget{}); string(out) != `{}` {
		t.Errorf("empty target = %s", out)
	}
	var bad entityTarget
	if err := json.Unmarshal([]byte(`{"audit_enabled":"yes"}`), &bad); err == nil {
		t.Error("a non-bool value decoded")
	}
}

func TestRecordOriginalsKeepsTheFirstValue(t *testing.T) {
	var o entityTarget
	o.recordOriginals(bools(dataverse.TableAuditEnabled, false), map[string]bool{"a": true})
	o.recordOriginals(bools(dataverse.TableAuditEnabled, true, dataverse.TableRetrieveAuditEnabled, true), map[string]bool{"a": false, "b": false})
	want := entityTarget{Table: bools(dataverse.TableAuditEnabled, false, dataverse.TableRetrieveAuditEnabled, true), Attributes: map[string]bool{"a": true, "b": false}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
}

func TestDestroyTarget(t *testing.T) {
	priv := entityPrivateState{
		Originals: entityTarget{Table: bools(dataverse.TableAuditEnabled, false, dataverse.TableRetrieveAuditEnabled, true),
			Attributes: map[string]bool{"revenue": false}},
		Managed: []string{"audit_enabled", "retrieve_multiple_audit_enabled"},
	}
	state := map[string]bool{"revenue": true, "name": true}
	cases := []struct {
		policy string
		want   entityTarget
	}{
		// Only managed settings with a recorded original; only columns with one.
		{onDestroyRestore, entityTarget{Table: bools(dataverse.TableAuditEnabled, false), Attributes: map[string]bool{"revenue": false}}},
		// Every managed setting and every column in the state, off.
		{onDestroyDisable, entityTarget{Table: bools(dataverse.TableAuditEnabled, false, dataverse.TableRetrieveMultipleAuditEnabled, false),
			Attributes: map[string]bool{"revenue": false, "name": false}}},
		{onDestroyRetain, entityTarget{}},
	}
	for _, tc := range cases {
		if got := destroyTarget(tc.policy, priv, state); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v\nwant %+v", tc.policy, got, tc.want)
		}
	}
	if !destroyTarget(onDestroyRestore, entityPrivateState{}, nil).isEmpty() {
		t.Error("nothing managed: want an empty target")
	}
}

func TestPublishPolicyForUpdate(t *testing.T) {
	for _, tc := range []struct {
		publish, published bool
		want               publishPolicy
	}{
		{true, true, publishIfWritten},
		{true, false, publishEvenIfUnchanged},
		{false, false, publishIfWritten},
		{false, true, publishIfWritten},
	} {
		plan := entityAuditSettingsModel{Publish: types.BoolValue(tc.publish)}
		state := entityAuditSettingsModel{Published: types.BoolValue(tc.published)}
		if got := publishPolicyForUpdate(&plan, &state); got != tc.want {
			t.Errorf("publish=%v published=%v: %v, want %v", tc.publish, tc.published, got, tc.want)
		}
	}
}

func sampleAuditInfo() *dataverse.EntityAuditInfo {
	return &dataverse.EntityAuditInfo{
		LogicalName:                    "account",
		IsManaged:                      true,
		IsAuditEnabled:                 dataverse.BooleanManagedProperty{Value: true, CanBeChanged: false},
		IsRetrieveAuditEnabled:         false,
		IsRetrieveMultipleAuditEnabled: true,
		Attributes: map[string]*dataverse.AttributeAuditInfo{
			"name":          {LogicalName: "name", IsAuditEnabled: dataverse.BooleanManagedProperty{Value: true, CanBeChanged: true}},
			"createdbyname": {LogicalName: "createdbyname", AttributeOf: "createdby"},
			"versionnumber": {LogicalName: "versionnumber", IsManaged: true},
		},
	}
}

func diagTexts(d diag.Diagnostics) []string {
	var out []string
	for _, x := range d {
		s := x.Summary() + ": " + x.Detail()
		if wp, ok := x.(diag.DiagnosticWithPath); ok {
			s = wp.Path().String() + " " + s
		}
		out = append(out, s)
	}
	return out
}

func TestCheckEntityTarget(t *testing.T) {
	info := sampleAuditInfo()
	// Locked and already as wanted, other settings free: no error.
	ok := entityTarget{Table: bools(dataverse.TableAuditEnabled, true, dataverse.TableRetrieveAuditEnabled, true),
		Attributes: map[string]bool{"name": false, "createdbyname": false, "versionnumber": false}}
	if d := checkEntityTarget("https://org", info, ok); d.HasError() {
		t.Errorf("no change needed on locked settings: %v", diagTexts(d))
	}
	bad := entityTarget{Table: bools(dataverse.TableAuditEnabled, false),
		Attributes: map[string]bool{"nosuch": true, "createdbyname": true, "versionnumber": true}}
	got := diagTexts(checkEntityTarget("https://org", info, bad))
	want := []string{
		`audit_enabled Table audit setting is locked: Auditing of table "account" cannot be changed in https://org: its IsAuditEnabled managed property has CanBeChanged = false (the solution that owns the table locks it). Auditing is on there; remove audit_enabled from this resource or set it to true.`,
		`attributes["createdbyname"] Column cannot be audited: Column "createdbyname" of table "account" is a virtual column derived from "createdby" and cannot be audited. Audit "createdby" instead.`,
		`attributes["versionnumber"] Column cannot be audited: Auditing of column "versionnumber" of table "account" cannot be changed: its IsAuditEnabled managed property has CanBeChanged = false (system columns such as the primary key and versionnumber are never audited). It is off; remove the column from attributes.`,
		`attributes["nosuch"] Unknown column: Table "account" has no column "nosuch" in https://org. Use the column's logical name (lowercase, e.g. name or emailaddress1), not its display name.`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Unmanaged: CanBeChanged = false does not lock it, so only the virtual
	// column is refused at plan.
	info.IsManaged, info.Attributes["versionnumber"].IsManaged = false, false
	got = diagTexts(checkEntityTarget("https://org", info, bad))
	if len(got) != 2 || !strings.Contains(got[0], "createdbyname") || !strings.Contains(got[1], "nosuch") {
		t.Errorf("unmanaged: got\n%s", strings.Join(got, "\n"))
	}
}

func TestTableChangeNeededAndUnmetTarget(t *testing.T) {
	info := sampleAuditInfo()
	same := entityTarget{Table: bools(dataverse.TableAuditEnabled, true, dataverse.TableRetrieveMultipleAuditEnabled, true), Attributes: map[string]bool{"name": true}}
	if tableChangeNeeded(info, same) || len(unmetTarget(info, same)) != 0 {
		t.Errorf("matching target: change needed %v, unmet %v", tableChangeNeeded(info, same), unmetTarget(info, same))
	}
	differs := entityTarget{Table: bools(dataverse.TableRetrieveAuditEnabled, true), Attributes: map[string]bool{"name": false, "gone": true}}
	if !tableChangeNeeded(info, differs) {
		t.Error("retrieve_audit_enabled differs: no change needed")
	}
	if got := strings.Join(unmetTarget(info, differs), ","); got != `retrieve_audit_enabled,attributes["gone"],attributes["name"]` {
		t.Errorf("unmet = %s", got)
	}
	if tableChangeNeeded(info, entityTarget{Attributes: map[string]bool{"name": false}}) {
		t.Error("a column change is not a table change")
	}
}

func TestModelTargetAndRefresh(t *testing.T) {
	m := entityAuditSettingsModel{
		tableAuditValues: tableAuditValues{
			AuditEnabled:                 types.BoolValue(false),
			RetrieveAuditEnabled:         types.BoolNull(),
			RetrieveMultipleAuditEnabled: types.BoolUnknown(),
		},
		Attributes: types.MapValueMust(types.BoolType, map[string]attr.Value{
			"name": types.BoolValue(false), "later": types.BoolUnknown(), "gone": types.BoolValue(true)}),
	}
	target, d := m.target()
	if d.HasError() {
		t.Fatal(d)
	}
	want := entityTarget{Table: bools(dataverse.TableAuditEnabled, false), Attributes: map[string]bool{"name": false, "gone": true}}
	if !reflect.DeepEqual(target, want) {
		t.Errorf("target = %+v\nwant %+v", target, want)
	}
	if got := strings.Join(m.managedTableAttributes(), ","); got != "audit_enabled,retrieve_multiple_audit_enabled" {
		t.Errorf("managed = %s", got)
	}

	m.refreshFrom(sampleAuditInfo())
	if m.ID.ValueString() != "account" || !m.AuditEnabled.ValueBool() || m.RetrieveAuditEnabled.ValueBool() || !m.RetrieveMultipleAuditEnabled.ValueBool() {
		t.Errorf("table values = %v %v %v", m.AuditEnabled, m.RetrieveAuditEnabled, m.RetrieveMultipleAuditEnabled)
	}
	// Listed columns get their current value; a column that no longer exists drops out.
	wantCols := types.MapValueMust(types.BoolType, map[string]attr.Value{"name": types.BoolValue(true)})
	if !m.Attributes.Equal(wantCols) {
		t.Errorf("attributes = %v", m.Attributes)
	}
	if got := currentTableValues(sampleAuditInfo()); !reflect.DeepEqual(got.Table, bools(dataverse.TableAuditEnabled, true,
		dataverse.TableRetrieveAuditEnabled, false, dataverse.TableRetrieveMultipleAuditEnabled, true)) {
		t.Errorf("current values = %+v", got)
	}
}

func TestAddAuditChangeError(t *testing.T) {
	apiErr := &dataverse.Error{StatusCode: 400, Message: "bad"}
	cases := []struct {
		err  error
		want string
	}{
		{&dataverse.AuditWriteError{Table: "account", Step: dataverse.ReadingDefinition, Err: apiErr}, "Cannot read the definition of table account"},
		{&dataverse.AuditWriteError{Table: "account", Step: dataverse.DecodingDefinition, Err: errors.New("x")}, "Unexpected table definition: Cannot read the audit fields of table account: x"},
		{&dataverse.AuditWriteError{Table: "account", Step: dataverse.EditingDefinition, Path: []string{"IsAuditEnabled", "Value"}, Err: errors.New("x")}, "Cannot change the table definition: table account, IsAuditEnabled.Value: x"},
		{&dataverse.AuditWriteError{Table: "account", Step: dataverse.WritingDefinition, Err: apiErr}, "Cannot update the audit settings of table account"},
		{&dataverse.AuditWriteError{Table: "account", Column: "name", Step: dataverse.ReadingDefinition, Err: apiErr}, "Cannot read the definition of column account.name"},
		{&dataverse.AuditWriteError{Table: "account", Column: "name", Step: dataverse.DecodingDefinition, Err: errors.New("x")}, "Unexpected column definition: Cannot read the audit field of column account.name: x"},
		{&dataverse.AuditWriteError{Table: "account", Column: "name", Step: dataverse.EditingDefinition, Err: errors.New("x")}, "Cannot change the column definition: column account.name: x"},
		{&dataverse.AuditWriteError{Table: "account", Column: "name", Step: dataverse.WritingDefinition, Err: apiErr}, "Cannot update the audit setting of column account.name"},
		{&dataverse.AuditLockedError{Table: "account", Column: "name", Field: dataverse.TableAuditEnabled}, `attributes["name"] Column cannot be audited`},
		{&dataverse.AuditLockedError{Table: "account", Field: dataverse.TableAuditEnabled}, "audit_enabled Table audit setting is locked"},
	}
	for _, tc := range cases {
		var d diag.Diagnostics
		addAuditChangeError(&d, "https://org", "account", tc.err)
		if got := diagTexts(d); len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("%v: got %q, want %q…", tc.err, got, tc.want)
		}
	}
	var d diag.Diagnostics
	addAuditChangeError(&d, "https://org", "account", apiErr)
	if !d.HasError() || d[0].Summary() != "Cannot update the audit settings of table account" {
		t.Errorf("plain error: %v", diagTexts(d))
	}
}
