package emulator

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator/catalogue"
)

// catalogueShape is what an environment's catalogue holds besides the
// standard and custom spec tables (Options.ExtraCustomTables,
// Options.LargeCatalogue).
type catalogueShape struct {
	extraCustomTables int
	large             bool
}

// largeCatalogue is the large catalogue's tables (catalogue.Large) expanded
// once per process, like standardCatalogue: they are managed, so their ids
// come from the standard namespace and are the same in every environment,
// and environments copy the structs and share the immutable member values.
// Expanding 80,000 columns takes about a second; a process that starts
// many large environments (make bench) pays it once.
var largeCatalogue = sync.OnceValue(func() map[string]*entityDef {
	b := catalogueBuilder{standardNS: standardMetadataNamespace}
	tables := catalogue.Large()
	// Tables expand independently: one share of them per processor.
	defs := make([]*entityDef, len(tables))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(tables); i += workers {
				defs[i] = b.entity(tables[i])
				defs[i].published = defs[i].snapshot()
			}
		}()
	}
	wg.Wait()
	out := make(map[string]*entityDef, len(defs))
	for _, e := range defs {
		if _, dup := out[e.logicalName]; dup {
			panic("catalogue: duplicate table " + e.logicalName)
		}
		out[e.logicalName] = e
	}
	return out
})

// optionSet renders a Picklist's local option set as a
// ComplexOptionSetMetadata (Web API reference, "ComplexOptionSetMetadata
// ComplexType"; options as "OptionMetadata ComplexType"), or nil when the
// spec lists no options. Local option sets are named <table>_<column>.
func (b catalogueBuilder) optionSet(t catalogue.Table, c catalogue.Column) json.RawMessage {
	if len(c.Options) == 0 {
		return nil
	}
	owner := "optionset/" + t.LogicalName + "/" + c.LogicalName
	options := make([]object, len(c.Options))
	for i, o := range c.Options {
		options[i] = object{
			{"Value", o.Value},
			{"Color", nil},
			{"IsManaged", !t.Custom},
			{"ExternalValue", nil},
			{"ParentValues", []int{}},
			{"Tag", nil},
			{"IsHidden", false},
			{"MetadataId", nil},
			{"HasChanged", nil},
			{"Label", b.label(t, fmt.Sprintf("%s/%d/Label", owner, o.Value), o.English, o.German)},
			{"Description", b.label(t, fmt.Sprintf("%s/%d/Description", owner, o.Value), "", "")},
		}
	}
	version, _ := releaseOf(t)
	return catalogueValue(object{
		{"Options", options},
		{"ParentOptionSetName", nil},
		{"IsGlobal", false},
		{"IsCustomOptionSet", t.Custom},
		{"IsManaged", !t.Custom},
		{"IsCustomizable", managed(true, t.Custom, "iscustomizable")},
		{"Name", t.LogicalName + "_" + c.LogicalName},
		{"ExternalTypeName", nil},
		{"OptionSetType", "Picklist"},
		{"IntroducedVersion", version},
		{"MetadataId", b.id(t, owner)},
		{"HasChanged", nil},
		{"Description", b.label(t, owner+"/Description", "", "")},
		{"DisplayName", b.label(t, owner+"/DisplayName", c.English, c.German)},
	})
}
