package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

var strongHeader = map[string]string{"Consistency": "Strong"}

// getLatest is getOK with Consistency: Strong: the definition as saved,
// whatever the metadata cache holds.
func getLatest(t *testing.T, s *Server, token, path string) map[string]any {
	t.Helper()
	r := callAPI(t, s, http.MethodGet, path, token, nil, strongHeader)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return r.json(t)
}

func managedFlag(t *testing.T, m map[string]any, name string) any {
	t.Helper()
	v, ok := m[name].(map[string]any)
	if !ok {
		t.Fatalf("%s missing in %v", name, m)
	}
	return v["Value"]
}

// cachedReads reads account's IsRetrieveAuditEnabled and the audit setting
// of its column "name" in every shape a read of the saved definition has,
// with or without Consistency: Strong: the plain GETs (the server must run
// with PlainMetadataGetServesSaved, so that they serve the saved definition)
// and the functions with RetrieveAsIfPublished=true. Under "published …"
// it reads the same through the functions with RetrieveAsIfPublished=false.
func cachedReads(t *testing.T, s *Server, token string, headers map[string]string) map[string]any {
	t.Helper()
	get := func(path string) map[string]any {
		t.Helper()
		r := callAPI(t, s, http.MethodGet, path, token, nil, headers)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		return r.json(t)
	}
	nameColumn := func(attrs any) any {
		t.Helper()
		for _, a := range attrs.([]any) {
			if am := a.(map[string]any); am["LogicalName"] == "name" {
				return managedFlag(t, am, "IsAuditEnabled")
			}
		}
		t.Fatalf("no column name in %v", attrs)
		return nil
	}
	table := "EntityDefinitions(LogicalName='account')"
	out := map[string]any{}
	out["table"] = get(table + "?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"]
	coll := get("EntityDefinitions?$select=LogicalName,IsRetrieveAuditEnabled&$expand=Attributes($select=LogicalName,IsAuditEnabled)&$filter=" + urlQueryEscape("LogicalName eq 'account'"))
	item := coll["value"].([]any)[0].(map[string]any)
	out["collection"] = item["IsRetrieveAuditEnabled"]
	out["expanded column"] = nameColumn(item["Attributes"])
	out["attributes"] = nameColumn(get(table + "/Attributes?$select=LogicalName,IsAuditEnabled")["value"])
	out["column"] = managedFlag(t, get(table+"/Attributes(LogicalName='name')?$select=IsAuditEnabled"), "IsAuditEnabled")
	out["cast column"] = managedFlag(t, get(table+"/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata"), "IsAuditEnabled")
	for _, published := range []bool{false, true} {
		prefix, flag := "", "true"
		if published {
			prefix, flag = "published ", "false"
		}
		one := get("RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',LogicalName='account'," +
			"MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=" + flag + ")")["EntityMetadata"].(map[string]any)
		out[prefix+"RetrieveEntity"] = one["IsRetrieveAuditEnabled"]
		out[prefix+"RetrieveEntity column"] = nameColumn(one["Attributes"])
		for _, e := range get("RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',RetrieveAsIfPublished=" + flag + ")")["EntityMetadata"].([]any) {
			if em := e.(map[string]any); em["LogicalName"] == "account" {
				out[prefix+"RetrieveAllEntities"] = em["IsRetrieveAuditEnabled"]
				out[prefix+"RetrieveAllEntities column"] = nameColumn(em["Attributes"])
			}
		}
	}
	return out
}

// readsPerCachedReads is the number of requests cachedReads sends: five
// plain GETs and two function calls for each of saved and published.
const readsPerCachedReads = 9

// wantReads checks the saved-definition reads of cachedReads against table
// and column, and the published ones against published (table, column):
// nothing is published in these tests, so those never change.
func wantReads(t *testing.T, what string, got map[string]any, table, column bool, published [2]bool) {
	t.Helper()
	for _, k := range []string{"table", "collection", "RetrieveEntity", "RetrieveAllEntities"} {
		if got[k] != table {
			t.Errorf("%s: %s read IsRetrieveAuditEnabled = %v, want %v", what, k, got[k], table)
		}
	}
	for _, k := range []string{"expanded column", "attributes", "column", "cast column", "RetrieveEntity column", "RetrieveAllEntities column"} {
		if got[k] != column {
			t.Errorf("%s: %s read name.IsAuditEnabled = %v, want %v", what, k, got[k], column)
		}
	}
	for _, k := range []string{"published RetrieveEntity", "published RetrieveAllEntities"} {
		if got[k] != published[0] {
			t.Errorf("%s: %s read IsRetrieveAuditEnabled = %v, want %v (as published)", what, k, got[k], published[0])
		}
		if got[k+" column"] != published[1] {
			t.Errorf("%s: %s column read name.IsAuditEnabled = %v, want %v (as published)", what, k, got[k+" column"], published[1])
		}
	}
}

