package dataverse_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"

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

// EntitiesWithColumns (dynamics365_entities) reads the tables it is given,
// 50 to a $batch: a few tables cost one request and a fraction of the
// catalogue, every table works where one answer of the whole catalogue is
// over the answer limit, and an unpublished column change shows.
func TestEntitiesWithColumnsGrowsWithTheTablesNamed(t *testing.T) {
	t.Parallel()
	srv, _, wc := countedEmulator(t, 100)
	ctx := t.Context()
	// One read of every table with every column, saved and published: the
	// saved answer is almost all of it.
	if _, err := limitedClient(t, srv, wc, 0).ListEntityAuditInfo(ctx, dataverse.WithColumns); err != nil {
		t.Fatal(err)
	}
	whole := wc.bytes.Load()
	limit := whole * 3 / 4
	c := limitedClient(t, srv, wc, limit)
	if _, err := c.ListEntityAuditInfo(ctx, dataverse.WithColumns); err == nil {
		t.Fatalf("reading every table with its columns in one answer (%d bytes in all) passed a %d-byte limit", whole, limit)
	}

	saved, _ := srv.EntityAudit("account")
	var col string
	for name, a := range saved.Attributes {
		if a.CanBeChanged && a.AttributeOf == "" {
			col = name
			break
		}
	}
	if err := srv.SaveEntityAudit("account", func(a *emulator.EntityAuditState) {
		x := a.Attributes[col]
		x.IsAuditEnabled = !x.IsAuditEnabled
		a.Attributes[col] = x
	}); err != nil {
		t.Fatal(err)
	}
	wc.reset()
	few, err := c.EntitiesWithColumns(ctx, []string{"account", "contact", "new_nosuchtable"})
	if err != nil {
		t.Fatal(err)
	}
	if n, b := wc.requests.Load(), wc.bytes.Load(); n != 1 || b > whole/10 {
		t.Errorf("3 names: %d requests, %d bytes; want 1 request and at most a tenth of %d", n, b, whole)
	}
	if len(few) != 2 || few["contact"] == nil || len(few["contact"].Attributes) == 0 {
		t.Fatalf("got %d tables (%v), want account and contact with columns", len(few), keys(few))
	}
	if u := few["account"].UnpublishedAuditChanges(); len(u) != 1 || u[0] != col {
		t.Errorf("account unpublished = %v, want [%s]", u, col)
	}

	list, err := c.ListEntityAuditInfo(ctx, dataverse.WithoutColumns)
	if err != nil {
		t.Fatal(err)
	}
	wc.reset()
	all, err := c.EntitiesWithColumns(ctx, keys(list))
	if err != nil {
		t.Fatalf("every table, 50 to a request, under the limit: %v", err)
	}
	want := (len(list) + dataverse.ColumnReadTables - 1) / dataverse.ColumnReadTables
	if n := wc.requests.Load(); int(n) != want || len(all) != len(list) {
		t.Errorf("%d tables: %d requests, %d read; want %d requests", len(list), n, len(all), want)
	}
}

// limitedClient is a client of srv through wc with an answer limit (0: the
// default).
func limitedClient(t *testing.T, srv *emulator.Server, wc *wireCounter, limit int64) *dataverse.Client {
	t.Helper()
	clientID := uuid.NewString()
	srv.AddSecretClient(clientID, "secret-"+clientID)
	c, err := dataverse.New(dataverse.Config{
		EnvironmentURL: srv.EnvironmentURL(),
		Settings: msapi.Settings{Credential: emulatorToken{srv: srv, clientID: clientID},
			HTTPClient: &http.Client{Transport: wc}, MaxResponseBytes: limit},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
