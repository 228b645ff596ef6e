package dataverse

import (
	"context"
	"slices"
	"testing"
)

// LogicalNames serves every table's name once an unknown table was asked
// for (one small read of the names), and leaves out a table a re-read found
// deleted.
func TestMetadataCacheLogicalNames(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(3)
	m := newCacheTest(t, f, MetadataCacheOptions{})
	ctx := context.Background()
	if got := m.LogicalNames(); len(got) != 0 {
		t.Errorf("before any read: %q, want none", got)
	}
	if _, err := m.Entity(ctx, "nosuchtable"); !IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	if got, want := m.LogicalNames(), []string{"t00", "t01", "t02"}; !slices.Equal(got, want) {
		t.Errorf("after an unknown table: %q, want %q", got, want)
	}
	f.remove("t01")
	m.Invalidate("t01")
	if _, err := m.Entity(ctx, "t01"); !IsNotFound(err) {
		t.Fatalf("deleted table: err = %v", err)
	}
	if got, want := m.LogicalNames(), []string{"t00", "t02"}; !slices.Equal(got, want) {
		t.Errorf("after t01 was deleted: %q, want %q", got, want)
	}
	if b, s := f.counts(); b != 0 || s != 2 {
		t.Errorf("requests: %d bulk, %d single; want 0 and 2 (the unknown table, the re-read of t01)", b, s)
	}
}
