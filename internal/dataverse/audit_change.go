package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Changing audit settings: metadata cannot be PATCHed, so each change reads
// the full definition, checks it against the current values there (a value
// locked by a managed solution fails only when a change is needed), splices
// the audit fields into the bytes that were read and PUTs the whole
// definition back with MSCRM.MergeLabels: true. The MetadataCache methods
// below are the only way in, so a written table is always invalidated.

// TableAuditField is a table-level audit setting, named by its property in
// EntityMetadata.
type TableAuditField string

const (
	// TableAuditEnabled is IsAuditEnabled, a managed property that a
	// managed solution can lock.
	TableAuditEnabled TableAuditField = "IsAuditEnabled"
	// TableRetrieveAuditEnabled is IsRetrieveAuditEnabled (single record
	// auditing), a plain flag.
	TableRetrieveAuditEnabled TableAuditField = "IsRetrieveAuditEnabled"
	// TableRetrieveMultipleAuditEnabled is IsRetrieveMultipleAuditEnabled
	// (multiple record auditing), a plain flag.
	TableRetrieveMultipleAuditEnabled TableAuditField = "IsRetrieveMultipleAuditEnabled"
)

// TableAuditFields are the table-level settings in the order a change
// checks and writes them: the lockable one first, so that a lock fails the
// change before anything else is recorded.
var TableAuditFields = []TableAuditField{TableAuditEnabled, TableRetrieveAuditEnabled, TableRetrieveMultipleAuditEnabled}

// IsManagedProperty is whether the setting is a BooleanManagedProperty
// (whose CanBeChanged can lock it) rather than a plain flag.
func (f TableAuditField) IsManagedProperty() bool { return f == TableAuditEnabled }

// jsonPath is where the setting's value sits in the definition.
func (f TableAuditField) jsonPath() []string {
	if f.IsManagedProperty() {
		return []string{string(f), "Value"}
	}
	return []string{string(f)}
}

// In returns the setting as info reports it; a plain flag is reported as a
// managed property that can be changed.
func (f TableAuditField) In(info *EntityAuditInfo) BooleanManagedProperty {
	switch f {
	case TableAuditEnabled:
		return info.IsAuditEnabled
	case TableRetrieveAuditEnabled:
		return BooleanManagedProperty{Value: info.IsRetrieveAuditEnabled, CanBeChanged: true}
	case TableRetrieveMultipleAuditEnabled:
		return BooleanManagedProperty{Value: info.IsRetrieveMultipleAuditEnabled, CanBeChanged: true}
	}
	return BooleanManagedProperty{}
}

// TableAuditChange asks for table-level audit settings of one table.
type TableAuditChange struct {
	Table string
	// Values are the wanted settings; a field not in it is left alone.
	Values map[TableAuditField]bool
	// Solution, when set, is sent as MSCRM.SolutionUniqueName so the change
	// is recorded in that unmanaged solution.
	Solution string
}

// TableAuditResult reports a table change. On an error it holds what was
// written before the error.
type TableAuditResult struct {
	// Originals are the values, as read just before the PUT, of the fields
	// that were written.
	Originals map[TableAuditField]bool
	// Written are the values written; empty when the table already matched
	// and nothing was sent.
	Written map[TableAuditField]bool
}

// ColumnAuditChange asks for the audit setting of some columns of one table.
type ColumnAuditChange struct {
	Table string
	// Columns maps column logical name to the wanted IsAuditEnabled value.
	Columns map[string]bool
	// Current is the table's audit view as last read (with columns). It
	// gives each column's metadata type for the cast GET, and a column that
	// already has the wanted value there is skipped without a request.
	Current *EntityAuditInfo
	// Solution is as in TableAuditChange.
	Solution string
}

// ColumnAuditResult reports a column change. On an error it holds what was
// written before the error.
type ColumnAuditResult struct {
	// Originals are the values, as read just before each PUT, of the
	// columns that were written.
	Originals map[string]bool
	// Written are the values written, by column.
	Written map[string]bool
}