// The cache layer is tested on the saved definition, which PUTs change:
// the plain GETs run with PlainMetadataGetServesSaved (by default they serve
// the published one, which a PUT does not change), the functions with
// RetrieveAsIfPublished=true. The published reads must show neither PUT.
func TestMetadataCacheServesTheDefinitionBeforeAWrite(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s, token := metaServer(t, Options{TimeSource: clock, PlainMetadataGetServesSaved: true})
	table := "EntityDefinitions(LogicalName='account')"
	column := table + "/Attributes(LogicalName='name')"
	before := cachedReads(t, s, token, nil)
	oldTable, oldColumn := before["table"].(bool), before["column"].(bool)
	published := [2]bool{oldTable, oldColumn}
	wantReads(t, "before", before, oldTable, oldColumn, published)

	def := fullDefinition(t, s, token, table, "")
	if r := put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!oldTable)), nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// A column PUT reads its definition strongly, as a client must.
	r := callAPI(t, s, http.MethodGet, column+"/Microsoft.Dynamics.CRM.StringAttributeMetadata", token, nil, strongHeader)
	cdef, err := parseRawObject(r.body)
	if err != nil {
		t.Fatal(err)
	}
	cdef = append(rawObject{{"@odata.type", mustRaw("#Microsoft.Dynamics.CRM.StringAttributeMetadata")}}, cdef...)
	cdef = cdef.with("IsAuditEnabled", mustRaw(map[string]any{"Value": !oldColumn, "CanBeChanged": true, "ManagedPropertyLogicalName": "canmodifyauditsettings"}))
	s.ResetCounters()
	if r := put(t, s, token, column, cdef, nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}

	// Without the header: the table as it was before the last PUT (the
	// table PUT's change, not the column's).
	wantReads(t, "inside the window", cachedReads(t, s, token, nil), !oldTable, oldColumn, published)
	if got := s.StrongConsistencyCount(); got != 0 {
		t.Errorf("StrongConsistencyCount = %d", got)
	}
	// With it: the latest, every time.
	wantReads(t, "Consistency: Strong", cachedReads(t, s, token, strongHeader), !oldTable, !oldColumn, published)
	if got := s.StrongConsistencyCount(); got != readsPerCachedReads {
		t.Errorf("StrongConsistencyCount = %d, want %d", got, readsPerCachedReads)
	}
	// Other tables are not affected.
	if v := getOK(t, s, token, "EntityDefinitions(LogicalName='contact')?$select=LogicalName")["LogicalName"]; v != "contact" {
		t.Errorf("contact %v", v)
	}

	clock.Advance(29 * time.Second)
	wantReads(t, "29 s after", cachedReads(t, s, token, nil), !oldTable, oldColumn, published)
	clock.Advance(time.Second)
	wantReads(t, "30 s after", cachedReads(t, s, token, nil), !oldTable, !oldColumn, published)
}

