// Package catalogue is the emulator's table catalogue as data: a compact spec
// of each table (names in English and German, ownership, audit flags, its own
// columns) embedded from JSON, and the rules that complete a table's column
// list the way Dataverse does (primary id and name, system, ownership, state
// and activity columns, a name column after each lookup).
//
// The emulator turns the completed tables into full EntityMetadata and
// AttributeMetadata definitions; this package knows nothing of that JSON
// shape, so a generated catalogue of any size goes through the same rules.
//
// Adding a table is adding a block to standard.json or custom.json: the keys
// are the json tags of Table and Column below; unknown keys are refused.
// Column sets shared by several tables live in columns.json.
package catalogue

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sync"
)

//go:embed standard.json custom.json columns.json
var specFiles embed.FS

// Table is one table of the spec. Zero values are the common case, so a table
// lists only what differs.
type Table struct {
	LogicalName    string `json:"name"`
	SchemaName     string `json:"schema"`
	ObjectTypeCode int    `json:"objectTypeCode"`
	// English and German are the display name and the collection name.
	English [2]string `json:"en"`
	German  [2]string `json:"de"`
	// Ownership is the OwnershipType: UserOwned, OrganizationOwned,
	// BusinessOwned, or "" for None.
	Ownership string `json:"ownership,omitempty"`
	// Custom marks an unmanaged custom table (ids from the environment's
	// namespace, only the primary name audited by default).
	Custom bool `json:"custom,omitempty"`
	// AuditEnabled is IsAuditEnabled.Value as shipped; AuditLocked makes
	// IsAuditEnabled.CanBeChanged false.
	AuditEnabled bool `json:"audit,omitempty"`
	AuditLocked  bool `json:"auditLocked,omitempty"`
	// Activity tables have the primary key activityid and the activity columns.
	Activity bool `json:"activity,omitempty"`
	// Stateless tables have no statecode/statuscode.
	Stateless         bool   `json:"stateless,omitempty"`
	IntroducedVersion string `json:"introduced,omitempty"`
	// EntitySetName overrides the English plural of the logical name.
	EntitySetName string `json:"entitySetName,omitempty"`
	// PrimaryName is the primary name column; its schema name and labels
	// come from columns.json primaryNames, PrimaryNameLabel overriding the
	// labels.
	PrimaryName      string     `json:"primaryName"`
	PrimaryNameLabel *[2]string `json:"primaryNameLabel,omitempty"`
	// Own are the table's own columns; an entry {"set": "x"} stands for the
	// shared column set x of columns.json.
	Own []Column `json:"columns,omitempty"`
}

// Column is one column of the spec, or a reference to a shared set.
type Column struct {
	Set string `json:"set,omitempty"`

	Type        string `json:"type,omitempty"` // an AttributeType: String, Memo, Integer, Lookup, …
	LogicalName string `json:"name,omitempty"`
	SchemaName  string `json:"schema,omitempty"`
	English     string `json:"en,omitempty"`
	German      string `json:"de,omitempty"`
	MaxLength   int    `json:"maxLength,omitempty"`
	// Format is the String/Integer format, or DateOnly for a DateTime.
	Format string `json:"format,omitempty"`
	// Min and Max are kept as written (0.0000000001, 100000000000000.0):
	// the definitions serve them byte for byte.
	Min       json.RawMessage `json:"min,omitempty"`
	Max       json.RawMessage `json:"max,omitempty"`
	Precision int             `json:"precision,omitempty"`
	Targets   []string        `json:"targets,omitempty"`
	// RequiredLevel is the RequiredLevel value; "" is None.
	RequiredLevel string `json:"required,omitempty"`
	// ReadOnly columns are set by the system (not valid for create/update).
	ReadOnly bool `json:"readOnly,omitempty"`
	// Auditable false: the column cannot be audited at all.
	Auditable *bool `json:"auditable,omitempty"`
	// Options are a Picklist's choices (its local option set); the spec's
	// own picklists list none.
	Options []Option `json:"options,omitempty"`

	// Filled in by Table.Columns, never read from the spec.
	PrimaryID   bool   `json:"-"`
	PrimaryName bool   `json:"-"`
	AttributeOf string `json:"-"` // the lookup a virtual name column belongs to
}

