package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMetadataServer serves the audit reads of EntityDefinitions over a set
// of tables whose audit flag tests can flip.
type fakeMetadataServer struct {
	delay time.Duration

	mu     sync.Mutex
	audit  map[string]bool // table → IsAuditEnabled.Value
	failN  int             // fail this many next bulk reads with a 400
	bulk   atomic.Int64
	single atomic.Int64
	// bulkStarted is closed when the first bulk read arrives.
	bulkStarted     chan struct{}
	bulkStartedOnce sync.Once
	// http counts the HTTP requests ($batch once) and answers $batch.
	http *batchUnwrapper
}

func newFakeMetadata(n int) *fakeMetadataServer {
	f := &fakeMetadataServer{audit: map[string]bool{}, bulkStarted: make(chan struct{})}
	for i := range n {
		f.audit[fmt.Sprintf("t%02d", i)] = i%2 == 0
	}
	return f
}

func (f *fakeMetadataServer) row(name string) map[string]any {
	return entityRow(name, f.audit[name],
		attrRow("name", "Microsoft.Dynamics.CRM.StringAttributeMetadata", f.audit[name], nil),
		attrRow("createdbyname", "Microsoft.Dynamics.CRM.StringAttributeMetadata", false, "createdby"))
}

func (f *fakeMetadataServer) handler(w http.ResponseWriter, r *http.Request) {
	call, ok := parseMetadataCall(r)
	switch {
	case !ok && strings.HasSuffix(r.URL.Path, "/EntityDefinitions") && r.URL.Query().Get("$select") == "LogicalName":
		f.mu.Lock()
		defer f.mu.Unlock()
		rows := []any{}
		for name := range f.audit {
			rows = append(rows, map[string]any{"LogicalName": name})
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": rows})
	case !ok:
		writeJSON(w, http.StatusNotFound, odataErr("0x8006088a", "no such segment"))
	case call.all && call.withColumns:
		writeJSON(w, http.StatusBadRequest, odataErr("0x80040203", "the cache must not read every column"))
	case call.all:
		// Each read asks for the saved and the published definitions;
		// count it once.
		if call.saved {
			f.bulk.Add(1)
		}
		f.bulkStartedOnce.Do(func() { close(f.bulkStarted) })
		time.Sleep(f.delay)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failN > 0 {
			f.failN--
			writeJSON(w, http.StatusBadRequest, odataErr("0x80040203", "bulk read failed"))
			return
		}
		rows := []any{}
		for name := range f.audit {
			rows = append(rows, f.row(name))
		}
		writeJSON(w, http.StatusOK, map[string]any{"EntityMetadata": rows})
	default:
		if call.saved {
			f.single.Add(1)
		}
		time.Sleep(f.delay)
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.audit[call.table]; !ok {
			writeJSON(w, http.StatusNotFound, odataErr("0x80040217", "Could not find an entity with name "+call.table))
			return
		}
		row := f.row(call.table)
		if !call.withColumns {
			delete(row, "Attributes")
		}
		writeJSON(w, http.StatusOK, map[string]any{"EntityMetadata": row})
	}
}

func (f *fakeMetadataServer) set(name string, audit bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit[name] = audit
}

func (f *fakeMetadataServer) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.audit, name)
}

func (f *fakeMetadataServer) counts() (bulk, single int) {
	return int(f.bulk.Load()), int(f.single.Load())
}

func newCacheTest(t *testing.T, f *fakeMetadataServer, opts MetadataCacheOptions) *MetadataCache {
	t.Helper()
	f.http = &batchUnwrapper{h: f.handler}
	c, _, _ := newTestServer(t, f.http.handler, fastRetries)
	return NewMetadataCache(c, opts)
}

