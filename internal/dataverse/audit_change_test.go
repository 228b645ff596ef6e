package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

const auditChangeBase = "/api/data/v9.2/EntityDefinitions(LogicalName='account')"

// fakeDefinitions serves one table's full definition and its columns' (cast
// GET, uncast PUT) and the audit reads the cache makes, all from the stored
// definitions; a PUT replaces the stored definition.
type fakeDefinitions struct {
	mu      sync.Mutex
	table   string
	columns map[string]string // column → definition
	types   map[string]string // column → metadata type
	failPut map[string]bool   // column whose PUT fails
	rec     msapitest.Recorder
}

func newFakeDefinitions(table string) *fakeDefinitions {
	return &fakeDefinitions{table: table, columns: map[string]string{}, types: map[string]string{}, failPut: map[string]bool{}}
}

func (f *fakeDefinitions) addColumn(name, odataType string, audit, canChange bool) {
	def, _ := json.Marshal(map[string]any{
		"@odata.context": "ctx", "LogicalName": name, "MaxValue": json.Number("100000000000000.0000000000"),
		"IsAuditEnabled": managed(audit, canChange),
	})
	f.columns[name], f.types[name] = string(def), odataType
}

func (f *fakeDefinitions) auditRow() map[string]any {
	var row map[string]any
	_ = json.Unmarshal([]byte(f.table), &row)
	var cols []any
	for name, def := range f.columns {
		var c map[string]any
		_ = json.Unmarshal([]byte(def), &c)
		cols = append(cols, map[string]any{"@odata.type": "#" + f.types[name], "LogicalName": name, "IsAuditEnabled": c["IsAuditEnabled"]})
	}
	row["Attributes"] = cols
	return row
}

// fullTable is the table with every column's full definition, as
// RetrieveEntity(EntityFilters Attributes) returns it.
func (f *fakeDefinitions) fullTable() string {
	cols := make([]string, 0, len(f.columns))
	for name, def := range f.columns {
		cols = append(cols, `{"@odata.type":"#Microsoft.Dynamics.CRM.Complex`+strings.TrimPrefix(f.types[name], "Microsoft.Dynamics.CRM.")+`",`+strings.TrimPrefix(def, "{"))
	}
	return strings.TrimSuffix(f.table, "}") + `,"Attributes":[` + strings.Join(cols, ",") + `]}`
}

func (f *fakeDefinitions) handler(w http.ResponseWriter, r *http.Request) {
	f.rec.Record(r)
	body, _ := io.ReadAll(r.Body) // Record left it readable
	f.mu.Lock()
	defer f.mu.Unlock()
	col, cast, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, auditChangeBase), "/Attributes(LogicalName='"), "')")
	cast = strings.TrimPrefix(cast, "/")
	call, isCall := parseMetadataCall(r)
	switch {
	case isCall && !call.all && call.table != "account":
		writeJSON(w, http.StatusNotFound, odataErr("0x80040217", "Could not find entity "+call.table))
	case isCall && call.all:
		writeJSON(w, http.StatusOK, map[string]any{"EntityMetadata": []any{f.auditRow()}})
	case isCall && call.withColumns && call.saved:
		_, _ = io.WriteString(w, `{"EntityMetadata":`+f.fullTable()+`}`)
	case isCall && call.withColumns:
		writeJSON(w, http.StatusOK, map[string]any{"EntityMetadata": f.auditRow()})
	case isCall:
		_, _ = io.WriteString(w, `{"EntityMetadata":`+f.table+`}`)
	case r.URL.Path == auditChangeBase && r.Method == http.MethodPut:
		f.table = string(body)
		w.WriteHeader(http.StatusNoContent)
	case f.columns[col] != "" && r.Method == http.MethodGet && cast == f.types[col]:
		_, _ = io.WriteString(w, f.columns[col])
	case f.columns[col] != "" && r.Method == http.MethodPut && cast == "" && !f.failPut[col]:
		f.columns[col] = string(body)
		w.WriteHeader(http.StatusNoContent)
	case f.failPut[col]:
		writeJSON(w, http.StatusBadRequest, odataErr("0x80040203", "PUT rejected"))
	default:
		writeJSON(w, http.StatusNotFound, odataErr("0x8006088a", "no "+r.Method+" "+r.URL.Path))
	}
}

