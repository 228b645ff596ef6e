package dataverse_test

import (
	"context"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// Benchmarks of the client against the emulator in this process, on the
// paths make bench times. Besides ns/op they report cpu-ns/op, the process
// CPU time (client, emulator and GC) per operation, which is what to
// compare on a machine that other work keeps busy:
//
//	go test -run XXX -bench . -benchmem -count 5 ./internal/dataverse/

// reportCPU reports cpu-ns/op when the benchmark function returns; call it
// as defer reportCPU(b)() right before the timed loop.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	b.ResetTimer()
	return func() { b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op") }
}

// Every table with its columns, saved and published (two
// RetrieveAllEntities answers of 34 MB each with 374 tables): the bulk read
// behind a plan of many entity resources.
func BenchmarkListEntityAuditInfo_374Tables(b *testing.B) {
	_, c := startEmulatorClient(b, emulator.Options{ExtraCustomTables: 300})
	defer reportCPU(b)()
	for range b.N {
		if _, err := c.ListEntityAuditInfo(context.Background(), dataverse.WithColumns); err != nil {
			b.Fatal(err)
		}
	}
}

func seededBench(b *testing.B, rows int) *dataverse.Client {
	srv, c := startEmulatorClient(b, emulator.Options{RequestsPerWindow: -1, ExecutionTimePerWindow: -1})
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	srv.SeedAuditHistory(rows, from, from.AddDate(0, 1, 0), 43)
	return c
}

// 10,000 audit rows streamed in pages of 5000.
func BenchmarkStreamAudits_10kRows(b *testing.B) {
	c := seededBench(b, 10000)
	defer reportCPU(b)()
	for range b.N {
		if _, _, err := c.StreamAudits(context.Background(), dataverse.AuditQuery{Limit: 10000}, func(dataverse.AuditRecord) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// The changes of 1000 audit rows: RetrieveAuditDetails in one $batch.
func BenchmarkRetrieveAuditDetails_1000Rows(b *testing.B) {
	c := seededBench(b, 1000)
	var ids []string
	if _, _, err := c.StreamAudits(context.Background(), dataverse.AuditQuery{Limit: 1000}, func(a dataverse.AuditRecord) error {
		ids = append(ids, a.ID)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	defer reportCPU(b)()
	for range b.N {
		if _, err := c.RetrieveAuditDetails(context.Background(), ids, dataverse.BatchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
