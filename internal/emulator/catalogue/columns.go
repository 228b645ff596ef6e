package catalogue

import "fmt"

// PrimaryIDName is the logical name of the table's primary key column.
func (t Table) PrimaryIDName() string {
	if t.Activity {
		return "activityid"
	}
	return t.LogicalName + "id"
}

// Columns lists every column of the table in Dataverse's order: primary id,
// primary name, the system set, the ownership set, state, activity columns,
// the table's own columns, versionnumber, and after each lookup its virtual
// name column. It panics on a duplicate column, a spec error.
func (t Table) Columns() []Column {
	sets := loaded().shared.Sets
	auditable := false
	cols := []Column{{
		Type: "Uniqueidentifier", LogicalName: t.PrimaryIDName(), SchemaName: t.primaryIDSchema(),
		English: t.English[0], German: t.German[0], RequiredLevel: "SystemRequired",
		Auditable: &auditable, PrimaryID: true,
	}, t.primaryNameColumn()}
	cols = append(cols, sets["system"]...)
	for _, c := range sets[t.Ownership] {
		// A business unit is not owned by a business unit.
		if len(c.Targets) == 1 && c.Targets[0] == t.LogicalName {
			continue
		}
		cols = append(cols, c)
	}
	if !t.Stateless {
		cols = append(cols, sets["state"]...)
	}
	if t.Activity {
		cols = append(cols, sets["activity"]...)
	}
	cols = append(cols, t.Own...)
	cols = append(cols, sets["version"]...)

	out := make([]Column, 0, len(cols)+len(cols)/3)
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c.LogicalName] {
			panic(fmt.Sprintf("catalogue: duplicate column %s.%s", t.LogicalName, c.LogicalName))
		}
		seen[c.LogicalName] = true
		out = append(out, c.withTypeDefaults())
		if c.IsLookup() {
			// Dataverse adds a read-only name column after each lookup.
			out = append(out, Column{
				Type: "String", LogicalName: c.LogicalName + "name", SchemaName: c.SchemaName + "Name",
				MaxLength: 100, ReadOnly: true, Auditable: &auditable, AttributeOf: c.LogicalName,
			})
		}
	}
	return out
}

func (t Table) primaryIDSchema() string {
	if t.Activity {
		return "ActivityId"
	}
	return t.SchemaName + "Id"
}

// primaryNameColumn describes the primary name from the usual ones in
// columns.json; an unusual name (quotedetailname) gets the table's schema name
// plus "Name", the label Name and 100 characters.
func (t Table) primaryNameColumn() Column {
	p, ok := loaded().shared.PrimaryNames[t.PrimaryName]
	if !ok {
		p = primaryNameSpec{SchemaName: t.SchemaName + "Name", English: "Name", German: "Name", MaxLength: 100, RequiredLevel: "ApplicationRequired"}
	}
	if t.PrimaryNameLabel != nil {
		p.English, p.German = t.PrimaryNameLabel[0], t.PrimaryNameLabel[1]
	}
	return Column{
		Type: "String", LogicalName: t.PrimaryName, SchemaName: p.SchemaName,
		English: p.English, German: p.German, MaxLength: p.MaxLength,
		RequiredLevel: p.RequiredLevel, ReadOnly: p.ReadOnly, PrimaryName: true,
	}
}

// withTypeDefaults fills what every column of a type has unless the spec says
// otherwise: money has two decimals, a customer is an account or a contact.
func (c Column) withTypeDefaults() Column {
	switch {
	case c.Type == "Money" && c.Precision == 0:
		c.Precision = 2
	case c.Type == "Customer" && len(c.Targets) == 0:
		c.Targets = []string{"account", "contact"}
	}
	return c
}