// AuditLockedError is a change to an audit setting whose managed property
// has CanBeChanged = false in the definition just read.
type AuditLockedError struct {
	Table  string
	Column string // "" for a table-level setting
	// Field is the locked setting; a column's is IsAuditEnabled too.
	Field TableAuditField
	// Current is the locked property as read.
	Current BooleanManagedProperty
	// Wanted is the value the change asked for.
	Wanted bool
}

func (e *AuditLockedError) Error() string {
	return fmt.Sprintf("dataverse: auditing of %s is locked (%s.CanBeChanged = false) at %t", tableOrColumn(e.Table, e.Column), e.Field, e.Current.Value)
}

// tableOrColumn names a table ("table account") or, when column is set, one
// of its columns ("column account.name") in an error message.
func tableOrColumn(table, column string) string {
	if column == "" {
		return "table " + table
	}
	return "column " + table + "." + column
}

// AuditWriteStep is the step of an audit change that failed.
type AuditWriteStep int

const (
	// ReadingDefinition is the GET of the full definition.
	ReadingDefinition AuditWriteStep = iota + 1
	// DecodingDefinition is reading the audit fields of the definition.
	DecodingDefinition
	// EditingDefinition is splicing the new values into the definition.
	EditingDefinition
	// WritingDefinition is the PUT of the edited definition.
	WritingDefinition
)

// AuditWriteError is a failed step of an audit change; Err is the cause (an
// *Error for a failed request).
type AuditWriteError struct {
	Table  string
	Column string // "" for the table definition
	Step   AuditWriteStep
	// Path is the property being edited, for EditingDefinition.
	Path []string
	// SentDespiteLock: the write changed IsAuditEnabled although its
	// CanBeChanged is false, because the component is unmanaged here.
	SentDespiteLock bool
	Err             error
}

func (e *AuditWriteError) Error() string {
	return fmt.Sprintf("dataverse: changing the audit settings of %s: %v", tableOrColumn(e.Table, e.Column), e.Err)
}

func (e *AuditWriteError) Unwrap() error { return e.Err }

// ApplyTableAudit makes the table-level audit settings of one table match
// change. Fields whose value in the definition already matches are not
// written; when none differs, no PUT is sent. The table is invalidated in the
// cache once something was written.
func (m *MetadataCache) ApplyTableAudit(ctx context.Context, change TableAuditChange) (TableAuditResult, error) {
	res := TableAuditResult{Originals: map[TableAuditField]bool{}, Written: map[TableAuditField]bool{}}
	def, err := m.readSavedDefinition(ctx, change.Table, WithoutColumns)
	if err != nil {
		return res, &AuditWriteError{Table: change.Table, Step: ReadingDefinition, Err: err}
	}
	var wire entityAuditWire
	if err := json.Unmarshal(def, &wire); err != nil {
		return res, &AuditWriteError{Table: change.Table, Step: DecodingDefinition, Err: err}
	}
	current := wire.info(false)
	originals, written := map[TableAuditField]bool{}, map[TableAuditField]bool{}
	for _, f := range TableAuditFields {
		want, asked := change.Values[f]
		cur := f.In(current)
		if !asked || want == cur.Value {
			continue
		}
		if lockedHere(cur, current.IsManaged) {
			return res, &AuditLockedError{Table: change.Table, Field: f, Current: cur, Wanted: want}
		}
		if def, err = setJSONValue(def, want, f.jsonPath()...); err != nil {
			return res, &AuditWriteError{Table: change.Table, Step: EditingDefinition, Path: f.jsonPath(), Err: err}
		}
		originals[f], written[f] = cur.Value, want
	}
	if len(written) == 0 {
		m.forgetIfOutdated(change.Table, func(cached *EntityAuditInfo) bool {
			for f := range change.Values {
				if f.In(cached).Value != f.In(current).Value {
					return true
				}
			}
			return false
		})
		return res, nil
	}
	tflog.Info(ctx, "updating table audit settings", map[string]any{"entity": change.Table})
	err = m.writeRetryingLock(ctx, change.Table, func(ctx context.Context) error {
		return m.c.putEntityDefinition(ctx, change.Table, def, change.Solution)
	})
	if err != nil {
		return res, &AuditWriteError{Table: change.Table, Step: WritingDefinition, Err: err, SentDespiteLock: sentDespiteLock(current, change.Values)}
	}
	m.Invalidate(change.Table)
	res.Originals, res.Written = originals, written
	return res, nil
}

