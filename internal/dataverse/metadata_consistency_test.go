package dataverse_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// These tests run against the emulator with its metadata cache on (30 s
// after a write, reads without Consistency: Strong see the definition as
// before it), as Dataverse behaves.

// quickClient is emulatorClient with one fast transport retry.
func quickClient(t *testing.T, srv *emulator.Server) *dataverse.Client {
	t.Helper()
	clientID := uuid.NewString()
	srv.AddSecretClient(clientID, "secret-"+clientID)
	c, err := dataverse.New(dataverse.Config{
		EnvironmentURL: srv.EnvironmentURL(),
		Settings: msapi.Settings{
			Credential: emulatorToken{srv: srv, clientID: clientID}, HTTPClient: srv.HTTPClient(),
			MaxRetries: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two changes of one table in a row, each by a new process (a new cache),
// within the cache window: the second must read the definition strongly,
// or its PUT would write back the definition before the first change.
func TestTwoTableChangesWithinTheCacheWindow(t *testing.T) {
	t.Parallel()
	srv, c := emulatorClient(t)
	before, _ := srv.EntityAudit("account")
	first := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	if _, err := first.ApplyTableAudit(t.Context(), dataverse.TableAuditChange{Table: "account",
		Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveAuditEnabled: !before.IsRetrieveAuditEnabled}}); err != nil {
		t.Fatal(err)
	}
	second := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	if _, err := second.ApplyTableAudit(t.Context(), dataverse.TableAuditChange{Table: "account",
		Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveMultipleAuditEnabled: !before.IsRetrieveMultipleAuditEnabled}}); err != nil {
		t.Fatal(err)
	}
	after, _ := srv.EntityAudit("account")
	if after.IsRetrieveAuditEnabled == before.IsRetrieveAuditEnabled || after.IsRetrieveMultipleAuditEnabled == before.IsRetrieveMultipleAuditEnabled {
		t.Errorf("IsRetrieveAuditEnabled %v -> %v, IsRetrieveMultipleAuditEnabled %v -> %v: the second change reverted the first",
			before.IsRetrieveAuditEnabled, after.IsRetrieveAuditEnabled, before.IsRetrieveMultipleAuditEnabled, after.IsRetrieveMultipleAuditEnabled)
	}
}

// The same for columns: the cast GET before a column PUT reads strongly.
func TestTwoColumnChangesWithinTheCacheWindow(t *testing.T) {
	t.Parallel()
	srv, c := emulatorClient(t)
	ctx := t.Context()
	info, err := c.GetEntityAuditInfo(ctx, "contact", dataverse.WithColumns)
	if err != nil {
		t.Fatal(err)
	}
	was := info.Attributes["jobtitle"].IsAuditEnabled.Value
	for range 2 { // flip, then flip back: the second read must see the first
		m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
		cur, _ := srv.EntityAudit("contact")
		if _, err := m.ApplyColumnAudit(ctx, dataverse.ColumnAuditChange{Table: "contact",
			Columns: map[string]bool{"jobtitle": !cur.Attributes["jobtitle"].IsAuditEnabled}, Current: info}); err != nil {
			t.Fatal(err)
		}
		info.Attributes["jobtitle"].IsAuditEnabled.Value = !cur.Attributes["jobtitle"].IsAuditEnabled
	}
	if after, _ := srv.EntityAudit("contact"); after.Attributes["jobtitle"].IsAuditEnabled != was {
		t.Errorf("jobtitle audit %v, want %v (flipped twice)", after.Attributes["jobtitle"].IsAuditEnabled, was)
	}
}

// After its own write, the cache reads the table again strongly; a new
// cache (the next command) reads it in bulk, maybe stale, unless asked for
// the latest with RequireLatest.
//
// Counts: every audit read is two requests (or $batch parts): the saved
// definitions, RetrieveEntity (one table) or RetrieveAllEntities (every
// table) with RetrieveAsIfPublished=true, and the published audit fields, a
// plain GET of EntityDefinitions with $select. A strong read must send the
// header on both: the saved values are the ones verified after a write, the
// published ones decide `published`. The splice read before a PUT is one
// request (saved only), always strong.
// definitionReads counts the reads of one table's definitions: saved
// (RetrieveEntity) and published (GET EntityDefinitions).
func definitionReads(srv *emulator.Server) int {
	return srv.RequestCount("GET RetrieveEntity") + srv.RequestCount("GET EntityDefinitions")
}

func TestCacheReadsStronglyAfterAWrite(t *testing.T) {
	t.Parallel()
	srv, c := emulatorClient(t)
	ctx := t.Context()
	before, _ := srv.EntityAudit("lead")
	want := !before.IsRetrieveAuditEnabled
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	if _, err := m.Entity(ctx, "lead"); err != nil { // read first
		t.Fatal(err)
	}
	srv.ResetCounters()
	if _, err := m.ApplyTableAudit(ctx, dataverse.TableAuditChange{Table: "lead",
		Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveAuditEnabled: want}}); err != nil {
		t.Fatal(err)
	}
	if s, r := srv.StrongConsistencyCount(), definitionReads(srv); s != 1 || r != 1 {
		t.Errorf("the change: %d strong of %d definition reads, want 1 of 1 (the saved definition read for the splice)", s, r)
	}
	if at, ok := m.LastWrite("lead"); !ok || time.Since(at) > time.Minute {
		t.Errorf("LastWrite = %v, %v", at, ok)
	}
	e, err := m.Entity(ctx, "lead")
	if err != nil {
		t.Fatal(err)
	}
	if e.IsRetrieveAuditEnabled != want {
		t.Errorf("re-read after the write: %v, want %v", e.IsRetrieveAuditEnabled, want)
	}
	// The re-read: saved and published in one $batch, the batch and both
	// parts strong (1 + 3).
	if s, r := srv.StrongConsistencyCount(), definitionReads(srv); s != 4 || r != 3 {
		t.Errorf("after the re-read: %d strong of %d definition reads, want 4 of 3 (splice read, then a $batch of saved and published)", s, r)
	}

	next := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	srv.ResetCounters()
	if e, _ := next.Entity(ctx, "lead"); e.IsRetrieveAuditEnabled == want {
		t.Error("the emulator's cache window is off: a cached read saw the change at once")
	}
	if s, r := srv.StrongConsistencyCount(), definitionReads(srv); s != 0 || r != 2 {
		t.Errorf("cached read: %d strong of %d definition reads, want 0 of 2 (saved and published, cached)", s, r)
	}
	next.RequireLatest("lead")
	if e, _ := next.Entity(ctx, "lead"); e.IsRetrieveAuditEnabled != want {
		t.Errorf("after RequireLatest: %v, want %v", e.IsRetrieveAuditEnabled, want)
	}
	next.RequireLatest("lead") // read strongly already: no request
	if _, err := next.Entity(ctx, "lead"); err != nil {
		t.Fatal(err)
	}
	// RequireLatest after the cached read: the table again, strongly (a
	// $batch of saved and published, all three strong); the second
	// RequireLatest sends nothing.
	if s, r := srv.StrongConsistencyCount(), definitionReads(srv); s != 3 || r != 4 {
		t.Errorf("after RequireLatest: %d strong of %d definition reads, want 3 of 4", s, r)
	}
	if _, ok := next.LastWrite("lead"); ok {
		t.Error("LastWrite for a table this cache did not write")
	}

	// Many tables written by the last command: one strong bulk read.
	many := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	srv.ResetCounters()
	for _, table := range []string{"lead", "account", "contact"} {
		many.RequireLatest(table)
	}
	var wg sync.WaitGroup
	for _, table := range []string{"lead", "account", "contact"} {
		wg.Go(func() {
			e, err := many.Entity(ctx, table)
			if err != nil {
				t.Error(err)
				return
			}
			if table == "lead" && e.IsRetrieveAuditEnabled != want {
				t.Errorf("strong read: %v, want %v", e.IsRetrieveAuditEnabled, want)
			}
		})
	}
	wg.Wait()
	// The three concurrent reads go in one $batch: saved and published of
	// each, every part and the batch strong.
	reads := srv.RequestCount("GET RetrieveAllEntities") + srv.RequestCount("GET RetrieveEntity") + srv.RequestCount("GET EntityDefinitions")
	if s, b := srv.StrongConsistencyCount(), srv.RequestCount("POST $batch"); s != 7 || reads != 6 || b != 1 {
		t.Errorf("three tables required latest: %d strong, %d metadata reads in %d $batch; want 7, 6 in 1", s, reads, b)
	}

	naive := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{Disabled: true})
	naive.RequireLatest("lead")
	if e, _ := naive.Entity(ctx, "lead"); e.IsRetrieveAuditEnabled != want {
		t.Errorf("Disabled cache after RequireLatest: %v, want %v", e.IsRetrieveAuditEnabled, want)
	}
}

