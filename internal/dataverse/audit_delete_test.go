package dataverse_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// Against the emulator: the count over the same filter, the job submitted,
// polled to completion, its deleted rows; then waiting for a second job
// past the context's deadline is a *JobWaitError.
func TestAuditBulkDeleteRoundTrip(t *testing.T) {
	srv, c := emulatorClient(t)
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	srv.SeedAuditHistory(200, from, from.AddDate(1, 0, 0), 3)
	ctx := context.Background()
	d := dataverse.AuditDeletion{Before: from.AddDate(0, 6, 0), Tables: []string{"contact", "account"}}
	want := 0
	for _, r := range srv.AuditRecords() {
		if r.CreatedOn.Before(d.Before) && (r.ObjectTypeCode == "account" || r.ObjectTypeCode == "contact") {
			want++
		}
	}
	n, err := c.CountAuditDeletion(ctx, d)
	if err != nil || n.Rows != want || n.LowerBound {
		t.Fatalf("count: %+v, %v; want %d", n, err, want)
	}
	id, err := c.SubmitAuditBulkDelete(ctx, d, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.WaitForBulkDelete(ctx, id, dataverse.JobWaitOptions{PollMin: 20 * time.Millisecond, PollMax: 100 * time.Millisecond})
	if err != nil || job.Deleted != want || job.Status() != "Succeeded" {
		t.Fatalf("job: %+v, %v; want %d deleted", job, err, want)
	}
	if n, _ := c.CountAuditDeletion(ctx, d); n.Rows != 0 {
		t.Errorf("%d rows match after the job", n.Rows)
	}

	id, err = c.SubmitAuditBulkDelete(ctx, dataverse.AuditDeletion{Before: from.AddDate(1, 0, 0)}, "slow", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A context that has ended (the deadline of timeouts.create), whatever
	// the machine's speed.
	ended, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, err = c.WaitForBulkDelete(ended, id, dataverse.JobWaitOptions{PollMin: 10 * time.Millisecond})
	var waiting *dataverse.JobWaitError
	if !errors.As(err, &waiting) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the deadline: %v", err)
	}
}