// Option is one choice of a Picklist column.
type Option struct {
	Value   int    `json:"value"`
	English string `json:"en"`
	German  string `json:"de"`
}

// CanBeAudited reports whether auditing can ever be switched on.
func (c Column) CanBeAudited() bool { return c.Auditable == nil || *c.Auditable }

// Virtual reports whether c is a lookup's name column.
func (c Column) Virtual() bool { return c.AttributeOf != "" }

// IsLookup reports whether c references other tables (and so gets a name
// column).
func (c Column) IsLookup() bool {
	return c.Type == "Lookup" || c.Type == "Owner" || c.Type == "Customer"
}

// shared is columns.json: the column sets every table draws on.
type shared struct {
	// PrimaryNames describe the usual primary name columns by logical name.
	PrimaryNames map[string]primaryNameSpec `json:"primaryNames"`
	// Sets are named column lists: system, version, state, activity, one per
	// OwnershipType, generated (the columns of Generated tables) and groups
	// several tables share.
	Sets map[string][]Column `json:"sets"`
}

type primaryNameSpec struct {
	SchemaName    string `json:"schema"`
	English       string `json:"en"`
	German        string `json:"de"`
	MaxLength     int    `json:"maxLength"`
	RequiredLevel string `json:"required"`
	ReadOnly      bool   `json:"readOnly,omitempty"`
}

type spec struct {
	shared   shared
	standard []Table
	custom   []Table
}

var loaded = sync.OnceValue(func() spec {
	var s spec
	mustDecode("columns.json", &s.shared)
	var standard, custom struct {
		Tables []Table `json:"tables"`
	}
	mustDecode("standard.json", &standard)
	mustDecode("custom.json", &custom)
	s.standard, s.custom = standard.Tables, custom.Tables
	for _, list := range [][]Table{s.standard, s.custom} {
		for i := range list {
			list[i].Own = s.shared.resolve(list[i].LogicalName, list[i].Own)
		}
	}
	return s
})

// mustDecode reads an embedded spec file strictly: an unknown key is a typo
// that would otherwise silently fall back to a default.
func mustDecode(name string, into any) {
	b, err := specFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		panic(fmt.Sprintf("catalogue: %s: %v", name, err))
	}
}

// resolve replaces set references with the set's columns.
func (s shared) resolve(table string, cols []Column) []Column {
	var out []Column
	for _, c := range cols {
		if c.Set == "" {
			out = append(out, c)
			continue
		}
		set, ok := s.Sets[c.Set]
		if !ok {
			panic(fmt.Sprintf("catalogue: table %s uses unknown column set %q", table, c.Set))
		}
		out = append(out, set...)
	}
	return out
}

// Standard returns the managed tables every environment has, in spec order.
func Standard() []Table { return loaded().standard }

// Custom returns the environment's unmanaged custom tables, in spec order.
func Custom() []Table { return loaded().custom }

// Generated returns n unmanaged custom tables new_bench0001 …, each with the
// columns of the "generated" set, for benchmarks that need a catalogue of
// hundreds of tables. The same n gives the same tables.
func Generated(n int) []Table {
	columns := loaded().shared.Sets["generated"]
	out := make([]Table, 0, n)
	for i := 1; i <= n; i++ {
		suffix := fmt.Sprintf("%04d", i)
		out = append(out, Table{
			LogicalName: "new_bench" + suffix, SchemaName: "new_Bench" + suffix, ObjectTypeCode: 20000 + i,
			English:   [2]string{"Bench " + suffix, "Bench " + suffix + "s"},
			German:    [2]string{"Bench " + suffix, "Bench " + suffix},
			Ownership: "UserOwned", Custom: true, PrimaryName: "new_name",
			Own: columns,
		})
	}
	return out
}