// The plain GETs serve the saved definition here (PlainMetadataGetServesSaved),
// so that the PUT shows in the part that reads past the cache.
func TestMetadataCacheHeaderInBatchPart(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s, token := metaServer(t, Options{TimeSource: clock, PlainMetadataGetServesSaved: true})
	table := "EntityDefinitions(LogicalName='contact')"
	old := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"].(bool)
	def := fullDefinition(t, s, token, table, "")
	if r := put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!old)), nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	s.ResetCounters()
	get := "GET /api/data/v9.2/" + table + "?$select=IsRetrieveAuditEnabled HTTP/1.1\r\nAccept: application/json\r\n"
	ans := postBatch(t, s, token, []string{get + "\r\n", get + "Consistency: Strong\r\n\r\n"}, "")
	if ans.status != 200 || len(ans.bodies) != 2 {
		t.Fatalf("%d %v", ans.status, ans.bodies)
	}
	for i, want := range []string{`"IsRetrieveAuditEnabled":` + boolText(old), `"IsRetrieveAuditEnabled":` + boolText(!old)} {
		if !strings.Contains(ans.bodies[i], want) {
			t.Errorf("part %d: %s, want %s", i+1, ans.bodies[i], want)
		}
	}
	if got := s.StrongConsistencyCount(); got != 1 {
		t.Errorf("StrongConsistencyCount = %d, want 1 (the part that carried it)", got)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestMetadataCacheWindowOption(t *testing.T) {
	t.Parallel()
	table := "EntityDefinitions(LogicalName='lead')"
	for _, c := range []struct {
		name   string
		window time.Duration
		stale  bool
	}{
		{"off", -1, false},
		{"5 s", 5 * time.Second, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
			// Saved definitions on plain GETs: a PUT changes those.
			s, token := metaServer(t, Options{TimeSource: clock, MetadataCacheWindow: c.window, PlainMetadataGetServesSaved: true})
			old := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"].(bool)
			def := fullDefinition(t, s, token, table, "")
			if r := put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!old)), nil); r.status != 204 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			want := !old
			if c.stale {
				want = old
			}
			if got := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"]; got != want {
				t.Errorf("at once: %v, want %v", got, want)
			}
			if got := retrieveEntity(t, s, token, "lead", true)["IsRetrieveAuditEnabled"]; got != want {
				t.Errorf("at once, RetrieveEntity: %v, want %v", got, want)
			}
			clock.Advance(5 * time.Second)
			if got := getOK(t, s, token, table+"?$select=IsRetrieveAuditEnabled")["IsRetrieveAuditEnabled"]; got != !old {
				t.Errorf("after 5 s: %v, want %v", got, !old)
			}
			if got := retrieveEntity(t, s, token, "lead", true)["IsRetrieveAuditEnabled"]; got != !old {
				t.Errorf("after 5 s, RetrieveEntity: %v, want %v", got, !old)
			}
		})
	}
}

// A read-then-write without the header within the window PUTs back the
// stale definition: the earlier change is lost, as on the real service.
// The plain GET serves the saved definition, so that it is the cache, not
// the published copy, that is stale.
func TestMetadataCacheStaleWriteRevertsEarlierChange(t *testing.T) {
	t.Parallel()
	s, token := metaServer(t, Options{PlainMetadataGetServesSaved: true})
	table := "EntityDefinitions(LogicalName='account')"
	before, _ := s.EntityAudit("account")
	def := fullDefinition(t, s, token, table, "")
	put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(!before.IsRetrieveAuditEnabled)), nil)
	stale := fullDefinition(t, s, token, table, "")
	put(t, s, token, table, stale.with("IsRetrieveMultipleAuditEnabled", mustRaw(!before.IsRetrieveMultipleAuditEnabled)), nil)
	after, _ := s.EntityAudit("account")
	if after.IsRetrieveAuditEnabled != before.IsRetrieveAuditEnabled || after.IsRetrieveMultipleAuditEnabled == before.IsRetrieveMultipleAuditEnabled {
		t.Errorf("before %+v, after %+v: the second PUT should have reverted the first", before, after)
	}
}

// Microsoft's "Update table definitions" example sends the @odata.context
// of the GET in the PUT body; the service ignores it.
func TestPutAcceptsODataContext(t *testing.T) {
	t.Parallel()
	s, token := metaServer(t, Options{})
	table := "EntityDefinitions(LogicalName='lead')"
	r := callAPI(t, s, http.MethodGet, table, token, nil, nil)
	def, err := parseRawObject(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := def.get("@odata.context"); !ok {
		t.Fatal("the GET has no @odata.context")
	}
	stored, _ := s.EntityDefinitionJSON("lead")
	if r := put(t, s, token, table, def, map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if after, _ := s.EntityDefinitionJSON("lead"); string(after) != string(stored) {
		t.Errorf("the PUT changed the definition:\n%s\n%s", stored, after)
	}
	cdef := fullDefinition(t, s, token, table+"/Attributes(LogicalName='companyname')/Microsoft.Dynamics.CRM.StringAttributeMetadata", "#Microsoft.Dynamics.CRM.StringAttributeMetadata")
	cdef = append(rawObject{{"@odata.context", mustRaw(s.EnvironmentURL() + "/api/data/v9.2/$metadata#EntityDefinitions('x')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata/$entity")}}, cdef...)
	if r := put(t, s, token, table+"/Attributes(LogicalName='companyname')", cdef, nil); r.status != 204 {
		t.Fatalf("column: %d %s", r.status, r.body)
	}
}
