package catalogue

import (
	"fmt"
	"strings"
	"sync"
)

// The large catalogue: the tables a real organization with several
// Dynamics 365 apps installed has on top of the core ones, on the order of
// 1,000 tables and 80,000–100,000 columns. Names and labels are built from
// the word lists below, so definitions have realistic sizes (two-language
// labels of two or three words, type-specific properties, option sets of
// 3–8 options) without a data file. Everything is derived from the table's
// index: the same call gives the same tables.

// LargeTableCount is the number of tables Large returns.
const LargeTableCount = 1000

// largePrefix is the publisher prefix of the generated tables (the
// Dynamics 365 apps' own), so that they are managed components.
const largePrefix = "msdyn_"

// largeFirstObjectTypeCode keeps the generated tables clear of the spec's
// codes (standard below 10000, custom from 10000, Generated from 20001).
const largeFirstObjectTypeCode = 30000

// word is an English word (or two) and its German translation.
type word struct{ en, de string }

// largeSubjects × largeKinds name the tables: 40 × 25 = 1,000.
var largeSubjects = []word{
	{"Agreement", "Vereinbarung"}, {"Booking", "Buchung"}, {"Resource", "Ressource"}, {"Work Order", "Arbeitsauftrag"},
	{"Project", "Projekt"}, {"Invoice", "Rechnung"}, {"Asset", "Anlage"}, {"Warranty", "Garantie"},
	{"Inspection", "Prüfung"}, {"Shipment", "Lieferung"}, {"Warehouse", "Lager"}, {"Vendor", "Lieferant"},
	{"Purchase Order", "Bestellung"}, {"Time Entry", "Zeiteintrag"}, {"Expense", "Ausgabe"}, {"Skill", "Fähigkeit"},
	{"Territory", "Gebiet"}, {"Customer Asset", "Kundenanlage"}, {"Incident Type", "Vorfalltyp"}, {"Service Task", "Serviceaufgabe"},
	{"Case Topic", "Fallthema"}, {"Entitlement", "Berechtigung"}, {"Knowledge Article", "Wissensartikel"}, {"Survey", "Umfrage"},
	{"Campaign Activity", "Kampagnenaktivität"}, {"Segment", "Segment"}, {"Journey", "Customer Journey"}, {"Lead Score", "Leadbewertung"},
	{"Forecast", "Prognose"}, {"Sales Goal", "Verkaufsziel"}, {"Price Rule", "Preisregel"}, {"Discount", "Rabatt"},
	{"Contract", "Vertrag"}, {"Payment", "Zahlung"}, {"Bank Account", "Bankkonto"}, {"Tax Code", "Steuercode"},
	{"Ledger", "Hauptbuch"}, {"Budget", "Budget"}, {"Employee", "Mitarbeiter"}, {"Position", "Position"},
}

var largeKinds = []word{
	{"", ""}, {"Line", "Position"}, {"Template", "Vorlage"}, {"Schedule", "Zeitplan"}, {"Detail", "Detail"},
	{"Category", "Kategorie"}, {"Setting", "Einstellung"}, {"Log", "Protokoll"}, {"Type", "Typ"}, {"Status", "Status"},
	{"Plan", "Plan"}, {"Assignment", "Zuweisung"}, {"Request", "Anforderung"}, {"Approval", "Genehmigung"}, {"Rule", "Regel"},
	{"History", "Verlauf"}, {"Group", "Gruppe"}, {"Journal", "Journal"}, {"Estimate", "Schätzung"}, {"Characteristic", "Merkmal"},
	{"Requirement", "Anforderungsdetail"}, {"Allocation", "Zuordnung"}, {"Version", "Version"}, {"Review", "Überprüfung"}, {"Mapping", "Zuordnungsregel"},
}

// largeColumnWords name the generated columns (with a type cycle and a
// number where a table needs more columns than words).
var largeColumnWords = []word{
	{"Account Number", "Kontonummer"}, {"Actual Cost", "Tatsächliche Kosten"}, {"Approved On", "Genehmigt am"}, {"Category", "Kategorie"},
	{"Code", "Code"}, {"Comments", "Kommentare"}, {"Completed On", "Abgeschlossen am"}, {"Cost Center", "Kostenstelle"},
	{"Country", "Land"}, {"Currency Amount", "Währungsbetrag"}, {"Customer Reference", "Kundenreferenz"}, {"Description", "Beschreibung"},
	{"Discount Rate", "Rabattsatz"}, {"Due Date", "Fälligkeitsdatum"}, {"Duration", "Dauer"}, {"Email Address", "E-Mail-Adresse"},
	{"End Date", "Enddatum"}, {"Estimated Revenue", "Geschätzter Umsatz"}, {"External Identifier", "Externe ID"}, {"Is Billable", "Abrechenbar"},
	{"Is Internal", "Intern"}, {"Language", "Sprache"}, {"Latitude", "Breitengrad"}, {"Location", "Standort"},
	{"Longitude", "Längengrad"}, {"Manager", "Vorgesetzter"}, {"Notes", "Notizen"}, {"Phone Number", "Telefonnummer"},
	{"Priority", "Priorität"}, {"Quantity", "Menge"}, {"Reason", "Grund"}, {"Region", "Region"},
	{"Reviewed By", "Überprüft von"}, {"Risk Level", "Risikostufe"}, {"Sequence", "Reihenfolge"}, {"Source", "Quelle"},
	{"Start Date", "Startdatum"}, {"Stage", "Phase"}, {"Total Amount", "Gesamtbetrag"}, {"Unit Price", "Einzelpreis"},
	{"Website", "Website"}, {"Weight", "Gewicht"},
}

