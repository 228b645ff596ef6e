package provider

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// environment is an organization row with a distinct value in every setting.
func environment() *orgSettings {
	return &orgSettings{
		OrganizationID: "00000000-0000-0000-0000-000000000001", IsAuditEnabled: true,
		IsUserAccessAuditEnabled: false, IsReadAuditEnabled: true,
		AuditRetentionPeriodV2: 90, UserAccessAuditingInterval: 4,
	}
}

func patchJSON(t *testing.T, p orgPatch) string {
	t.Helper()
	return jsonOf(t, p)
}

// Each descriptor points at the model field tagged with its attribute and
// at the dataverse fields of its column, and the table covers every field.
func TestOrganizationSettingsTableIsConsistent(t *testing.T) {
	valuesType := reflect.TypeFor[organizationAuditSettingsValues]()
	if got, want := len(organizationSettings), valuesType.NumField(); got != want {
		t.Fatalf("%d descriptors for %d model fields", got, want)
	}
	if got, want := len(organizationSettings), reflect.TypeFor[orgPatch]().NumField(); got != want {
		t.Fatalf("%d descriptors for %d patch fields", got, want)
	}
	var names []string
	for _, s := range organizationSettings {
		name := s.attributeName()
		names = append(names, name)
		column := columnOf(t, s)

		// The model accessor returns the field tagged with the attribute name.
		var m organizationAuditSettingsValues
		s.setFromEnvironment(&m, environment())
		for i := range valuesType.NumField() {
			field := valuesType.Field(i)
			isSet := !reflect.ValueOf(m).Field(i).Interface().(attr.Value).IsNull()
			if (field.Tag.Get("tfsdk") == name) != isSet {
				t.Errorf("%s: setting it from the environment set field %s: %v", name, field.Name, isSet)
			}
		}

		// The patch accessor writes exactly the setting's column.
		var p orgPatch
		s.copyCurrent(&p, environment())
		var sent map[string]any
		if err := json.Unmarshal([]byte(patchJSON(t, p)), &sent); err != nil {
			t.Fatal(err)
		}
		if len(sent) != 1 || sent[column] == nil {
			t.Errorf("%s: a patch of this setting sends %v, want only %q", name, sent, column)
		}

		// The current accessor reads the setting's column.
		var fromWire orgSettings
		if err := json.Unmarshal([]byte(`{"`+column+`": `+jsonOf(t, sent[column])+`}`), &fromWire); err != nil {
			t.Fatal(err)
		}
		var fromWirePatch orgPatch
		s.copyCurrent(&fromWirePatch, &fromWire)
		if patchJSON(t, fromWirePatch) != patchJSON(t, p) {
			t.Errorf("%s: reading column %s gives %s, want %s", name, column, patchJSON(t, fromWirePatch), patchJSON(t, p))
		}

		// Both descriptions name the column.
		for kind, desc := range map[string]string{
			"resource":    s.resourceAttribute().GetMarkdownDescription(),
			"data source": s.dataSourceAttribute().GetMarkdownDescription(),
		} {
			if !strings.Contains(desc, "`"+column+"`") {
				t.Errorf("%s: the %s description does not name the column %s: %q", name, kind, column, desc)
			}
		}
	}
	if sorted := slices.Compact(sortedCopy(names)); len(sorted) != len(names) {
		t.Errorf("attribute names are not unique: %v", names)
	}
}

