package dataverse_test

import (
	"testing"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// The published view of a table's columns is read for the columns the
// caller names, with $select and $filter; a caller naming a column not
// read yet reads the table again, and an unpublished column change shows
// for the columns read.
func TestMetadataCachePublishedColumnsFollowTheCaller(t *testing.T) {
	t.Parallel()
	srv, c := emulatorClient(t)
	ctx := t.Context()
	saved, _ := srv.EntityAudit("account")
	var cols []string
	for name, a := range saved.Attributes {
		if a.CanBeChanged && a.AttributeOf == "" && len(cols) < 2 {
			cols = append(cols, name)
		}
	}
	if len(cols) < 2 {
		t.Fatalf("account has %d changeable columns", len(cols))
	}
	// A column change saved but not published.
	if err := srv.SaveEntityAudit("account", func(a *emulator.EntityAuditState) {
		col := a.Attributes[cols[1]]
		col.IsAuditEnabled = !col.IsAuditEnabled
		a.Attributes[cols[1]] = col
	}); err != nil {
		t.Fatal(err)
	}
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	srv.ResetCounters()
	e, err := m.Entity(ctx, "account", cols[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Attributes) != len(saved.Attributes) {
		t.Errorf("%d saved columns, want every column (%d)", len(e.Attributes), len(saved.Attributes))
	}
	if got := keys(e.Published.Attributes); len(got) != 1 || got[0] != cols[0] {
		t.Errorf("published columns read: %v, want only %s", got, cols[0])
	}
	if u := e.UnpublishedAuditChanges(); len(u) != 0 {
		t.Errorf("unpublished = %v; %s was not asked for", u, cols[1])
	}
	// One $batch: the saved definition (RetrieveEntity), the table's
	// published fields and the named column's (two plain GETs).
	if n, r, g := srv.RequestCount("POST $batch"), srv.RequestCount("GET RetrieveEntity"), srv.RequestCount("GET EntityDefinitions"); n != 1 || r != 1 || g != 2 {
		t.Errorf("%d $batch, %d RetrieveEntity, %d GET EntityDefinitions; want 1, 1, 2", n, r, g)
	}
	if _, err := m.Entity(ctx, "account", cols[0]); err != nil {
		t.Fatal(err)
	}
	if n := srv.RequestCount("POST $batch"); n != 1 {
		t.Errorf("the same columns again: %d $batch, want no new read", n)
	}
	e, err = m.Entity(ctx, "account", cols...)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.RequestCount("POST $batch"); n != 2 {
		t.Errorf("a column not read yet: %d $batch, want a second read", n)
	}
	if u := e.UnpublishedAuditChanges(); len(u) != 1 || u[0] != cols[1] {
		t.Errorf("unpublished = %v, want [%s]", u, cols[1])
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