// A table required latest after the cache read every table is read again
// with every table, strongly, and the strong read replaces the cached value
// (a cached read of every table keeps the tables it already holds).
func TestStrongReadOfEveryTableReplacesCachedTables(t *testing.T) {
	t.Parallel()
	srv, c := emulatorClient(t)
	ctx := t.Context()
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{PerTableReadLimit: -1})
	before, err := m.Table(ctx, "lead") // a read of every table, cached
	if err != nil {
		t.Fatal(err)
	}
	want := !before.IsRetrieveAuditEnabled
	writer := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	if _, err := writer.ApplyTableAudit(ctx, dataverse.TableAuditChange{Table: "lead",
		Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveAuditEnabled: want}}); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	m.RequireLatest("lead")
	e, err := m.Table(ctx, "lead")
	if err != nil {
		t.Fatal(err)
	}
	if e.IsRetrieveAuditEnabled != want {
		t.Errorf("after RequireLatest: %v, want %v (the strong read of every table)", e.IsRetrieveAuditEnabled, want)
	}
	if n := srv.StrongConsistencyCount(); n == 0 {
		t.Error("no strong read after RequireLatest")
	}
}

// A metadata PUT refused because a solution import runs is sent again until
// the import ends.
func TestMetadataWriteWaitsForAnImport(t *testing.T) {
	t.Parallel()
	srv, c := emulatorWith(t, emulator.Options{})
	before, _ := srv.EntityAudit("account")
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{LockRetryWait: 20 * time.Millisecond})
	// The import ends once it has refused the PUT twice (counted, not timed).
	release := srv.HoldCustomizationLock("Import")
	go func() {
		for srv.LockConflictCount() < 2 {
			time.Sleep(time.Millisecond)
		}
		release()
	}()
	if _, err := m.ApplyTableAudit(t.Context(), dataverse.TableAuditChange{Table: "account",
		Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveAuditEnabled: !before.IsRetrieveAuditEnabled}}); err != nil {
		t.Fatal(err)
	}
	if after, _ := srv.EntityAudit("account"); after.IsRetrieveAuditEnabled == before.IsRetrieveAuditEnabled {
		t.Error("not written")
	}
	if srv.LockConflictCount() < 2 {
		t.Errorf("LockConflictCount = %d: the import did not refuse the PUT", srv.LockConflictCount())
	}
}