func columnOf(t *testing.T, s orgSetting) string {
	t.Helper()
	v := reflect.ValueOf(s).Elem().FieldByName("column")
	if !v.IsValid() || v.String() == "" {
		t.Fatalf("%s has no column", s.attributeName())
	}
	return v.String()
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestOrganizationSettingsFromEnvironment(t *testing.T) {
	var m organizationAuditSettingsModel
	m.setFromEnvironment(environment())
	want := organizationAuditSettingsValues{
		AuditEnabled: types.BoolValue(true), UserAccessAuditEnabled: types.BoolValue(false),
		ReadAuditEnabled: types.BoolValue(true), RetentionPeriodDays: types.Int64Value(90),
		UserAccessAuditIntervalHours: types.Int64Value(4),
	}
	if m.organizationAuditSettingsValues != want || m.ID.ValueString() != environment().OrganizationID {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

// Only configured, known values that differ from the environment are sent.
func TestOrganizationChangesFrom(t *testing.T) {
	cfg := organizationAuditSettingsValues{
		AuditEnabled:                 types.BoolValue(true), // same as the environment
		UserAccessAuditEnabled:       types.BoolValue(true), // differs
		ReadAuditEnabled:             types.BoolUnknown(),   // not known yet
		RetentionPeriodDays:          types.Int64Value(-1),  // differs
		UserAccessAuditIntervalHours: types.Int64Null(),     // not managed
	}
	got := patchJSON(t, cfg.changesFrom(environment()))
	if want := `{"isuseraccessauditenabled":true,"auditretentionperiodv2":-1}`; got != want {
		t.Errorf("changes = %s, want %s", got, want)
	}
	if got, want := cfg.managedAttributes(), []string{"audit_enabled", "read_audit_enabled", "retention_period_days", "user_access_audit_enabled"}; !slices.Equal(got, want) {
		t.Errorf("managed = %v, want %v", got, want)
	}
	if got := patchAttributes(cfg.changesFrom(environment())); !slices.Equal(got, []string{"user_access_audit_enabled", "retention_period_days"}) {
		t.Errorf("patch attributes = %v", got)
	}
}

// The value before the first change is kept; later changes do not replace it.
func TestOrganizationRememberOriginals(t *testing.T) {
	var priv orgPrivateState
	on, days := true, int64(30)
	rememberOriginals(&priv.Originals, orgPatch{IsUserAccessAuditEnabled: &on}, environment())
	second := environment()
	second.IsUserAccessAuditEnabled = true
	rememberOriginals(&priv.Originals, orgPatch{IsUserAccessAuditEnabled: &on, AuditRetentionPeriodV2: &days}, second)
	if got, want := patchJSON(t, priv.Originals), `{"isuseraccessauditenabled":false,"auditretentionperiodv2":90}`; got != want {
		t.Errorf("originals = %s, want %s", got, want)
	}
}

func TestOrganizationDestroyPatches(t *testing.T) {
	all := allSettings(environment())
	if got, want := patchJSON(t, all), `{"isauditenabled":true,"isuseraccessauditenabled":false,"isreadauditenabled":true,"auditretentionperiodv2":90,"useraccessauditinginterval":4}`; got != want {
		t.Errorf("allSettings = %s, want %s", got, want)
	}
	managed := []string{"read_audit_enabled", "retention_period_days", "user_access_audit_enabled"}
	if got, want := patchJSON(t, onlyManaged(all, managed)), `{"isuseraccessauditenabled":false,"isreadauditenabled":true,"auditretentionperiodv2":90}`; got != want {
		t.Errorf("onlyManaged = %s, want %s", got, want)
	}
	// disable turns off the managed switches and leaves numbers alone.
	disabled := disabledManaged(managed)
	if got, want := patchJSON(t, disabled), `{"isuseraccessauditenabled":false,"isreadauditenabled":false}`; got != want {
		t.Errorf("disabledManaged = %s, want %s", got, want)
	}
	// user access auditing is already off in the environment.
	if got, want := patchJSON(t, withoutCurrent(disabled, environment())), `{"isreadauditenabled":false}`; got != want {
		t.Errorf("withoutCurrent = %s, want %s", got, want)
	}
	if !withoutCurrent(all, environment()).IsEmpty() {
		t.Error("the environment's own values are not a change")
	}
}

func TestRetentionDaysValidator(t *testing.T) {
	for days, ok := range map[int64]bool{-1: true, 1: true, 90: true, 365000: true, 0: false, -2: false, 365001: false} {
		var resp validator.Int64Response
		retentionDaysValidator().ValidateInt64(context.Background(), validator.Int64Request{
			Path: path.Root("retention_period_days"), ConfigValue: types.Int64Value(days)}, &resp)
		if resp.Diagnostics.HasError() == ok {
			t.Errorf("%d: errors %v, want ok = %v", days, resp.Diagnostics, ok)
			continue
		}
		if !ok {
			if n := resp.Diagnostics.ErrorsCount(); n != 1 {
				t.Errorf("%d: %d errors, want one", days, n)
			}
			detail := resp.Diagnostics.Errors()[0].Detail()
			if !strings.Contains(detail, "retention_period_days must be -1 (keep forever) or between 1 and 365000 days, got ") ||
				!strings.Contains(detail, "Use -1 to keep audit logs forever") {
				t.Errorf("%d: detail %q", days, detail)
			}
		}
	}
	var resp validator.Int64Response
	retentionDaysValidator().ValidateInt64(context.Background(), validator.Int64Request{
		Path: path.Root("retention_period_days"), ConfigValue: types.Int64Unknown()}, &resp)
	if resp.Diagnostics.HasError() {
		t.Errorf("an unknown value is refused: %v", resp.Diagnostics)
	}
}
