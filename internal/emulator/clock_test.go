package emulator

import (
	"net/http"
	"testing"
	"time"
)

func TestManualClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewManualClock(start)
	select {
	case <-c.After(0):
	default:
		t.Fatal("After(0) did not fire at once")
	}
	short, long := c.After(time.Second), c.After(time.Minute)
	if c.Waiters() != 2 {
		t.Fatalf("waiters %d, want 2", c.Waiters())
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-short:
		t.Fatal("fired before its time")
	default:
	}
	c.Advance(time.Millisecond)
	if at := <-short; !at.Equal(start.Add(time.Second)) {
		t.Errorf("fired at %v", at)
	}
	select {
	case <-long:
		t.Fatal("the long timer fired early")
	default:
	}
	if c.Waiters() != 1 || !c.Now().Equal(start.Add(time.Second)) {
		t.Errorf("waiters %d, now %v", c.Waiters(), c.Now())
	}
}

// waitForWaiters polls until n timers wait on c (a request has reached
// its wait).
func waitForWaiters(t *testing.T, c *ManualClock, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers waiting, want %d", c.Waiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPublishRunsOnTimeSource checks that a publish lasts its duration on
// the server's clock, not the wall clock: it holds the solution lock until
// the clock is advanced.
func TestPublishRunsOnTimeSource(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock, PublishBaseDuration: time.Hour, PublishPerTableDuration: time.Minute})
	done := make(chan apiResponse, 1)
	go func() {
		done <- callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("account"), nil)
	}()
	waitForWaiters(t, clock, 1)
	if r := callAPI(t, s, http.MethodPost, "PublishAllXml", token, nil, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("publish during publish: %d %s", r.status, r.body)
	}
	clock.Advance(time.Hour)
	select {
	case r := <-done:
		t.Fatalf("publish ended before base + per-table had passed: %d", r.status)
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(time.Minute)
	if r := <-done; r.status != http.StatusNoContent {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if s.PublishCount() != 1 || s.LockConflictCount() != 1 {
		t.Errorf("publishes %d, conflicts %d", s.PublishCount(), s.LockConflictCount())
	}
}

// TestGraphQueryRunsOnTimeSource checks a query's status follows the
// server's clock: notStarted for the first half of GraphQueryDelay,
// running for the second, then succeeded.
func TestGraphQueryRunsOnTimeSource(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startGraph(t, Options{TimeSource: clock, GraphQueryDelay: time.Hour})
	id := createQuery(t, s, token, map[string]any{"displayName": "clock"})["id"].(string)
	status := func() string {
		r := callGraph(t, s, http.MethodGet, queriesPath+"/"+id, token, nil)
		if r.status != http.StatusOK {
			t.Fatalf("get query: %d %s", r.status, r.body)
		}
		return r.json(t)["status"].(string)
	}
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{
		{0, QueryNotStarted},
		{29 * time.Minute, QueryNotStarted},
		{time.Minute, QueryRunning},
		{29 * time.Minute, QueryRunning},
		{time.Minute, QuerySucceeded},
	} {
		clock.Advance(step.advance)
		if got := status(); got != step.want {
			t.Fatalf("at %v: status %s, want %s", clock.Now(), got, step.want)
		}
	}
}
