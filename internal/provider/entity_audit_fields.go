package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// tableAuditSetting describes one table-level audit attribute of
// dynamics365_entity_audit_settings. Schema, read, write, restore and
// disable all work from tableAuditSettings, so adding a setting is one entry.
type tableAuditSetting struct {
	attribute   string                    // Terraform attribute name
	field       dataverse.TableAuditField // property in EntityMetadata
	description string
	// value is the model's field: read it for the configuration, set it
	// from what Dataverse reports.
	value func(*entityAuditSettingsModel) *types.Bool
}

// lockable is whether a managed solution can lock the setting
// (CanBeChanged = false), which makes a change to it an error.
func (s tableAuditSetting) lockable() bool { return s.field.IsManagedProperty() }

var tableAuditSettings = []tableAuditSetting{
	{
		attribute: "audit_enabled", field: dataverse.TableAuditEnabled,
		description: "Table auditing (`IsAuditEnabled`): record creates, updates and deletes of this " +
			"table's rows (while organization auditing is on). Tables whose setting is locked (`CanBeChanged = false`) " +
			"cannot be changed.",
		value: func(m *entityAuditSettingsModel) *types.Bool { return &m.AuditEnabled },
	},
	{
		attribute: "retrieve_audit_enabled", field: dataverse.TableRetrieveAuditEnabled,
		description: "Single record auditing (`IsRetrieveAuditEnabled`): log when a record is " +
			"opened (sent to Microsoft Purview while organization read auditing is on).",
		value: func(m *entityAuditSettingsModel) *types.Bool { return &m.RetrieveAuditEnabled },
	},
	{
		attribute: "retrieve_multiple_audit_enabled", field: dataverse.TableRetrieveMultipleAuditEnabled,
		description: "Multiple record auditing (`IsRetrieveMultipleAuditEnabled`): log " +
			"when records are viewed in lists, grids and exports (sent to Microsoft Purview while organization read " +
			"auditing is on).",
		value: func(m *entityAuditSettingsModel) *types.Bool { return &m.RetrieveMultipleAuditEnabled },
	},
}

// tableAuditSettingOf returns the descriptor of a Dataverse property.
func tableAuditSettingOf(f dataverse.TableAuditField) (tableAuditSetting, bool) {
	for _, s := range tableAuditSettings {
		if s.field == f {
			return s, true
		}
	}
	return tableAuditSetting{}, false
}

// entityTarget is what a change should make true; settings not in it are
// left alone.
type entityTarget struct {
	Table map[dataverse.TableAuditField]bool
	// Attributes maps column logical name to whether it is audited.
	Attributes map[string]bool
}

func (t entityTarget) isEmpty() bool { return len(t.Table) == 0 && len(t.Attributes) == 0 }

func (t *entityTarget) setTable(f dataverse.TableAuditField, v bool) {
	if t.Table == nil {
		t.Table = map[dataverse.TableAuditField]bool{}
	}
	t.Table[f] = v
}

func (t *entityTarget) setColumn(col string, v bool) {
	if t.Attributes == nil {
		t.Attributes = map[string]bool{}
	}
	t.Attributes[col] = v
}

// recordOriginals keeps the first value seen of each setting a change wrote:
// the value restore brings back.
func (t *entityTarget) recordOriginals(table map[dataverse.TableAuditField]bool, columns map[string]bool) {
	for f, v := range table {
		if _, seen := t.Table[f]; !seen {
			t.setTable(f, v)
		}
	}
	for col, v := range columns {
		if _, seen := t.Attributes[col]; !seen {
			t.setColumn(col, v)
		}
	}
}

// The private state stores a target as {"<attribute>": bool, …,
// "attributes": {…}}, keyed by Terraform attribute names so that it does not
// depend on Go names.
const targetColumnsKey = "attributes"

func (t entityTarget) MarshalJSON() ([]byte, error) {
	out := map[string]any{}
	for _, s := range tableAuditSettings {
		if v, ok := t.Table[s.field]; ok {
			out[s.attribute] = v
		}
	}
	if len(t.Attributes) > 0 {
		out[targetColumnsKey] = t.Attributes
	}
	return json.Marshal(out)
}

func (t *entityTarget) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*t = entityTarget{}
	for _, s := range tableAuditSettings {
		v, ok := raw[s.attribute]
		if !ok || string(v) == "null" {
			continue
		}
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("%s: %w", s.attribute, err)
		}
		t.setTable(s.field, b)
	}
	if cols, ok := raw[targetColumnsKey]; ok {
		if err := json.Unmarshal(cols, &t.Attributes); err != nil {
			return fmt.Errorf("%s: %w", targetColumnsKey, err)
		}
	}
	return nil
}