// ApplyColumnAudit makes the audit setting of the given columns match
// change, one column at a time in name order: a cast GET of the column's
// full definition, then a PUT to the uncast URL. A column whose definition
// already matches is not written. The table is invalidated in the cache once
// a column was written, also when a later column fails.
func (m *MetadataCache) ApplyColumnAudit(ctx context.Context, change ColumnAuditChange) (ColumnAuditResult, error) {
	res := ColumnAuditResult{Originals: map[string]bool{}, Written: map[string]bool{}}
	outdated := false // Current said a column differs; its definition did not
	defer func() {
		switch {
		case len(res.Written) > 0:
			m.Invalidate(change.Table)
		case outdated:
			m.forgetIfOutdated(change.Table, func(*EntityAuditInfo) bool { return true })
		}
	}()
	names := make([]string, 0, len(change.Columns))
	for col := range change.Columns {
		names = append(names, col)
	}
	sort.Strings(names)
	// The saved definitions of the table's columns, read once when the
	// first column needs writing.
	var saved map[string]json.RawMessage
	for _, col := range names {
		want := change.Columns[col]
		known := change.Current.Attributes[col]
		if known == nil {
			return res, &AuditWriteError{Table: change.Table, Column: col, Step: ReadingDefinition,
				Err: fmt.Errorf("dataverse: table %q has no column %q", change.Table, col)}
		}
		if known.IsAuditEnabled.Value == want {
			continue
		}
		if saved == nil {
			var err error
			if saved, err = m.savedColumns(ctx, change.Table); err != nil {
				return res, &AuditWriteError{Table: change.Table, Column: col, Step: ReadingDefinition, Err: err}
			}
		}
		written, err := m.applyOneColumn(ctx, change, known, saved[col], want)
		if err != nil {
			return res, err
		}
		if written {
			res.Originals[col] = !want
			res.Written[col] = want
		} else {
			outdated = true
		}
	}
	return res, nil
}

// applyOneColumn writes one column's audit setting; it reports whether a PUT
// was sent (not when the definition already has the wanted value).
func (m *MetadataCache) applyOneColumn(ctx context.Context, change ColumnAuditChange, col *AttributeAuditInfo, def json.RawMessage, want bool) (bool, error) {
	fail := func(step AuditWriteStep, err error) (bool, error) {
		return false, &AuditWriteError{Table: change.Table, Column: col.LogicalName, Step: step, Err: err}
	}
	if def == nil {
		return fail(ReadingDefinition, fmt.Errorf("dataverse: the saved definition of table %q has no column %q", change.Table, col.LogicalName))
	}
	var wire attributeAuditWire
	if err := json.Unmarshal(def, &wire); err != nil {
		return fail(DecodingDefinition, err)
	}
	var cur BooleanManagedProperty
	if wire.IsAuditEnabled != nil {
		cur = *wire.IsAuditEnabled
	}
	if cur.Value == want {
		return false, nil
	}
	if lockedHere(cur, boolOf(wire.IsManaged)) {
		return false, &AuditLockedError{Table: change.Table, Column: col.LogicalName, Field: TableAuditEnabled, Current: cur, Wanted: want}
	}
	path := TableAuditEnabled.jsonPath()
	def, err := setJSONValue(def, want, path...)
	if err != nil {
		return false, &AuditWriteError{Table: change.Table, Column: col.LogicalName, Step: EditingDefinition, Path: path, Err: err}
	}
	odataType, err := m.columnPutType(ctx, change.Table, col, &wire)
	if err != nil {
		return fail(ReadingDefinition, err)
	}
	tflog.Info(ctx, "updating column audit setting", map[string]any{"entity": change.Table, "attribute": col.LogicalName, "audit_enabled": want})
	err = m.writeRetryingLock(ctx, change.Table, func(ctx context.Context) error {
		return m.c.putAttributeDefinition(ctx, change.Table, col.LogicalName, odataType, def, change.Solution)
	})
	if err != nil {
		return false, &AuditWriteError{Table: change.Table, Column: col.LogicalName, Step: WritingDefinition, Err: err, SentDespiteLock: !cur.CanBeChanged}
	}
	return true, nil
}