// Concurrent callers: the first PerTableReadLimit tables are read on their
// own, coalesced into one $batch; the others wait for one bulk read of
// every table's table-level fields (saved and published: two requests).
func TestMetadataCacheCoalescesConcurrentCallers(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(60)
	f.delay = 50 * time.Millisecond
	m := newCacheTest(t, f, MetadataCacheOptions{FlushWindow: 200 * time.Millisecond})
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			name := fmt.Sprintf("t%02d", i)
			e, err := m.Table(ctx, name)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			if e.LogicalName != name || e.IsAuditEnabled.Value != (i%2 == 0) || e.Attributes != nil {
				t.Errorf("%s = %+v", name, e)
			}
		})
	}
	wg.Wait()
	if b, s := f.counts(); b != 1 || s != DefaultPerTableReadLimit {
		t.Errorf("reads: %d bulk, %d single; want 1 bulk and %d single", b, s, DefaultPerTableReadLimit)
	}
	if n, batches := f.http.requests.Load(), f.http.batches.Load(); n != 3 || batches != 1 {
		t.Errorf("%d HTTP requests (%d $batch); want 3: one $batch, the bulk read saved and published", n, batches)
	}

	// Columns are read per table, for the caller that needs them.
	e, err := m.Entity(ctx, "t00")
	if err != nil || len(e.Attributes) != 2 || e.Attributes["createdbyname"].AttributeOf != "createdby" ||
		e.Attributes["name"].ODataType != "Microsoft.Dynamics.CRM.StringAttributeMetadata" {
		t.Fatalf("t00 with columns = %+v, %v", e, err)
	}
	// Callers get copies.
	e.IsAuditEnabled.Value = false
	e.Attributes["name"].IsAuditEnabled.Value = false
	delete(e.Attributes, "createdbyname")
	again, _ := m.Entity(ctx, "t00")
	if !again.IsAuditEnabled.Value || !again.Attributes["name"].IsAuditEnabled.Value || len(again.Attributes) != 2 {
		t.Errorf("the cache was changed through a returned value: %+v", again)
	}
	if b, s := f.counts(); b != 1 || s != DefaultPerTableReadLimit+1 {
		t.Errorf("reads: %d bulk, %d single", b, s)
	}
}

