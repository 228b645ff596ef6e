package dataverse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// wireCounter counts the HTTP requests and response body bytes a client
// sends and reads.
type wireCounter struct {
	next     http.RoundTripper
	requests atomic.Int64
	bytes    atomic.Int64
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (w *wireCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	w.requests.Add(1)
	resp, err := w.next.RoundTrip(r)
	if resp != nil {
		resp.Body = countingBody{resp.Body, &w.bytes}
	}
	return resp, err
}

func (w *wireCounter) reset() { w.requests.Store(0); w.bytes.Store(0) }

// countedEmulator is an emulator with extra generated tables and a client
// whose requests and bytes are counted.
func countedEmulator(t *testing.T, extraTables int) (*emulator.Server, *dataverse.Client, *wireCounter) {
	t.Helper()
	srv := startEmulator(t, emulator.Options{ExtraCustomTables: extraTables})
	clientID := uuid.NewString()
	srv.AddSecretClient(clientID, "secret-"+clientID)
	hc := srv.HTTPClient()
	wc := &wireCounter{next: hc.Transport}
	c, err := dataverse.New(dataverse.Config{
		EnvironmentURL: srv.EnvironmentURL(),
		Settings:       msapi.Settings{Credential: emulatorToken{srv: srv, clientID: clientID}, HTTPClient: &http.Client{Transport: wc}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), &dataverse.Request{Method: http.MethodGet, Path: "WhoAmI"}); err != nil {
		t.Fatal(err)
	}
	wc.reset()
	return srv, c, wc
}

// forEachTable runs fn over names with Terraform's parallelism (10).
func forEachTable(names []string, fn func(name string)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for n := range work {
				fn(n)
			}
		})
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
}

func benchTables(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("new_bench%04d", i+1)
	}
	return out
}

// wholeCatalogueBytes is the size of one read of every table with every
// column, the read the cache made before.
func wholeCatalogueBytes(t *testing.T, c *dataverse.Client, wc *wireCounter) int64 {
	t.Helper()
	wc.reset()
	if _, err := c.ListEntityAuditInfo(context.Background(), dataverse.WithColumns); err != nil {
		t.Fatal(err)
	}
	return wc.bytes.Load() / 2 // saved and published
}

// A refresh of 300 table resources without columns, ten at a time: at most
// 5 requests and a fraction of one whole-catalogue read.
func TestMetadataCacheRefresh300Tables(t *testing.T) {
	t.Parallel()
	_, c, wc := countedEmulator(t, 300)
	whole := wholeCatalogueBytes(t, c, wc)
	wc.reset()
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{})
	forEachTable(benchTables(300), func(name string) {
		if _, err := m.Table(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	n, b := wc.requests.Load(), wc.bytes.Load()
	t.Logf("refresh of 300 tables: %d requests, %d bytes (one whole-catalogue read: %d bytes, %.0f%%)", n, b, whole, 100*float64(b)/float64(whole))
	if n > 5 {
		t.Errorf("%d requests, want at most 5", n)
	}
	if b > whole/4 {
		t.Errorf("%d bytes read, want at most 25%% of one whole-catalogue read (%d)", b, whole)
	}
}

// Three configured tables, with columns, on a catalogue of hundreds: one
// request (a $batch of saved and published per table).
func TestMetadataCacheThreeTablesOnABigCatalogue(t *testing.T) {
	t.Parallel()
	_, c, wc := countedEmulator(t, 1000)
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{FlushWindow: 100 * time.Millisecond})
	var wg sync.WaitGroup
	for _, name := range []string{"account", "contact", "new_bench0500"} {
		wg.Go(func() {
			e, err := m.Entity(context.Background(), name)
			if err != nil || len(e.Attributes) == 0 || e.Published == nil {
				t.Errorf("%s = %+v, %v", name, e, err)
			}
		})
	}
	wg.Wait()
	n, b := wc.requests.Load(), wc.bytes.Load()
	t.Logf("3 tables with columns on %d+ tables: %d requests, %d bytes", 1000, n, b)
	if n != 1 {
		t.Errorf("%d requests, want 1 $batch", n)
	}
	// Bytes: RetrieveEntity cannot select properties, so these are the
	// full definitions of the three tables (saved and published), not of
	// the catalogue: about 600 KB for account and contact with every
	// column. Bounded here by what three tables are, not by the issue's
	// 300 KB target (see read15-design.md).
	if b > 1<<20 {
		t.Errorf("%d bytes, want the definitions of three tables only (under 1 MB)", b)
	}
}

// Applying 60 tables ten at a time: the PUTs (one a table) and the strong
// definition reads and re-reads coalesced into $batch requests.
func TestMetadataCacheConcurrentAppliesRequestsPerTable(t *testing.T) {
	t.Parallel()
	srv, c, wc := countedEmulator(t, 60)
	names := benchTables(60)
	m := dataverse.NewMetadataCache(c, dataverse.MetadataCacheOptions{FlushWindow: 20 * time.Millisecond})
	forEachTable(names, func(name string) {
		m.RequireLatest(name)
		info, err := m.Table(context.Background(), name)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := m.ApplyTableAudit(context.Background(), dataverse.TableAuditChange{Table: name,
			Values: map[dataverse.TableAuditField]bool{dataverse.TableAuditEnabled: !info.IsAuditEnabled.Value}}); err != nil {
			t.Error(err)
			return
		}
		after, err := m.Table(context.Background(), name)
		if err != nil || after.IsAuditEnabled.Value == info.IsAuditEnabled.Value {
			t.Errorf("%s after the change = %+v, %v", name, after, err)
		}
	})
	n := wc.requests.Load()
	puts := srv.RequestCount("PUT EntityDefinitions")
	perTable := float64(n) / float64(len(names))
	t.Logf("60 applies: %d requests (%d PUTs), %.2f a table", n, puts, perTable)
	if puts != len(names) {
		t.Errorf("%d PUTs, want %d", puts, len(names))
	}
	// The flush window decides how many callers share a batch, so the
	// count varies a little from run to run: bounded, not exact. Without
	// coalescing it is 1 + 2 + 2 + 1 = 6 a table.
	if perTable > 2 {
		t.Errorf("%.2f requests a table, want at most 2", perTable)
	}
}
