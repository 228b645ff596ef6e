package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// organizationAuditSettingsValues are the five organization settings as the
// resource and the data source both hold them (each model embeds this).
type organizationAuditSettingsValues struct {
	AuditEnabled                 types.Bool  `tfsdk:"audit_enabled"`
	UserAccessAuditEnabled       types.Bool  `tfsdk:"user_access_audit_enabled"`
	ReadAuditEnabled             types.Bool  `tfsdk:"read_audit_enabled"`
	RetentionPeriodDays          types.Int64 `tfsdk:"retention_period_days"`
	UserAccessAuditIntervalHours types.Int64 `tfsdk:"user_access_audit_interval_hours"`
}

type (
	orgSettings = dataverse.OrganizationAuditSettings
	orgPatch    = dataverse.OrganizationAuditSettingsPatch
)

// disableEffect says what on_destroy = "disable" does to a setting.
type disableEffect int

const (
	keptOnDisable disableEffect = iota
	// turnedOffOnDisable writes the zero value, false for a switch.
	turnedOffOnDisable
)

// orgSetting is what the organization resource and data source do with one
// setting, whatever its type. The implementation is orgField; the list is
// organizationSettings.
type orgSetting interface {
	attributeName() string
	columnName() string
	resourceAttribute() schema.Attribute
	dataSourceAttribute() dsschema.Attribute
	// setFromEnvironment puts the environment's value into the model.
	setFromEnvironment(m *organizationAuditSettingsValues, current *orgSettings)
	// isConfigured reports that the configuration sets the attribute, which
	// makes this resource manage it.
	isConfigured(m *organizationAuditSettingsValues) bool
	// addChange puts the configured value into p when it differs from current.
	addChange(p *orgPatch, m *organizationAuditSettingsValues, current *orgSettings)
	isInPatch(p orgPatch) bool
	// patchedValue is the value p sets, for messages.
	patchedValue(p orgPatch) string
	// isNotSet reports that the environment has no value (null) for the setting.
	isNotSet(current *orgSettings) bool
	// copyCurrent puts the environment's value into p; a null value is left out.
	copyCurrent(p *orgPatch, current *orgSettings)
	removeFromPatch(p *orgPatch)
	// removeIfCurrent drops the field from p when the environment has that value already.
	removeIfCurrent(p *orgPatch, current *orgSettings)
	// addDisabled puts the "off" value into p when disable turns this setting off.
	addDisabled(p *orgPatch)
}

// settingKind converts between the wire type T and the Terraform value type V
// and builds the schema attributes of that type.
type settingKind[T comparable, V attr.Value] struct {
	toValue             func(T) V
	nullValue           V
	fromValue           func(V) T
	resourceAttribute   func(description string, validators []validator.Int64) schema.Attribute
	dataSourceAttribute func(description string) dsschema.Attribute
}

var boolSetting = settingKind[bool, types.Bool]{
	toValue:   types.BoolValue,
	nullValue: types.BoolNull(),
	fromValue: types.Bool.ValueBool,
	resourceAttribute: func(description string, _ []validator.Int64) schema.Attribute {
		return managedBoolAttribute(description)
	},
	dataSourceAttribute: func(description string) dsschema.Attribute {
		return dsschema.BoolAttribute{Computed: true, MarkdownDescription: description}
	},
}

var int64Setting = settingKind[int64, types.Int64]{
	toValue:           types.Int64Value,
	nullValue:         types.Int64Null(),
	fromValue:         types.Int64.ValueInt64,
	resourceAttribute: managedInt64Attribute,
	dataSourceAttribute: func(description string) dsschema.Attribute {
		return dsschema.Int64Attribute{Computed: true, MarkdownDescription: description}
	},
}

// orgField describes one setting: its attribute, its column in the
// organizations table, its documentation and validation, what disable does
// to it, and where it lives in the model (V), the environment's row and a
// patch (T).
type orgField[T comparable, V attr.Value] struct {
	attribute string
	// column is the setting's column in `organizations`; the JSON tag of
	// the dataverse fields that current and patch point to.
	column string
	// description is the resource attribute's; the sentence about
	// unmanaged values is added by the kind.
	description           string
	dataSourceDescription string
	// int64Validators apply to int64 settings only.
	int64Validators []validator.Int64
	onDisable       disableEffect
	kind            settingKind[T, V]
	model           func(*organizationAuditSettingsValues) *V
	current         func(*orgSettings) *T // nil where the environment reports null
	patch           func(*orgPatch) **T
}

func (f *orgField[T, V]) attributeName() string { return f.attribute }

func (f *orgField[T, V]) columnName() string { return f.column }

func (f *orgField[T, V]) resourceAttribute() schema.Attribute {
	return f.kind.resourceAttribute(f.description, f.int64Validators)
}

func (f *orgField[T, V]) dataSourceAttribute() dsschema.Attribute {
	return f.kind.dataSourceAttribute(f.dataSourceDescription)
}