func TestMetadataCacheInvalidate(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(10)
	f.delay = 20 * time.Millisecond
	m := newCacheTest(t, f, MetadataCacheOptions{})
	ctx := context.Background()
	if e, err := m.Entity(ctx, "t01"); err != nil || e.IsAuditEnabled.Value {
		t.Fatalf("t01 = %+v, %v", e, err)
	}
	f.set("t01", true)
	if e, _ := m.Entity(ctx, "t01"); e.IsAuditEnabled.Value {
		t.Fatal("served fresh data without invalidation: the cache did not cache")
	}
	m.Invalidate("t01")

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			e, err := m.Entity(ctx, "t01")
			if err != nil || !e.IsAuditEnabled.Value || !e.Attributes["name"].IsAuditEnabled.Value {
				t.Errorf("t01 after invalidation = %+v, %v", e, err)
			}
		})
	}
	wg.Wait()
	if b, s := f.counts(); b != 0 || s != 2 {
		t.Errorf("reads: %d bulk, %d single; want 0 and 2", b, s)
	}
	// Stored: no more requests for t01.
	for _, name := range []string{"t01", "t02", "t01"} {
		if _, err := m.Entity(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if b, s := f.counts(); b != 0 || s != 3 {
		t.Errorf("reads: %d bulk, %d single", b, s)
	}
	if b, s := m.Stats(); b != 0 || s != 3 {
		t.Errorf("Stats = %d, %d", b, s)
	}

	// A table deleted and invalidated: one read, then known missing.
	f.remove("t03")
	m.Invalidate("t03")
	for range 2 {
		if _, err := m.Entity(ctx, "t03"); !IsNotFound(err) {
			t.Errorf("deleted table: %v", err)
		}
	}
	if _, s := f.counts(); s != 4 {
		t.Errorf("%d single reads, want 4", s)
	}
}

func TestMetadataCacheInvalidateBeforeBulkLoad(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(5)
	m := newCacheTest(t, f, MetadataCacheOptions{PerTableReadLimit: 1})
	ctx := context.Background()
	m.Invalidate("t02")
	if _, err := m.Table(ctx, "t02"); err != nil { // read on its own
		t.Fatal(err)
	}
	if _, err := m.Table(ctx, "t03"); err != nil { // bulk: the limit is reached
		t.Fatal(err)
	}
	if _, err := m.Table(ctx, "t02"); err != nil {
		t.Fatal(err)
	}
	if b, s := f.counts(); b != 1 || s != 1 {
		t.Errorf("reads: %d bulk, %d single", b, s)
	}
}

func TestMetadataCacheUnknownTable(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(3)
	m := newCacheTest(t, f, MetadataCacheOptions{PerTableReadLimit: -1})
	ctx := context.Background()
	if _, err := m.Table(ctx, "t00"); err != nil {
		t.Fatal(err)
	}
	_, err := m.Table(ctx, "nosuchtable")
	if !IsNotFound(err) || !strings.Contains(err.Error(), `"nosuchtable"`) {
		t.Errorf("err = %v", err)
	}
	if b, s := f.counts(); b != 1 || s != 0 {
		t.Errorf("reads: %d bulk, %d single; want no extra request after the bulk read", b, s)
	}
	// Read on its own, an unknown table is a 404.
	m2 := newCacheTest(t, f, MetadataCacheOptions{})
	if _, err := m2.Table(ctx, "nosuchtable"); !IsNotFound(err) || !strings.Contains(err.Error(), "nosuchtable") {
		t.Errorf("per-table read: err = %v", err)
	}
	if _, err := m.Entity(ctx, "Not Valid"); err == nil || IsNotFound(err) {
		t.Errorf("invalid name: %v", err)
	}
}

func TestMetadataCacheDisabled(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(3)
	m := newCacheTest(t, f, MetadataCacheOptions{Disabled: true})
	ctx := context.Background()
	for _, name := range []string{"t00", "t01", "t00"} {
		e, err := m.Entity(ctx, name)
		if err != nil || e.LogicalName != name || len(e.Attributes) != 2 {
			t.Fatalf("%s = %+v, %v", name, e, err)
		}
	}
	if _, err := m.Entity(ctx, "nosuchtable"); !IsNotFound(err) {
		t.Errorf("err = %v", err)
	}
	if b, s := f.counts(); b != 0 || s != 4 {
		t.Errorf("requests: %d bulk, %d single; want one per call", b, s)
	}
	if b, s := m.Stats(); b != 0 || s != 4 {
		t.Errorf("Stats = %d, %d", b, s)
	}
}

func TestMetadataCacheLoadErrorIsNotCached(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(10)
	f.delay = 30 * time.Millisecond
	f.failN = 1
	m := newCacheTest(t, f, MetadataCacheOptions{PerTableReadLimit: -1})
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := m.Table(ctx, fmt.Sprintf("t%02d", i))
			if e, ok := AsError(err); !ok || e.StatusCode != http.StatusBadRequest {
				t.Errorf("waiter %d: err = %v", i, err)
			}
		})
	}
	wg.Wait()
	if b, _ := f.counts(); b != 1 {
		t.Errorf("%d bulk reads, want 1 shared", b)
	}
	if _, err := m.Table(ctx, "t04"); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if b, _ := f.counts(); b != 2 {
		t.Errorf("%d bulk reads, want 2", b)
	}
}

func TestMetadataCacheLeaderGivingUp(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(4)
	f.delay = 100 * time.Millisecond
	m := newCacheTest(t, f, MetadataCacheOptions{PerTableReadLimit: -1})

	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() {
		_, err := m.Table(ctxA, "t00")
		errA <- err
	}()
	<-f.bulkStarted // A runs the load
	errB := make(chan error, 1)
	go func() {
		_, err := m.Table(context.Background(), "t01")
		errB <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("A: %v", err)
	}
	if err := <-errB; err != nil {
		t.Errorf("B must not fail because A gave up: %v", err)
	}
	if b, _ := f.counts(); b != 2 {
		t.Errorf("%d bulk reads, want 2", b)
	}
}

