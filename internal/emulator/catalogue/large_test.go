package catalogue

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The large catalogue has the size of a real organization's and is the
// same on every call.
func TestLargeCatalogueSizeAndDeterminism(t *testing.T) {
	t.Parallel()
	tables := Large()
	if len(tables) < 1000 {
		t.Fatalf("%d tables, want at least 1,000", len(tables))
	}
	columns, types := 0, map[string]int{}
	for _, tab := range tables {
		for _, c := range tab.Columns() {
			columns++
			types[c.Type]++
		}
	}
	if columns < 80000 {
		t.Errorf("%d columns, want at least 80,000", columns)
	}
	for _, typ := range []string{"String", "Memo", "Integer", "Decimal", "Money", "Boolean", "Picklist", "DateTime", "Lookup", "Owner", "State", "Status", "BigInt"} {
		if types[typ] == 0 {
			t.Errorf("no %s column", typ)
		}
	}
	// A fresh generation (not the cached one) gives the same tables.
	for _, i := range []int{0, 1, 499, 999} {
		if again := largeTable(i); !reflect.DeepEqual(again, tables[i]) {
			t.Errorf("table %d differs between two generations", i)
		}
	}
	t.Logf("%d tables, %d columns", len(tables), columns)
}

// Generated names are unique and clear of the spec's tables, and each
// table's column names are unique (Columns panics otherwise).
func TestLargeCatalogueNamesAreUnique(t *testing.T) {
	t.Parallel()
	names, codes := map[string]bool{}, map[int]bool{}
	for _, tab := range slices.Concat(allTables(), Large()) {
		if names[tab.LogicalName] || codes[tab.ObjectTypeCode] {
			t.Errorf("%s (%d) listed twice", tab.LogicalName, tab.ObjectTypeCode)
		}
		names[tab.LogicalName], codes[tab.ObjectTypeCode] = true, true
	}
	for _, tab := range Large() {
		if tab.Custom || !strings.HasPrefix(tab.LogicalName, largePrefix) || tab.LogicalName != strings.ToLower(tab.SchemaName) {
			t.Errorf("%s (%s): not a managed %s table", tab.LogicalName, tab.SchemaName, largePrefix)
		}
		for _, c := range tab.Columns() {
			if c.Type == "Picklist" && len(c.Options) < 3 && !tab.Custom && strings.HasPrefix(c.LogicalName, largePrefix) {
				t.Errorf("%s.%s: %d options", tab.LogicalName, c.LogicalName, len(c.Options))
			}
		}
	}
}