func (f *orgField[T, V]) setFromEnvironment(m *organizationAuditSettingsValues, current *orgSettings) {
	if value := f.current(current); value != nil {
		*f.model(m) = f.kind.toValue(*value)
	} else {
		*f.model(m) = f.kind.nullValue
	}
}

func (f *orgField[T, V]) isConfigured(m *organizationAuditSettingsValues) bool {
	return !(*f.model(m)).IsNull()
}

func (f *orgField[T, V]) addChange(p *orgPatch, m *organizationAuditSettingsValues, current *orgSettings) {
	configured := *f.model(m)
	if !known(configured) {
		return
	}
	if want, have := f.kind.fromValue(configured), f.current(current); have == nil || want != *have {
		*f.patch(p) = &want
	}
}

func (f *orgField[T, V]) isInPatch(p orgPatch) bool { return *f.patch(&p) != nil }

func (f *orgField[T, V]) patchedValue(p orgPatch) string {
	if value := *f.patch(&p); value != nil {
		return fmt.Sprint(*value)
	}
	return "null"
}

func (f *orgField[T, V]) isNotSet(current *orgSettings) bool { return f.current(current) == nil }

func (f *orgField[T, V]) copyCurrent(p *orgPatch, current *orgSettings) {
	if have := f.current(current); have != nil {
		value := *have
		*f.patch(p) = &value
	}
}

func (f *orgField[T, V]) removeFromPatch(p *orgPatch) { *f.patch(p) = nil }

func (f *orgField[T, V]) removeIfCurrent(p *orgPatch, current *orgSettings) {
	if target, have := *f.patch(p), f.current(current); target != nil && have != nil && *target == *have {
		*f.patch(p) = nil
	}
}

func (f *orgField[T, V]) addDisabled(p *orgPatch) {
	if f.onDisable == turnedOffOnDisable {
		var off T
		*f.patch(p) = &off
	}
}

// organizationSettings is the one list of the organization's audit settings,
// in schema order.
var organizationSettings = []orgSetting{
	&orgField[bool, types.Bool]{
		attribute: "audit_enabled", column: "isauditenabled",
		description:           "Start Auditing (`isauditenabled`): whether the environment records audit logs.",
		dataSourceDescription: "Whether auditing is on (`isauditenabled`).",
		onDisable:             turnedOffOnDisable,
		kind:                  boolSetting,
		model:                 func(m *organizationAuditSettingsValues) *types.Bool { return &m.AuditEnabled },
		current:               func(s *orgSettings) *bool { return &s.IsAuditEnabled },
		patch:                 func(p *orgPatch) **bool { return &p.IsAuditEnabled },
	},
	&orgField[bool, types.Bool]{
		attribute: "user_access_audit_enabled", column: "isuseraccessauditenabled",
		description:           "Audit user access (`isuseraccessauditenabled`): log when users access the environment.",
		dataSourceDescription: "Whether user access is logged (`isuseraccessauditenabled`).",
		onDisable:             turnedOffOnDisable,
		kind:                  boolSetting,
		model:                 func(m *organizationAuditSettingsValues) *types.Bool { return &m.UserAccessAuditEnabled },
		current:               func(s *orgSettings) *bool { return &s.IsUserAccessAuditEnabled },
		patch:                 func(p *orgPatch) **bool { return &p.IsUserAccessAuditEnabled },
	},
	&orgField[bool, types.Bool]{
		attribute: "read_audit_enabled", column: "isreadauditenabled",
		description: "Start read auditing (`isreadauditenabled`): send read, retrieve-multiple and export activity of " +
			"tables with single/multiple record auditing to the Microsoft Purview audit log. Works only while " +
			"`audit_enabled` is true.",
		dataSourceDescription: "Whether read auditing is on (`isreadauditenabled`).",
		onDisable:             turnedOffOnDisable,
		kind:                  boolSetting,
		model:                 func(m *organizationAuditSettingsValues) *types.Bool { return &m.ReadAuditEnabled },
		current:               func(s *orgSettings) *bool { return &s.IsReadAuditEnabled },
		patch:                 func(p *orgPatch) **bool { return &p.IsReadAuditEnabled },
	},
	&orgField[int64, types.Int64]{
		attribute: "retention_period_days", column: "auditretentionperiodv2",
		description: "How many days audit logs are kept (`auditretentionperiodv2`): `-1` keeps them forever, " +
			"otherwise 1 to 365000 (the Web API's range). The admin center offers 30, 90, 180, 365, 730 and 2555, " +
			"and custom values up to 24855 days; the plan warns above that. Null where the environment never had a " +
			"retention set; null is never written back.",
		dataSourceDescription: "Days audit logs are kept (`auditretentionperiodv2`); `-1` is forever; null where " +
			"the environment never had a retention set.",
		int64Validators: []validator.Int64{retentionDaysValidator(), adminCenterRetention()},
		onDisable:       keptOnDisable,
		kind:            int64Setting,
		model:           func(m *organizationAuditSettingsValues) *types.Int64 { return &m.RetentionPeriodDays },
		current:         func(s *orgSettings) *int64 { return s.AuditRetentionPeriodV2 },
		patch:           func(p *orgPatch) **int64 { return &p.AuditRetentionPeriodV2 },
	},
	&orgField[int64, types.Int64]{
		attribute: "user_access_audit_interval_hours", column: "useraccessauditinginterval",
		description: "Hours between two user-access log entries for the same user (`useraccessauditinginterval`), " +
			"0 to 2147483647 (the column's range in the organization table reference).",
		dataSourceDescription: "Hours between user-access log entries (`useraccessauditinginterval`).",
		int64Validators:       []validator.Int64{intervalHoursValidator()},
		onDisable:             keptOnDisable,
		kind:                  int64Setting,
		model:                 func(m *organizationAuditSettingsValues) *types.Int64 { return &m.UserAccessAuditIntervalHours },
		current:               func(s *orgSettings) *int64 { return &s.UserAccessAuditingInterval },
		patch:                 func(p *orgPatch) **int64 { return &p.UserAccessAuditingInterval },
	},
}