// savedColumns reads the saved definitions of a table's columns (one
// request for all of them).
func (m *MetadataCache) savedColumns(ctx context.Context, table string) (map[string]json.RawMessage, error) {
	def, err := m.readSavedDefinition(ctx, table, WithColumns)
	if err != nil {
		return nil, err
	}
	return savedColumnDefinitions(def)
}

// readSavedDefinition reads the saved full definition to splice, strongly:
// coalesced with the reads of concurrently applying resources into one
// $batch, or on its own in the naive (Disabled) mode.
func (m *MetadataCache) readSavedDefinition(ctx context.Context, table string, columns ColumnsOption) (json.RawMessage, error) {
	if m.opts.Disabled {
		return m.c.readSavedDefinition(ctx, table, columns)
	}
	return m.batcher.readSaved(ctx, table, columns)
}

// lockedHere is whether a managed property stops a change in this
// environment: managed properties constrain managed components only ("Use
// managed properties"); an unmanaged component with CanBeChanged = false is
// still changed, and a refusal by the service is reported as a write error.
func lockedHere(p BooleanManagedProperty, isManaged bool) bool {
	return !p.CanBeChanged && isManaged
}

// sentDespiteLock is whether a table change touched IsAuditEnabled while it
// had CanBeChanged = false (on an unmanaged table).
func sentDespiteLock(current *EntityAuditInfo, values map[TableAuditField]bool) bool {
	want, asked := values[TableAuditEnabled]
	return asked && want != current.IsAuditEnabled.Value && !current.IsAuditEnabled.CanBeChanged
}

// writeRetryingLock sends a metadata write and, while Dataverse refuses it
// with the customization lock (a solution import, or another customization,
// holds it: "Cannot start another [EntityCustomization] because there is a
// previous [Import] running"), waits and sends it again, like a locked
// publish. Only ctx bounds it (the resource's timeouts), not max_retries:
// an import can take many minutes. Giving up returns ctx's error wrapping
// the last refusal, for which IsCustomizationLock is still true.
func (m *MetadataCache) writeRetryingLock(ctx context.Context, table string, write func(context.Context) error) error {
	var refused error // the last lock refusal
	for attempt := 1; ; attempt++ {
		err := write(ctx)
		if err != nil && ctx.Err() != nil && refused != nil && !IsCustomizationLock(err) {
			// The context ended during an attempt after earlier refusals.
			return fmt.Errorf("%w; the last attempt was refused by the customization lock: %w", err, refused)
		}
		if err == nil || !IsCustomizationLock(err) || ctx.Err() != nil {
			return err
		}
		refused = err
		tflog.Debug(ctx, "A metadata write hit the customization lock (a solution import or another customization is running); will retry", map[string]any{
			"entity": table, "attempt": attempt, "error": err.Error(), "retry_wait_ms": m.opts.LockRetryWait.Milliseconds(),
		})
		if msapi.Sleep(ctx, jittered(m.opts.LockRetryWait)) != nil {
			return fmt.Errorf("%w; the last attempt was refused by the customization lock: %w", ctx.Err(), err)
		}
	}
}