func TestEntityAuditInfoClone(t *testing.T) {
	t.Parallel()
	var nilInfo *EntityAuditInfo
	if nilInfo.Clone() != nil {
		t.Error("nil clone")
	}
	e := &EntityAuditInfo{LogicalName: "a"}
	if c := e.Clone(); c.Attributes != nil || c == e {
		t.Errorf("clone = %+v", c)
	}
}

// With an Activity, coalesced reads go as soon as every tracked operation
// waits on them: eight operations reading their tables concurrently are
// answered by one $batch long before the (here one-hour) window ends.
func TestMetadataCacheFlushesWhenEveryOperationWaits(t *testing.T) {
	t.Parallel()
	f := newFakeMetadata(8)
	activity := NewActivity()
	m := newCacheTest(t, f, MetadataCacheOptions{FlushWindow: time.Hour, Activity: activity})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// All eight operations are in flight before any of them reads, as
	// Terraform's walk starts them.
	ends := make([]func(), 8)
	ctxs := make([]context.Context, 8)
	for i := range 8 {
		ctxs[i], ends[i] = activity.Begin(ctx)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			defer ends[i]()
			name := fmt.Sprintf("t%02d", i)
			if _, err := m.Table(ctxs[i], name); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	wg.Wait()
	if n, batches := f.http.requests.Load(), f.http.batches.Load(); n != 1 || batches != 1 {
		t.Errorf("%d HTTP requests (%d $batch); want the eight reads in one $batch", n, batches)
	}
	if ctx.Err() != nil {
		t.Fatal("the reads waited for the window instead of going once every operation waited")
	}
}

// A cached read of a table that finishes after a strong read of it must not
// replace the strong answer: Dataverse's metadata cache can still serve
// the definition from before the last change, and RequireLatest trusts a
// table read strongly (the baseline's apply once decided "nothing to
// write" from such an answer, right after a restore).
func TestMetadataCacheCachedReadDoesNotReplaceStrongOne(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	cachedStarted := make(chan struct{})
	var once sync.Once
	handler := func(w http.ResponseWriter, r *http.Request) {
		call, ok := parseMetadataCall(r)
		if !ok || call.all {
			writeJSON(w, http.StatusNotFound, odataErr("0x8006088a", "not in this test"))
			return
		}
		strong := r.Header.Get("Consistency") == "Strong"
		if !strong {
			once.Do(func() { close(cachedStarted) })
			<-release // answers after the strong read, with the old definition
		}
		writeJSON(w, http.StatusOK, map[string]any{"EntityMetadata": entityRow(call.table, strong)})
	}
	c, _, _ := newTestServer(t, (&batchUnwrapper{h: handler}).handler, fastRetries)
	m := NewMetadataCache(c, MetadataCacheOptions{})
	ctx := context.Background()

	cached := make(chan error, 1)
	go func() {
		_, err := m.Table(ctx, "account") // a plan check's cached read
		cached <- err
	}()
	<-cachedStarted
	m.RequireLatest("account") // the apply decides on the latest definition
	if e, err := m.Table(ctx, "account"); err != nil || !e.IsAuditEnabled.Value {
		t.Fatalf("strong read = %+v, %v", e, err)
	}
	close(release)
	if err := <-cached; err != nil {
		t.Fatal(err)
	}
	m.RequireLatest("account")
	if e, err := m.Table(ctx, "account"); err != nil || !e.IsAuditEnabled.Value {
		t.Fatalf("after the late cached read: %+v, %v; want the strong answer (audit on)", e, err)
	}
}