// When the context ends first, the error says both: the deadline and the
// lock refusal naming the import.
func TestMetadataWriteGivesUpAtTheDeadline(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t, emulator.Options{})
	c := quickClient(t, srv)
	release := srv.HoldCustomizationLock("Import")
	defer release()
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{LockRetryWait: 20 * time.Millisecond})
	// Long enough for the read before the write on a loaded machine: the
	// deadline must fall among the refused writes.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := m.ApplyColumnAudit(ctx, dataverse.ColumnAuditChange{Table: "account", Columns: map[string]bool{"name": false},
		Current: &dataverse.EntityAuditInfo{Attributes: map[string]*dataverse.AttributeAuditInfo{"name": {
			LogicalName: "name", ODataType: "Microsoft.Dynamics.CRM.StringAttributeMetadata", IsAuditEnabled: dataverse.BooleanManagedProperty{Value: true, CanBeChanged: true}}}}})
	if !errors.Is(err, context.DeadlineExceeded) || !dataverse.IsCustomizationLock(err) || !strings.Contains(err.Error(), "previous [Import] running") {
		t.Fatalf("err = %v", err)
	}
	var we *dataverse.AuditWriteError
	if !errors.As(err, &we) || we.Step != dataverse.WritingDefinition || we.Column != "name" {
		t.Errorf("not the column's write step: %#v", we)
	}
}

// An interrupted apply changed a table (or a column) and was killed before
// saving state; the next apply's bulk read still shows it as before
// (Dataverse's cache). The change finds the definition already right,
// writes nothing, and the check after it must not compare with the outdated
// bulk read.
func TestChangeAlreadyMadeByAnInterruptedApply(t *testing.T) {
	t.Parallel()
	for _, disabled := range []bool{false, true} {
		for _, column := range []bool{false, true} {
			srv, c := emulatorClient(t)
			ctx := t.Context()
			before, _ := srv.EntityAudit("contact")
			want, wantCol := !before.IsRetrieveAuditEnabled, !before.Attributes["jobtitle"].IsAuditEnabled
			tableChange := dataverse.TableAuditChange{Table: "contact", Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveAuditEnabled: want}}
			apply := func(m *dataverse.MetadataCache, current *dataverse.EntityAuditInfo) {
				t.Helper()
				var err error
				if column {
					_, err = m.ApplyColumnAudit(ctx, dataverse.ColumnAuditChange{Table: "contact", Columns: map[string]bool{"jobtitle": wantCol}, Current: current})
				} else {
					_, err = m.ApplyTableAudit(ctx, tableChange)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			killed := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
			info, _ := killed.Entity(ctx, "contact")
			apply(killed, info)

			next := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{Disabled: disabled})
			stale, _ := next.Entity(ctx, "contact")
			if stale.IsRetrieveAuditEnabled == want || stale.Attributes["jobtitle"].IsAuditEnabled.Value == wantCol {
				t.Fatal("the emulator's cache window is off")
			}
			srv.ResetCounters()
			apply(next, stale)
			if n := srv.RequestCount("PUT EntityDefinitions"); n != 0 {
				t.Errorf("disabled=%t column=%t: %d PUTs for a change already made", disabled, column, n)
			}
			if _, ok := next.LastWrite("contact"); !ok {
				t.Errorf("disabled=%t column=%t: LastWrite does not report the hidden change", disabled, column)
			}
			after, err := next.Entity(ctx, "contact")
			if err != nil {
				t.Fatal(err)
			}
			if column && after.Attributes["jobtitle"].IsAuditEnabled.Value != wantCol || !column && after.IsRetrieveAuditEnabled != want {
				t.Errorf("disabled=%t column=%t: the check after the change sees retrieve=%t jobtitle=%t, want %t %t", disabled, column,
					after.IsRetrieveAuditEnabled, after.Attributes["jobtitle"].IsAuditEnabled.Value, want, wantCol)
			}
		}
	}
}

