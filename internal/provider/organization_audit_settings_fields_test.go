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
	days := int64(90)
	return &orgSettings{
		OrganizationID: "00000000-0000-0000-0000-000000000001", IsAuditEnabled: true,
		IsUserAccessAuditEnabled: false, IsReadAuditEnabled: true,
		AuditRetentionPeriodV2: &days, UserAccessAuditingInterval: 4,
	}
}

// neverSetRetention is environment() where nobody ever set a retention.
func neverSetRetention() *orgSettings {
	e := environment()
	e.AuditRetentionPeriodV2 = nil
	return e
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
		if s.columnName() != column {
			t.Errorf("%s: columnName() = %q, want %q", name, s.columnName(), column)
		}

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
	rememberOriginals(&priv, orgPatch{IsUserAccessAuditEnabled: &on}, environment())
	second := environment()
	second.IsUserAccessAuditEnabled = true
	rememberOriginals(&priv, orgPatch{IsUserAccessAuditEnabled: &on, AuditRetentionPeriodV2: &days}, second)
	if got, want := patchJSON(t, priv.Originals), `{"isuseraccessauditenabled":false,"auditretentionperiodv2":90}`; got != want {
		t.Errorf("originals = %s, want %s", got, want)
	}
	if len(priv.NotSetOriginals) != 0 {
		t.Errorf("not set originals = %v", priv.NotSetOriginals)
	}
}

// A null original is remembered as not set, never as 0, and a later change
// (after this resource set a value) does not replace it.
func TestOrganizationRememberNotSetOriginal(t *testing.T) {
	var priv orgPrivateState
	days := int64(30)
	rememberOriginals(&priv, orgPatch{AuditRetentionPeriodV2: &days}, neverSetRetention())
	later := int64(60)
	rememberOriginals(&priv, orgPatch{AuditRetentionPeriodV2: &later}, environment())
	if got := patchJSON(t, priv.Originals); got != `{}` {
		t.Errorf("originals = %s, want {}", got)
	}
	if !slices.Equal(priv.NotSetOriginals, []string{"retention_period_days"}) {
		t.Errorf("not set originals = %v", priv.NotSetOriginals)
	}
	originals, notSet := importOriginals(neverSetRetention())
	if strings.Contains(patchJSON(t, originals), "auditretentionperiodv2") || !slices.Equal(notSet, []string{"retention_period_days"}) {
		t.Errorf("import originals = %s, not set %v", patchJSON(t, originals), notSet)
	}
}

// A null retention is null in the model, and configuring one is a change.
func TestOrganizationNotSetRetention(t *testing.T) {
	var m organizationAuditSettingsValues
	m.setFromEnvironment(neverSetRetention())
	if !m.RetentionPeriodDays.IsNull() {
		t.Errorf("retention = %v, want null", m.RetentionPeriodDays)
	}
	cfg := organizationAuditSettingsValues{RetentionPeriodDays: types.Int64Value(90)}
	if got := patchJSON(t, cfg.changesFrom(neverSetRetention())); got != `{"auditretentionperiodv2":90}` {
		t.Errorf("changes = %s", got)
	}
	days := int64(90)
	if withoutCurrent(orgPatch{AuditRetentionPeriodV2: &days}, neverSetRetention()).IsEmpty() {
		t.Error("a value over a null is not a change")
	}
}

func TestOrganizationDestroyPatches(t *testing.T) {
	all, _ := importOriginals(environment())
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

func TestIntervalHoursValidator(t *testing.T) {
	for hours, ok := range map[int64]bool{0: true, 4: true, 2147483647: true, -1: false, 2147483648: false, 99999999999: false} {
		var resp validator.Int64Response
		intervalHoursValidator().ValidateInt64(context.Background(), validator.Int64Request{
			Path: path.Root("user_access_audit_interval_hours"), ConfigValue: types.Int64Value(hours)}, &resp)
		if resp.Diagnostics.HasError() == ok {
			t.Errorf("%d: errors %v, want ok = %v", hours, resp.Diagnostics, ok)
		}
	}
}

func TestAdminCenterRetentionWarning(t *testing.T) {
	for days, warns := range map[int64]bool{-1: false, 2555: false, 24855: false, 24856: true, 365000: true} {
		var resp validator.Int64Response
		adminCenterRetention().ValidateInt64(context.Background(), validator.Int64Request{
			Path: path.Root("retention_period_days"), ConfigValue: types.Int64Value(days)}, &resp)
		if resp.Diagnostics.HasError() || (resp.Diagnostics.WarningsCount() == 1) != warns {
			t.Errorf("%d: %v, want a warning: %v", days, resp.Diagnostics, warns)
		}
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