// target is what the configuration asks for (known values only).
func (m *entityAuditSettingsModel) target() (entityTarget, diag.Diagnostics) {
	var t entityTarget
	for _, s := range tableAuditSettings {
		if v := *s.value(m); known(v) {
			t.setTable(s.field, v.ValueBool())
		}
	}
	if !known(m.Attributes) {
		return t, nil
	}
	var diags diag.Diagnostics
	t.Attributes = map[string]bool{}
	for col, v := range m.Attributes.Elements() {
		b, ok := v.(types.Bool)
		if !ok {
			diags.AddAttributeError(path.Root("attributes").AtMapKey(col), "Unexpected value", fmt.Sprintf("expected a bool, got %T", v))
			continue
		}
		if known(b) {
			t.Attributes[col] = b.ValueBool()
		}
	}
	return t, diags
}

// managedTableAttributes names the table-level attributes the configuration
// sets: Delete, which sees no configuration, changes only those.
func (m *entityAuditSettingsModel) managedTableAttributes() []string {
	var out []string
	for _, s := range tableAuditSettings {
		if !s.value(m).IsNull() {
			out = append(out, s.attribute)
		}
	}
	return out
}

// refreshFrom sets the computed values: the table-level settings, and the
// current value of every column listed in attributes (a column that no
// longer exists drops out, so the plan shows it again).
func (m *entityAuditSettingsModel) refreshFrom(info *dataverse.EntityAuditInfo) {
	m.ID = types.StringValue(info.LogicalName)
	m.EntityLogicalName = types.StringValue(info.LogicalName)
	for _, s := range tableAuditSettings {
		*s.value(m) = types.BoolValue(s.field.In(info).Value)
	}
	if m.Attributes.IsNull() || m.Attributes.IsUnknown() {
		return
	}
	elems := map[string]attr.Value{}
	for col := range m.Attributes.Elements() {
		if a, ok := info.Attributes[col]; ok {
			elems[col] = types.BoolValue(a.IsAuditEnabled.Value)
		}
	}
	m.Attributes = types.MapValueMust(types.BoolType, elems)
}

// currentTableValues are the table-level values of info, the originals of
// an imported table.
func currentTableValues(info *dataverse.EntityAuditInfo) entityTarget {
	var t entityTarget
	for _, s := range tableAuditSettings {
		t.setTable(s.field, s.field.In(info).Value)
	}
	return t
}

// destroyTarget is what Delete writes under policy: for restore the
// originals, for disable false — of the table-level attributes the
// configuration managed and the columns in the state.
func destroyTarget(policy string, priv entityPrivateState, stateColumns map[string]bool) entityTarget {
	managed := map[string]bool{}
	for _, a := range priv.Managed {
		managed[a] = true
	}
	var t entityTarget
	for _, s := range tableAuditSettings {
		if !managed[s.attribute] {
			continue
		}
		switch policy {
		case onDestroyRestore:
			if v, ok := priv.Originals.Table[s.field]; ok {
				t.setTable(s.field, v)
			}
		case onDestroyDisable:
			t.setTable(s.field, false)
		}
	}
	for col := range stateColumns {
		switch policy {
		case onDestroyRestore:
			if v, ok := priv.Originals.Attributes[col]; ok {
				t.setColumn(col, v)
			}
		case onDestroyDisable:
			t.setColumn(col, false)
		}
	}
	return t
}

// tableChangeNeeded is whether info differs from a table-level value of t,
// so that the table definition must be read and written.
func tableChangeNeeded(info *dataverse.EntityAuditInfo, t entityTarget) bool {
	for f, want := range t.Table {
		if f.In(info).Value != want {
			return true
		}
	}
	return false
}

// unmetTarget names the parts of target that info does not show.
func unmetTarget(info *dataverse.EntityAuditInfo, t entityTarget) []string {
	var out []string
	for _, s := range tableAuditSettings {
		if want, ok := t.Table[s.field]; ok && want != s.field.In(info).Value {
			out = append(out, s.attribute)
		}
	}
	for _, col := range sortedKeys(t.Attributes) {
		if a, ok := info.Attributes[col]; !ok || a.IsAuditEnabled.Value != t.Attributes[col] {
			out = append(out, fmt.Sprintf("attributes[%q]", col))
		}
	}
	return out
}

// checkEntityTarget reports every part of target that cannot be applied.
// A locked or non-auditable setting is an error only when a change is needed.
// A managed property locks managed components only ("Use managed
// properties"): an unmanaged table or column with CanBeChanged = false is
// sent, and a refusal by the service is reported then. Virtual columns
// (AttributeOf set) are never auditable.
func checkEntityTarget(envURL string, info *dataverse.EntityAuditInfo, target entityTarget) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, s := range tableAuditSettings {
		want, ok := target.Table[s.field]
		cur := s.field.In(info)
		if ok && s.lockable() && want != cur.Value && !cur.CanBeChanged && info.IsManaged {
			addAuditLockedError(&diags, envURL, &dataverse.AuditLockedError{Table: info.LogicalName, Field: s.field, Current: cur, Wanted: want})
		}
	}
	var unknown []string
	for _, col := range sortedKeys(target.Attributes) {
		want := target.Attributes[col]
		a, ok := info.Attributes[col]
		switch {
		case !ok:
			unknown = append(unknown, col)
		case want == a.IsAuditEnabled.Value:
		case a.AttributeOf != "":
			diags.AddAttributeError(path.Root("attributes").AtMapKey(col), "Column cannot be audited",
				fmt.Sprintf("Column %q of table %q is a virtual column derived from %q and cannot be audited. Audit %q instead.",
					col, info.LogicalName, a.AttributeOf, a.AttributeOf))
		case !a.IsAuditEnabled.CanBeChanged && a.IsManaged:
			addAuditLockedError(&diags, envURL, &dataverse.AuditLockedError{
				Table: info.LogicalName, Column: col, Field: dataverse.TableAuditEnabled, Current: a.IsAuditEnabled, Wanted: want})
		}
	}
	addUnknownColumnsError(&diags, envURL, info, unknown)
	return diags
}

