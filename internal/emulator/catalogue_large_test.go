package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator/catalogue"
)

// The large catalogue's definitions are what the emulator's own PUT
// accepts: each member is a property of its type with a valid value.
func TestLargeCatalogueDefinitionsAreValid(t *testing.T) {
	t.Parallel()
	checked := 0
	for i, tab := range catalogue.Large() {
		if i%10 != 0 {
			// A tenth of the tables: column types, formats and option
			// counts cycle over the table index and the column's, so
			// these hold every variant (checking all 93,000 columns
			// takes a minute).
			continue
		}
		name, e := tab.LogicalName, largeCatalogue()[tab.LogicalName]
		for _, p := range e.props {
			spec, ok := findProp(entitySchema, p.name)
			if !ok {
				t.Fatalf("%s: %s is not an EntityMetadata property", name, p.name)
			}
			if msg := checkProp(spec, p.value); msg != "" {
				t.Fatalf("%s.%s: %s", name, p.name, msg)
			}
		}
		for _, a := range e.attrs {
			schema := attributeSchema(a.odataType)
			for _, p := range a.props {
				spec, ok := findProp(schema, p.name)
				if !ok {
					t.Fatalf("%s.%s: %s is not a property of %s", name, a.logicalName, p.name, a.odataType)
				}
				if msg := checkProp(spec, p.value); msg != "" {
					t.Fatalf("%s.%s.%s: %s", name, a.logicalName, p.name, msg)
				}
			}
			if a.optionSet != nil && !json.Valid(a.optionSet) {
				t.Fatalf("%s.%s: option set is not JSON", name, a.logicalName)
			}
			checked++
		}
	}
	if checked < 8000 {
		t.Errorf("%d columns checked", checked)
	}
}

// A large-catalogue table read with RetrieveEntity (option sets inline)
// and written back column by column round-trips: every PUT is accepted,
// and the options a PUT carries do not change them.
func TestLargeCatalogueColumnsRoundTrip(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{LargeCatalogue: true})
	if n := len(s.EntityNames()); n < 1000 {
		t.Fatalf("%d tables with LargeCatalogue", n)
	}
	for _, tab := range []catalogue.Table{catalogue.Large()[0], catalogue.Large()[2]} {
		path := fmt.Sprintf("RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',LogicalName='%s',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=true)", tab.LogicalName)
		read := func() []map[string]json.RawMessage {
			var body struct {
				EntityMetadata struct{ Attributes []map[string]json.RawMessage }
			}
			if err := json.Unmarshal(callAPI(t, s, http.MethodGet, path, token, nil, nil).body, &body); err != nil {
				t.Fatal(err)
			}
			return body.EntityMetadata.Attributes
		}
		before := read()
		options := 0
		for _, a := range before {
			var typ, name string
			_ = json.Unmarshal(a["@odata.type"], &typ)
			_ = json.Unmarshal(a["LogicalName"], &name)
			if _, has := a["OptionSet"]; has {
				options++
			}
			a["@odata.type"] = mustRaw(strings.Replace(typ, ".Complex", ".", 1))
			r := callAPI(t, s, http.MethodPut, fmt.Sprintf("EntityDefinitions(LogicalName='%s')/Attributes(LogicalName='%s')", tab.LogicalName, name),
				token, a, map[string]string{headerMergeLabels: "true"})
			if r.status != http.StatusNoContent {
				t.Fatalf("PUT %s.%s: %d %s", tab.LogicalName, name, r.status, r.body)
			}
		}
		if options == 0 {
			t.Errorf("%s: no column carries an OptionSet", tab.LogicalName)
		}
		for i, a := range read() {
			if string(a["OptionSet"]) != string(before[i]["OptionSet"]) {
				t.Errorf("%s column %d: option set changed by the round trip", tab.LogicalName, i)
			}
		}
	}
}