// The functions below do one thing to all settings.

// withSettings adds the settings' attributes to the others of a schema.
func withSettings[A any](attributes map[string]A, attribute func(orgSetting) A) map[string]A {
	for _, s := range organizationSettings {
		attributes[s.attributeName()] = attribute(s)
	}
	return attributes
}

func (m *organizationAuditSettingsValues) setFromEnvironment(current *orgSettings) {
	for _, s := range organizationSettings {
		s.setFromEnvironment(m, current)
	}
}

// managedAttributes lists, sorted, the settings set in the configuration.
func (m *organizationAuditSettingsValues) managedAttributes() []string {
	var out []string
	for _, s := range organizationSettings {
		if s.isConfigured(m) {
			out = append(out, s.attributeName())
		}
	}
	return sortedCopy(out)
}

// changesFrom returns the configured values that differ from current.
func (m *organizationAuditSettingsValues) changesFrom(current *orgSettings) orgPatch {
	var p orgPatch
	for _, s := range organizationSettings {
		s.addChange(&p, m, current)
	}
	return p
}

// importOriginals keeps every current value at import, for restore: the
// values, and the attributes the environment reports as null.
func importOriginals(current *orgSettings) (orgPatch, []string) {
	var p orgPatch
	var notSet []string
	for _, s := range organizationSettings {
		s.copyCurrent(&p, current)
		if s.isNotSet(current) {
			notSet = append(notSet, s.attributeName())
		}
	}
	return p, notSet
}

// rememberOriginals records in priv, for each setting about to change for
// the first time, the value the environment had, or that it had none (null,
// which restore cannot write back).
func rememberOriginals(priv *orgPrivateState, change orgPatch, current *orgSettings) {
	for _, s := range organizationSettings {
		if !s.isInPatch(change) || s.isInPatch(priv.Originals) || slices.Contains(priv.NotSetOriginals, s.attributeName()) {
			continue
		}
		if s.isNotSet(current) {
			priv.NotSetOriginals = append(priv.NotSetOriginals, s.attributeName())
		} else {
			s.copyCurrent(&priv.Originals, current)
		}
	}
}

// onlyManaged keeps the fields of managed attributes.
func onlyManaged(p orgPatch, managed []string) orgPatch {
	for _, s := range organizationSettings {
		if !slices.Contains(managed, s.attributeName()) {
			s.removeFromPatch(&p)
		}
	}
	return p
}

// disabledManaged turns off the managed settings that disable turns off.
func disabledManaged(managed []string) orgPatch {
	var p orgPatch
	for _, s := range organizationSettings {
		if slices.Contains(managed, s.attributeName()) {
			s.addDisabled(&p)
		}
	}
	return p
}

// withoutCurrent drops the fields that already have the target value.
func withoutCurrent(p orgPatch, current *orgSettings) orgPatch {
	for _, s := range organizationSettings {
		s.removeIfCurrent(&p, current)
	}
	return p
}

// patchAttributes names the Terraform attributes a patch touches, for logs
// and errors.
func patchAttributes(p orgPatch) []string {
	var out []string
	for _, s := range organizationSettings {
		if s.isInPatch(p) {
			out = append(out, s.attributeName())
		}
	}
	return out
}

// retentionDaysValidator accepts -1 (keep forever) or 1..365000 days.
func retentionDaysValidator() validator.Int64 {
	return retentionDays{Int64: int64validator.Any(int64validator.OneOf(-1), int64validator.Between(1, 365000))}
}

// retentionDays decides with the framework validators it wraps but reports
// one error that says how to keep logs forever, instead of Any's two generic
// ones (one per alternative).
type retentionDays struct{ validator.Int64 }

func (retentionDays) Description(context.Context) string {
	return "must be -1 (keep forever) or between 1 and 365000 days"
}

func (v retentionDays) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v retentionDays) ValidateInt64(ctx context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	var check validator.Int64Response
	v.Int64.ValidateInt64(ctx, req, &check)
	if !check.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid retention period",
		fmt.Sprintf("%s %s, got %d. Use -1 to keep audit logs forever, or a number of days such as 90, 365 or 2555.",
			req.Path, v.Description(ctx), req.ConfigValue.ValueInt64()))
}