// addAuditLockedError explains a locked setting on the attribute that asks
// to change it, at plan time and when a write finds the lock.
func addAuditLockedError(diags *diag.Diagnostics, envURL string, e *dataverse.AuditLockedError) {
	if e.Column != "" {
		diags.AddAttributeError(path.Root("attributes").AtMapKey(e.Column), "Column cannot be audited",
			fmt.Sprintf("Auditing of column %q of table %q cannot be changed: its IsAuditEnabled managed property has "+
				"CanBeChanged = false (system columns such as the primary key and versionnumber are never audited). "+
				"It is %s; remove the column from attributes.", e.Column, e.Table, onOff(e.Current.Value)))
		return
	}
	s, _ := tableAuditSettingOf(e.Field)
	diags.AddAttributeError(path.Root(s.attribute), "Table audit setting is locked",
		fmt.Sprintf("Auditing of table %q cannot be changed in %s: its %s managed property has CanBeChanged = false "+
			"(the solution that owns the table locks it). Auditing is %s there; remove %s from this resource or set it to %t.",
			e.Table, envURL, e.Field, onOff(e.Current.Value), s.attribute, e.Current.Value))
}

// addAuditChangeError turns an error of ApplyTableAudit or ApplyColumnAudit
// into a diagnostic naming the table or column and the step that failed.
func addAuditChangeError(diags *diag.Diagnostics, envURL, table string, err error) {
	var locked *dataverse.AuditLockedError
	if errors.As(err, &locked) {
		addAuditLockedError(diags, envURL, locked)
		return
	}
	var we *dataverse.AuditWriteError
	if !errors.As(err, &we) {
		addAPIError(diags, "Cannot update the audit settings of table "+table, err)
		return
	}
	if we.Step == dataverse.WritingDefinition && we.SentDespiteLock {
		addRefusedUnmanagedLock(diags, envURL, we)
		return
	}
	if we.Column == "" {
		switch we.Step {
		case dataverse.ReadingDefinition:
			addAPIError(diags, "Cannot read the definition of table "+we.Table, we.Err)
		case dataverse.DecodingDefinition:
			diags.AddError("Unexpected table definition", fmt.Sprintf("Cannot read the audit fields of table %s: %v", we.Table, we.Err))
		case dataverse.EditingDefinition:
			diags.AddError("Cannot change the table definition", fmt.Sprintf("table %s, %s: %v", we.Table, strings.Join(we.Path, "."), we.Err))
		default:
			addAPIError(diags, "Cannot update the audit settings of table "+we.Table, we.Err)
		}
		return
	}
	column := we.Table + "." + we.Column
	switch we.Step {
	case dataverse.ReadingDefinition:
		addAPIError(diags, "Cannot read the definition of column "+column, we.Err)
	case dataverse.DecodingDefinition:
		diags.AddError("Unexpected column definition", fmt.Sprintf("Cannot read the audit field of column %s: %v", column, we.Err))
	case dataverse.EditingDefinition:
		diags.AddError("Cannot change the column definition", fmt.Sprintf("column %s: %v", column, we.Err))
	default:
		addAPIError(diags, "Cannot update the audit setting of column "+column, we.Err)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// addRefusedUnmanagedLock explains a write that Dataverse refused to a
// setting whose CanBeChanged is false on an unmanaged component: the
// provider sends such changes, since managed properties do not lock
// unmanaged components, and the service said no.
func addRefusedUnmanagedLock(diags *diag.Diagnostics, envURL string, we *dataverse.AuditWriteError) {
	detail := "Dataverse refused it: %v. Its IsAuditEnabled managed property has CanBeChanged = false; the component is " +
		"unmanaged in %s, where managed properties do not lock it, so the change was sent. %s"
	if we.Column != "" {
		diags.AddAttributeError(path.Root("attributes").AtMapKey(we.Column), "Column auditing refused by Dataverse",
			fmt.Sprintf("Changing auditing of column %q of table %q failed. "+detail, we.Column, we.Table, we.Err, envURL,
				"Remove the column from attributes."))
		return
	}
	diags.AddAttributeError(path.Root("audit_enabled"), "Table auditing refused by Dataverse",
		fmt.Sprintf("Changing auditing of table %q failed. "+detail, we.Table, we.Err, envURL,
			"Remove audit_enabled from this resource or set it to the current value."))
}