// Whether Dataverse refuses a metadata PUT while another tool's publish runs
// is not documented. Refused (the emulator's default) the PUT is sent again
// once the publish ends; accepted, it goes through at once. Both ways the
// change is made.
func TestMetadataWriteDuringAnotherPublish(t *testing.T) {
	t.Parallel()
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("accept=%t", accept), func(t *testing.T) {
			t.Parallel()
			srv, c := emulatorWith(t, emulator.Options{AcceptMetadataWritesDuringPublish: accept})
			before, _ := srv.EntityAudit("account")
			m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{LockRetryWait: 20 * time.Millisecond})
			if _, err := m.Entity(t.Context(), "account"); err != nil {
				t.Fatal(err)
			}
			// The publish ends once it has refused the PUT twice (counted,
			// not timed); accepted, the PUT ends it.
			release := srv.HoldCustomizationLock("Publish")
			done := make(chan struct{})
			go func() {
				defer close(done)
				for srv.LockConflictCount() < 2 && !written(srv, before) {
					time.Sleep(time.Millisecond)
				}
				release()
			}()
			if _, err := m.ApplyTableAudit(t.Context(), dataverse.TableAuditChange{Table: "account",
				Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveAuditEnabled: !before.IsRetrieveAuditEnabled}}); err != nil {
				t.Fatal(err)
			}
			<-done
			if after, _ := srv.EntityAudit("account"); after.IsRetrieveAuditEnabled == before.IsRetrieveAuditEnabled {
				t.Error("not written")
			}
			if n, want := srv.LockConflictCount(), map[bool]int{false: 2, true: 0}[accept]; n != want {
				t.Errorf("LockConflictCount = %d, want %d", n, want)
			}
		})
	}
}

func written(srv *emulator.Server, before emulator.EntityAuditState) bool {
	now, _ := srv.EntityAudit("account")
	return now.IsRetrieveAuditEnabled != before.IsRetrieveAuditEnabled
}

// This client's own PUTs never meet its own publish: a PUT waits while the
// client publishes, so no request is refused with the customization lock.
func TestMetadataWriteWaitsForOwnPublish(t *testing.T) {
	t.Parallel()
	clock := emulator.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv, c := emulatorWith(t, emulator.Options{TimeSource: clock, PublishBaseDuration: time.Hour, PublishPerTableDuration: -1,
		ExecutionTimePerWindow: -1, MetadataCacheWindow: -1})
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{LockRetryWait: 5 * time.Millisecond})
	before, _ := srv.EntityAudit("account")
	if _, err := m.Entity(t.Context(), "account"); err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() { published <- c.PublishXML(t.Context(), []string{"contact"}) }()
	for clock.Waiters() == 0 {
		time.Sleep(time.Millisecond) // until the publish runs
	}
	applied := make(chan error, 1)
	go func() {
		_, err := m.ApplyTableAudit(t.Context(), dataverse.TableAuditChange{Table: "account",
			Values: map[dataverse.TableAuditField]bool{dataverse.TableRetrieveAuditEnabled: !before.IsRetrieveAuditEnabled}})
		applied <- err
	}()
	time.Sleep(200 * time.Millisecond) // a PUT sent now would be refused
	clock.Advance(time.Hour)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if err := <-applied; err != nil {
		t.Fatal(err)
	}
	if n := srv.LockConflictCount(); n != 0 {
		t.Errorf("LockConflictCount = %d: the client's PUT met its own publish", n)
	}
	if !written(srv, before) {
		t.Error("not written")
	}
}