func (f *fakeDefinitions) requests() []string {
	reqs := f.rec.Requests()
	out := make([]string, len(reqs))
	for i, r := range reqs {
		call, isCall := parseMetadataCall(r)
		switch {
		case isCall && call.saved && call.withColumns:
			out[i] = r.Method + " saved columns"
		case isCall && call.saved:
			out[i] = r.Method + " saved table"
		default:
			out[i] = r.Method + " " + strings.TrimPrefix(r.URL.Path, auditChangeBase)
		}
	}
	return out
}

func newAuditChangeTest(t *testing.T, f *fakeDefinitions) *MetadataCache {
	t.Helper()
	b := &batchUnwrapper{h: f.handler}
	c, _, _ := newTestServer(t, b.handler, fastRetries)
	return NewMetadataCache(c, MetadataCacheOptions{})
}

// A table definition with labels in two languages, an exact decimal and a
// property this client does not know.
const auditChangeTableDef = `{"@odata.context":"c","@odata.etag":"W/\"7\"","LogicalName":"account","MaxValue":100000000000.0000000001,` +
	`"IsAuditEnabled":{"Value":false,"CanBeChanged":true,"ManagedPropertyLogicalName":"canmodifyauditsettings"},` +
	`"IsRetrieveAuditEnabled":false,"IsRetrieveMultipleAuditEnabled":true,` +
	`"DisplayName":{"LocalizedLabels":[{"Label":"Account","LanguageCode":1033},{"Label":"Firma <&>","LanguageCode":1031}]},"Future":{"x":[1.50]}}`

