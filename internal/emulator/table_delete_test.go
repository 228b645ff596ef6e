package emulator

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// A deleted custom table leaves the catalogue and the metadata routes, and
// keeps its audit history; system tables cannot be deleted.
func TestDeleteTable(t *testing.T) {
	t.Parallel()
	s, token := metaServer(t, Options{})
	s.SeedAuditHistory(300, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 3)
	countRows := func() int {
		n := 0
		for _, r := range s.AuditRecords() {
			if r.ObjectTypeCode == "new_project" {
				n++
			}
		}
		return n
	}
	before := countRows()
	if before == 0 {
		t.Fatal("the seed wrote no new_project rows")
	}
	if err := s.DeleteTable("new_project"); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s.EntityNames(), "new_project") {
		t.Error("new_project is still among EntityNames")
	}
	if r := callAPI(t, s, http.MethodGet, "EntityDefinitions(LogicalName='new_project')", token, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("GET the deleted table: status %d, want 404", r.status)
	}
	if after := countRows(); after != before {
		t.Errorf("audit rows of new_project: %d after the delete, %d before", after, before)
	}
	for _, name := range []string{"account", "new_project"} {
		if err := s.DeleteTable(name); err == nil {
			t.Errorf("DeleteTable(%s) succeeded", name)
		}
	}
}