var largeOptionWords = []word{
	{"Draft", "Entwurf"}, {"Submitted", "Übermittelt"}, {"In Review", "In Prüfung"}, {"Approved", "Genehmigt"},
	{"Rejected", "Abgelehnt"}, {"On Hold", "Angehalten"}, {"Completed", "Abgeschlossen"}, {"Cancelled", "Abgebrochen"},
}

// largeColumnTypes is the type cycle of a table's own columns, roughly the
// mix of a real organization: text first, then choices, lookups, flags and
// dates, a few numbers and long texts.
var largeColumnTypes = []string{
	"String", "Picklist", "Lookup", "String", "Boolean", "DateTime", "String", "Integer", "Picklist", "Lookup",
	"Decimal", "String", "Money", "Memo", "DateTime", "Boolean", "String", "Picklist", "Lookup", "String",
}

// Large returns the large catalogue's LargeTableCount managed tables
// (msdyn_…), each with 45 to 84 own columns of every common type; with the
// columns Dataverse adds (primary id and name, system, ownership, state,
// version, a name column per lookup) they hold more than 80,000 columns.
// The tables are built once per process and shared: callers must not modify
// them.
func Large() []Table { return largeTables() }

var largeTables = sync.OnceValue(func() []Table {
	out := make([]Table, 0, LargeTableCount)
	for i := range LargeTableCount {
		out = append(out, largeTable(i))
	}
	return out
})

func largeTable(i int) Table {
	subject := largeSubjects[i/len(largeKinds)]
	kind := largeKinds[i%len(largeKinds)]
	en, de := subject.en, subject.de
	if kind.en != "" {
		en, de = subject.en+" "+kind.en, kind.de+" ("+subject.de+")"
	}
	schema := largePrefix + strings.ReplaceAll(en, " ", "")
	ownership := "UserOwned"
	if i%3 == 2 {
		ownership = "OrganizationOwned"
	}
	t := Table{
		LogicalName:    strings.ToLower(schema),
		SchemaName:     schema,
		ObjectTypeCode: largeFirstObjectTypeCode + i,
		English:        [2]string{en, plural(en)},
		German:         [2]string{de, de},
		Ownership:      ownership,
		AuditEnabled:   i%4 != 3,
		// A few tables' auditing is fixed by their solution.
		AuditLocked:       i%50 == 49,
		IntroducedVersion: fmt.Sprintf("9.%d.0.0", 1+i%3),
		PrimaryName:       largePrefix + "name",
		PrimaryNameLabel:  &[2]string{"Name", "Name"},
	}
	t.Own = largeColumns(i, t.LogicalName)
	return t
}

// plural is the English plural of a display name.
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "y") && !strings.HasSuffix(s, "ey"):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "ch"):
		return s + "es"
	}
	return s + "s"
}

// largeColumns are table i's own columns: 45 + (i·7 mod 40) of them.
func largeColumns(i int, table string) []Column {
	n := 45 + (i*7)%40
	out := make([]Column, 0, n)
	for j := range n {
		w := largeColumnWords[(i+j)%len(largeColumnWords)]
		typ := largeColumnTypes[(i+j)%len(largeColumnTypes)]
		en, de := w.en, w.de
		if round := j / len(largeColumnWords); round > 0 {
			en, de = fmt.Sprintf("%s %d", en, round+1), fmt.Sprintf("%s %d", de, round+1)
		}
		schema := largePrefix + strings.ReplaceAll(strings.ReplaceAll(en, " ", ""), "-", "")
		if typ == "Lookup" {
			schema += "Id"
		}
		out = append(out, largeColumn(Column{
			Type: typ, LogicalName: strings.ToLower(schema), SchemaName: schema, English: en, German: de,
		}, i+j, table))
	}
	return out
}

// largeColumn fills the type-specific properties of c, varied by seed.
func largeColumn(c Column, seed int, table string) Column {
	switch c.Type {
	case "String":
		c.MaxLength = []int{100, 200, 50, 850, 4000}[seed%5]
		c.Format = []string{"Text", "Text", "Email", "Phone", "Url"}[seed%5]
		if seed%7 == 0 {
			c.RequiredLevel = "ApplicationRequired"
		}
	case "Memo":
		c.MaxLength = []int{2000, 4000, 10000, 1048576}[seed%4]
	case "Integer":
		c.Min, c.Max = raw("0"), raw("2147483647")
		if seed%2 == 0 {
			c.Min, c.Max, c.Format = raw("-2147483648"), raw("2147483647"), "None"
		}
	case "Decimal":
		c.Min, c.Max, c.Precision = raw("-100000000000"), raw("100000000000"), 2+seed%4
	case "Money":
		c.Min, c.Max = raw("-922337203685477.0"), raw("922337203685477.0")
		c.Precision = 2 + seed%3
	case "DateTime":
		if seed%2 == 0 {
			c.Format = "DateOnly"
		}
	case "Lookup":
		// Lookups point at core tables and at the table's neighbours.
		c.Targets = []string{[]string{"account", "contact", "systemuser", "team", "businessunit"}[seed%5]}
		if seed%6 == 0 {
			c.Targets = []string{table}
		}
	case "Picklist":
		n := 3 + seed%6
		c.Options = make([]Option, n)
		for k := range n {
			w := largeOptionWords[(seed+k)%len(largeOptionWords)]
			c.Options[k] = Option{Value: 100000000 + k, English: w.en, German: w.de}
		}
	}
	if seed%11 == 0 {
		no := false
		c.Auditable = &no
	}
	return c
}

func raw(s string) []byte { return []byte(s) }