func TestApplyTableAuditWritesOnlyTheAuditFields(t *testing.T) {
	t.Parallel()
	f := newFakeDefinitions(auditChangeTableDef)
	m := newAuditChangeTest(t, f)
	ctx := context.Background()
	res, err := m.ApplyTableAudit(ctx, TableAuditChange{Table: "account", Solution: "AuditBaseline", Values: map[TableAuditField]bool{
		TableAuditEnabled: true, TableRetrieveAuditEnabled: false, TableRetrieveMultipleAuditEnabled: false,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (map[TableAuditField]bool{TableAuditEnabled: false, TableRetrieveMultipleAuditEnabled: true}); !reflect.DeepEqual(res.Originals, want) {
		t.Errorf("Originals = %v, want %v", res.Originals, want)
	}
	if want := (map[TableAuditField]bool{TableAuditEnabled: true, TableRetrieveMultipleAuditEnabled: false}); !reflect.DeepEqual(res.Written, want) {
		t.Errorf("Written = %v, want %v", res.Written, want)
	}
	if got := strings.Join(f.requests(), ", "); got != "GET saved table, PUT " {
		t.Fatalf("requests: %s", got)
	}
	put := f.rec.Request(1)
	if put.Header.Get("MSCRM.MergeLabels") != "true" || put.Header.Get("MSCRM.SolutionUniqueName") != "AuditBaseline" {
		t.Errorf("PUT headers = %v", put.Header)
	}
	// Byte for byte the definition read, minus its annotations, with the two values changed.
	want := strings.NewReplacer(`"@odata.context":"c","@odata.etag":"W/\"7\"",`, ``, `{"Value":false`, `{"Value":true`,
		`"IsRetrieveMultipleAuditEnabled":true`, `"IsRetrieveMultipleAuditEnabled":false`).Replace(auditChangeTableDef)
	if string(f.rec.Body(1)) != want {
		t.Errorf("PUT body\n got %s\nwant %s", f.rec.Body(1), want)
	}
	// The write invalidated the table: the next read is of that table alone and sees the change.
	e, err := m.Entity(ctx, "account")
	if err != nil || !e.IsAuditEnabled.Value || e.IsRetrieveMultipleAuditEnabled {
		t.Fatalf("after the write: %+v, %v", e, err)
	}
	if b, s := m.Stats(); b != 0 || s != 1 {
		t.Errorf("loads after the write: %d bulk, %d single; want the table re-read on its own", b, s)
	}
}

func TestApplyTableAuditNothingToWrite(t *testing.T) {
	t.Parallel()
	f := newFakeDefinitions(auditChangeTableDef)
	m := newAuditChangeTest(t, f)
	ctx := context.Background()
	res, err := m.ApplyTableAudit(ctx, TableAuditChange{Table: "account", Values: map[TableAuditField]bool{
		TableAuditEnabled: false, TableRetrieveMultipleAuditEnabled: true,
	}})
	if err != nil || len(res.Written) != 0 || len(res.Originals) != 0 {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	if got := strings.Join(f.requests(), ", "); got != "GET saved table" {
		t.Errorf("requests: %s; want the definition read and no PUT", got)
	}
	if _, err := m.Entity(ctx, "account"); err != nil {
		t.Fatal(err)
	}
	if b, s := m.Stats(); b != 0 || s != 1 {
		t.Errorf("loads: %d bulk, %d single; nothing written must leave the table valid", b, s)
	}
}

func TestApplyTableAuditLocked(t *testing.T) {
	t.Parallel()
	locked := strings.Replace(auditChangeTableDef, `"CanBeChanged":true`, `"CanBeChanged":false`, 1)
	f := newFakeDefinitions(strings.Replace(locked, `"LogicalName":"account",`, `"LogicalName":"account","IsManaged":true,`, 1))
	m := newAuditChangeTest(t, f)
	ctx := context.Background()
	_, err := m.ApplyTableAudit(ctx, TableAuditChange{Table: "account", Values: map[TableAuditField]bool{
		TableAuditEnabled: true, TableRetrieveAuditEnabled: true,
	}})
	var le *AuditLockedError
	if !errors.As(err, &le) || le.Table != "account" || le.Column != "" || le.Field != TableAuditEnabled || le.Current.Value || !le.Wanted {
		t.Fatalf("err = %#v", err)
	}
	if got := strings.Join(f.requests(), ", "); got != "GET saved table" {
		t.Errorf("requests: %s; a lock must stop before the PUT", got)
	}
	// Locked but already as wanted: no error, the other field is written.
	res, err := m.ApplyTableAudit(ctx, TableAuditChange{Table: "account", Values: map[TableAuditField]bool{
		TableAuditEnabled: false, TableRetrieveAuditEnabled: true,
	}})
	if err != nil || !reflect.DeepEqual(res.Written, map[TableAuditField]bool{TableRetrieveAuditEnabled: true}) {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
}

func TestApplyTableAuditReadFails(t *testing.T) {
	t.Parallel()
	f := newFakeDefinitions(auditChangeTableDef)
	m := newAuditChangeTest(t, f)
	_, err := m.ApplyTableAudit(context.Background(), TableAuditChange{Table: "contact", Values: map[TableAuditField]bool{TableAuditEnabled: true}})
	var we *AuditWriteError
	if !errors.As(err, &we) || we.Step != ReadingDefinition || we.Table != "contact" || !IsNotFound(err) {
		t.Fatalf("err = %#v", err)
	}
}

func auditInfoOfFake(t *testing.T, m *MetadataCache) *EntityAuditInfo {
	t.Helper()
	e, err := m.Entity(context.Background(), "account")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestApplyColumnAudit(t *testing.T) {
	t.Parallel()
	f := newFakeDefinitions(auditChangeTableDef)
	const money, str = "Microsoft.Dynamics.CRM.MoneyAttributeMetadata", "Microsoft.Dynamics.CRM.StringAttributeMetadata"
	f.addColumn("revenue", money, false, true)
	f.addColumn("name", str, true, true)
	f.addColumn("fax", str, false, true)
	m := newAuditChangeTest(t, f)
	ctx := context.Background()
	current := auditInfoOfFake(t, m)
	// Someone else turned fax on since the bulk read.
	f.addColumn("fax", str, true, true)
	n := f.rec.Count()

	res, err := m.ApplyColumnAudit(ctx, ColumnAuditChange{Table: "account", Solution: "S", Current: current,
		Columns: map[string]bool{"revenue": true, "name": true, "fax": true}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Written, map[string]bool{"revenue": true}) || !reflect.DeepEqual(res.Originals, map[string]bool{"revenue": false}) {
		t.Errorf("res = %+v", res)
	}
	// name matches the bulk read: no request. fax: read (with every column,
	// once), already on, not written.
	got := strings.Join(f.requests()[n:], ", ")
	want := "GET saved columns, PUT /Attributes(LogicalName='revenue')"
	if got != want {
		t.Errorf("requests\n got %s\nwant %s", got, want)
	}
	last := f.rec.Count() - 1
	put := f.rec.Request(last)
	body := string(f.rec.Body(last))
	if put.Header.Get("MSCRM.MergeLabels") != "true" || put.Header.Get("MSCRM.SolutionUniqueName") != "S" {
		t.Errorf("PUT headers = %v", put.Header)
	}
	if want := `{"@odata.type":"#` + money + `","IsAuditEnabled":{"CanBeChanged":true,"ManagedPropertyLogicalName":"canmodifyauditsettings","Value":true},"LogicalName":"revenue","MaxValue":100000000000000.0000000000}`; body != want {
		t.Errorf("PUT body\n got %s\nwant %s", body, want)
	}
	if e := auditInfoOfFake(t, m); !e.Attributes["revenue"].IsAuditEnabled.Value {
		t.Errorf("the write was not re-read: %+v", e.Attributes["revenue"])
	}
	if b, s := m.Stats(); b != 0 || s != 2 {
		t.Errorf("loads: %d bulk, %d single; want the table read, then re-read on its own", b, s)
	}
}

func TestApplyColumnAuditStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	f := newFakeDefinitions(auditChangeTableDef)
	const str = "Microsoft.Dynamics.CRM.StringAttributeMetadata"
	f.addColumn("a", str, false, true)
	f.addColumn("b", str, false, true)
	f.addColumn("c", str, false, true)
	f.addColumn("locked", str, false, false)
	f.columns["locked"] = strings.Replace(f.columns["locked"], `{`, `{"IsManaged":true,`, 1)
	f.failPut["b"] = true
	m := newAuditChangeTest(t, f)
	ctx := context.Background()
	current := auditInfoOfFake(t, m)

	res, err := m.ApplyColumnAudit(ctx, ColumnAuditChange{Table: "account", Current: current, Columns: map[string]bool{"a": true, "b": true, "c": true}})
	var we *AuditWriteError
	if !errors.As(err, &we) || we.Step != WritingDefinition || we.Column != "b" {
		t.Fatalf("err = %#v", err)
	}
	if apiErr, ok := AsError(err); !ok || apiErr.StatusCode != http.StatusBadRequest {
		t.Errorf("the API error is not reachable: %v", err)
	}
	if !reflect.DeepEqual(res.Written, map[string]bool{"a": true}) {
		t.Errorf("Written = %v; want what was written before the failure", res.Written)
	}
	if strings.Contains(strings.Join(f.requests(), ","), "LogicalName='c'") {
		t.Error("a column after the failure was touched")
	}
	// Written before the failure, so the table is read again.
	if e := auditInfoOfFake(t, m); !e.Attributes["a"].IsAuditEnabled.Value {
		t.Errorf("a = %+v", e.Attributes["a"])
	}

	_, err = m.ApplyColumnAudit(ctx, ColumnAuditChange{Table: "account", Current: current, Columns: map[string]bool{"locked": true}})
	var le *AuditLockedError
	if !errors.As(err, &le) || le.Column != "locked" || le.Field != TableAuditEnabled || !le.Wanted {
		t.Fatalf("err = %#v", err)
	}
}

// Managed properties lock managed components only: an unmanaged table or
// column whose IsAuditEnabled has CanBeChanged = false is still written, and
// a refusal by the service says so.
func TestApplyAuditUnmanagedLockedIsSent(t *testing.T) {
	t.Parallel()
	locked := strings.Replace(auditChangeTableDef, `"CanBeChanged":true`, `"CanBeChanged":false`, 1)
	f := newFakeDefinitions(locked)
	const str = "Microsoft.Dynamics.CRM.StringAttributeMetadata"
	f.addColumn("pk", str, false, false)
	f.failPut["pk"] = true
	m := newAuditChangeTest(t, f)
	ctx := context.Background()
	res, err := m.ApplyTableAudit(ctx, TableAuditChange{Table: "account", Values: map[TableAuditField]bool{TableAuditEnabled: true}})
	if err != nil || !res.Written[TableAuditEnabled] {
		t.Fatalf("unmanaged locked table: res = %+v, err = %v", res, err)
	}
	_, err = m.ApplyColumnAudit(ctx, ColumnAuditChange{Table: "account", Current: auditInfoOfFake(t, m), Columns: map[string]bool{"pk": true}})
	var we *AuditWriteError
	if !errors.As(err, &we) || we.Step != WritingDefinition || we.Column != "pk" || !we.SentDespiteLock {
		t.Fatalf("err = %#v", err)
	}
}
