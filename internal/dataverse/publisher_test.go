package dataverse

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakePublishServer is a PublishXml / PublishAllXml endpoint that takes delay
// to publish and refuses a publish while another runs (429 + 0x80071151), as
// Dataverse does.
type fakePublishServer struct {
	delay time.Duration

	mu          sync.Mutex
	inflight    int // requests being handled, refused or not
	maxInflight int
	running     bool
	lockedUntil time.Time // an outside publisher (an import, another tool) holds the lock
	// lockedCalls: an outside holder of the lock refuses this many calls
	// (counted, so the test does not depend on how fast the machine is).
	lockedCalls int
	// onRefuse, when set, is called (without the lock held) with the number
	// of calls refused so far.
	onRefuse func(refused int)
	calls    int
	refused  int
	// fail, when set, decides the answer of the n-th call (1-based) instead.
	fail      func(n int) (status int, body any)
	completed []fakePublish
	// started, when set, receives each publish that got the lock.
	started chan struct{}
	// cancelled counts publishes whose request context ended before the answer.
	cancelled int
}

type fakePublish struct {
	tables     []string // nil for PublishAllXml
	all        bool
	start, end time.Time
}

func (f *fakePublishServer) handler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	all := r.URL.Path == "/api/data/v9.2/PublishAllXml"
	if !all && r.URL.Path != "/api/data/v9.2/PublishXml" {
		writeJSON(w, http.StatusNotFound, odataErr("0x8006088a", "no such segment"))
		return
	}
	var tables []string
	if !all {
		var req struct{ ParameterXml string }
		var px struct {
			Entities []string `xml:"entities>entity"`
		}
		if json.Unmarshal(body, &req) != nil || xml.Unmarshal([]byte(req.ParameterXml), &px) != nil || len(px.Entities) == 0 {
			writeJSON(w, http.StatusBadRequest, odataErr("0x80040203", "bad ParameterXml"))
			return
		}
		tables = px.Entities
	}

	f.mu.Lock()
	f.calls++
	n := f.calls
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.fail != nil {
		if status, body := f.fail(n); status != 0 {
			f.mu.Unlock()
			writeJSON(w, status, body)
			return
		}
	}
	if f.running || time.Now().Before(f.lockedUntil) || f.refused < f.lockedCalls {
		f.refused++
		refused := f.refused
		f.mu.Unlock()
		if f.onRefuse != nil {
			f.onRefuse(refused)
		}
		writeJSON(w, http.StatusTooManyRequests, odataErr("0x80071151",
			"Cannot start another [Publish] because there is a previous [Publish] running at this moment."))
		return
	}
	f.running = true
	start := time.Now()
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}

	select {
	case <-time.After(f.delay):
	case <-r.Context().Done():
	}
	f.mu.Lock()
	f.running = false
	if r.Context().Err() != nil {
		f.cancelled++
		f.mu.Unlock()
		return
	}
	f.completed = append(f.completed, fakePublish{tables: tables, all: all, start: start, end: time.Now()})
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakePublishServer) snapshot() (calls, refused, maxInflight int, completed []fakePublish) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.refused, f.maxInflight, slices.Clone(f.completed)
}

// publishedAfter reports whether a publish that covers table started at or
// after since and ended by until.
func publishedAfter(completed []fakePublish, table string, since, until time.Time) bool {
	for _, p := range completed {
		if !p.start.Before(since) && !p.end.After(until) && (p.all || slices.Contains(p.tables, table)) {
			return true
		}
	}
	return false
}

// signallingPublishServer is a fakePublishServer taking delay per
// publish that signals each publish's start on started.
func signallingPublishServer(delay time.Duration) *fakePublishServer {
	return &fakePublishServer{delay: delay, started: make(chan struct{}, 10)}
}

func newPublishTest(t *testing.T, f *fakePublishServer, opts PublisherOptions, cfg ...func(*Config)) *Publisher {
	t.Helper()
	c, _, _ := newTestServer(t, f.handler, append([]func(*Config){fastRetries}, cfg...)...)
	p := NewPublisher(c, opts)
	t.Cleanup(p.wait) // no runner goroutine outlives the test
	return p
}

func noRetries(cfg *Config) { cfg.MaxRetries = -1 }

func TestPublisherCoalescesConcurrentCalls(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: 40 * time.Millisecond}
	p := newPublishTest(t, f, PublisherOptions{Window: 20 * time.Millisecond, LockRetryWait: 5 * time.Millisecond})

	const n = 30
	type result struct {
		table       string
		err         error
		start, done time.Time
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			time.Sleep(time.Duration(rand.IntN(120)) * time.Millisecond) // arrive over several batches
			table := fmt.Sprintf("new_table%02d", i)
			start := time.Now()
			err := p.Publish(context.Background(), table, "account")
			results[i] = result{table, err, start, time.Now()}
		})
	}
	wg.Wait()

	calls, refused, maxInflight, completed := f.snapshot()
	for _, r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", r.table, r.err)
			continue
		}
		if !publishedAfter(completed, r.table, r.start, r.done) {
			t.Errorf("%s returned without a publish that started after its call and included it", r.table)
		}
	}
	if calls > n/3 {
		t.Errorf("%d PublishXml calls for %d requests: not coalesced", calls, n)
	}
	if maxInflight != 1 || refused != 0 {
		t.Errorf("max concurrent publishes = %d, refused = %d: not serialised", maxInflight, refused)
	}
	st := p.Stats()
	if st.Publishes != calls || len(st.Batches) != calls || st.LockConflicts != 0 {
		t.Errorf("stats = %+v, server calls = %d", st, calls)
	}
	for i, b := range st.Batches {
		if !slices.IsSorted(b) || !slices.Contains(b, "account") || !slices.Equal(b, completed[i].tables) {
			t.Errorf("batch %d = %v, server saw %v", i, b, completed[i].tables)
		}
	}
	t.Logf("%d requests → %d publishes: %v", n, calls, st.Batches)
}

func TestPublisherCallDuringPublishWaitsForNext(t *testing.T) {
	t.Parallel()
	f := signallingPublishServer(80 * time.Millisecond)
	p := newPublishTest(t, f, PublisherOptions{Window: 5 * time.Millisecond})
	ctx := context.Background()
	errA := make(chan error, 1)
	go func() { errA <- p.Publish(ctx, "account") }()
	<-f.started // the first publish is running
	start := time.Now()
	if err := p.Publish(ctx, "account"); err != nil {
		t.Fatal(err)
	}
	done := time.Now()
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	calls, _, _, completed := f.snapshot()
	if calls != 2 || !publishedAfter(completed, "account", start, done) {
		t.Errorf("calls = %d, completed = %+v: the second call was satisfied by a publish that started before it", calls, completed)
	}
}

func TestPublisherRetriesOutsideLock(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: 10 * time.Millisecond}
	p := newPublishTest(t, f, PublisherOptions{Window: 10 * time.Millisecond, LockRetryWait: 20 * time.Millisecond}, noRetries)
	// Locked from now, not from before the test server started: on a loaded
	// machine the start alone took longer than the lock.
	f.mu.Lock()
	f.lockedUntil = time.Now().Add(300 * time.Millisecond)
	f.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			if i >= 3 {
				time.Sleep(60 * time.Millisecond) // queued while the first batch waits on the lock
			}
			errs[i] = p.Publish(context.Background(), fmt.Sprintf("t%d", i))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	calls, refused, _, completed := f.snapshot()
	st := p.Stats()
	if refused == 0 || st.LockConflicts != refused || st.Publishes != calls {
		t.Errorf("stats = %+v; server: calls %d, refused %d", st, calls, refused)
	}
	// The retried batch took in the calls queued meanwhile.
	if len(completed) != 1 || len(completed[0].tables) != 6 {
		t.Errorf("completed = %+v", completed)
	}
}

func TestPublisherLockErrorAfterTransportRetries(t *testing.T) {
	t.Parallel()
	// The transport retries the 429 first; the publisher then waits and retries the batch.
	// Three attempts of the transport (MaxRetries 2) are refused, so the
	// publisher sees the lock error once and retries the batch; the
	// transport retries its first refusal, and the fifth call succeeds.
	f := &fakePublishServer{delay: time.Millisecond, lockedCalls: 4}
	p := newPublishTest(t, f, PublisherOptions{Window: -1, LockRetryWait: 10 * time.Millisecond}, func(c *Config) { c.MaxRetries = 2 })
	if err := p.Publish(context.Background(), "account"); err != nil {
		t.Fatal(err)
	}
	calls, refused, _, _ := f.snapshot()
	if st := p.Stats(); st.LockConflicts != 1 || refused != 4 || calls != 5 {
		t.Errorf("stats = %+v, server calls %d, refused %d: want 1 lock conflict seen by the publisher, 4 refusals, 5 calls", st, calls, refused)
	}
}

func TestPublisherGivesUpOnLockWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakePublishServer{onRefuse: func(refused int) {
		if refused == 2 { // the lock was retried once: now the operation's time runs out
			cancel()
		}
	}}
	f.lockedUntil = time.Now().Add(time.Hour)
	p := newPublishTest(t, f, PublisherOptions{Window: -1, LockRetryWait: 10 * time.Millisecond}, noRetries)
	err := p.Publish(ctx, "account")
	if !errors.Is(err, context.Canceled) || !IsCustomizationLock(err) {
		t.Errorf("err = %v: want the deadline and the lock", err)
	}
	p.wait()
	if calls, _, _, _ := f.snapshot(); calls < 2 {
		t.Errorf("%d calls: the lock was not retried", calls)
	}
}

func TestPublisherErrorReachesEveryWaiter(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: 5 * time.Millisecond}
	f.fail = func(n int) (int, any) {
		if n == 1 {
			return http.StatusBadRequest, odataErr("0x80040203", "Invalid ParameterXml")
		}
		return 0, nil
	}
	p := newPublishTest(t, f, PublisherOptions{Window: 100 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { errs[i] = p.Publish(context.Background(), fmt.Sprintf("t%d", i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if e, ok := AsError(err); !ok || e.StatusCode != http.StatusBadRequest || e.Code != "0x80040203" {
			t.Errorf("waiter %d: err = %v", i, err)
		}
	}
	if calls, _, _, _ := f.snapshot(); calls != 1 {
		t.Errorf("%d calls, want 1 batch", calls)
	}
	// Failures are not sticky.
	if err := p.Publish(context.Background(), "t0"); err != nil {
		t.Errorf("next publish: %v", err)
	}
}

func TestPublisherOneWaiterCancelling(t *testing.T) {
	t.Parallel()
	f := signallingPublishServer(150 * time.Millisecond)
	p := newPublishTest(t, f, PublisherOptions{Window: 30 * time.Millisecond})

	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	errA, errB := make(chan error, 1), make(chan error, 1)
	// A comes first, so the batch's context derives from A's.
	go func() { errA <- p.Publish(ctxA, "account") }()
	time.Sleep(5 * time.Millisecond)
	go func() { errB <- p.Publish(context.Background(), "contact") }()
	<-f.started
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("A: err = %v", err)
	}
	if err := <-errB; err != nil {
		t.Errorf("B: err = %v", err)
	}
	_, _, _, completed := f.snapshot()
	if len(completed) != 1 || !slices.Equal(completed[0].tables, []string{"account", "contact"}) || f.cancelled != 0 {
		t.Errorf("completed = %+v, cancelled = %d", completed, f.cancelled)
	}
}

func TestPublisherAllWaitersCancelling(t *testing.T) {
	t.Parallel()
	f := signallingPublishServer(5 * time.Second)
	p := newPublishTest(t, f, PublisherOptions{Window: -1})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Publish(ctx, "account") }()
	<-f.started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	p.wait() // the runner stops: the request was cancelled, not left running for 5 s
	deadline := time.Now().Add(2 * time.Second)
	for {
		f.mu.Lock()
		c := f.cancelled
		f.mu.Unlock()
		if c == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the publish request was not cancelled")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A waiter that leaves during the window: nothing is sent.
	f2 := &fakePublishServer{}
	p2 := newPublishTest(t, f2, PublisherOptions{Window: time.Hour})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := p2.Publish(ctx2, "account"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	p2.wait()
	if calls, _, _, _ := f2.snapshot(); calls != 0 {
		t.Errorf("%d calls for an abandoned batch", calls)
	}
}

func TestPublisherPerResource(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: 20 * time.Millisecond}
	p := newPublishTest(t, f, PublisherOptions{PerResource: true, LockRetryWait: 5 * time.Millisecond}, noRetries)
	ctx := context.Background()
	for _, table := range []string{"account", "contact", "account"} {
		if err := p.Publish(ctx, table); err != nil {
			t.Fatal(err)
		}
	}
	if calls, _, _, _ := f.snapshot(); calls != 3 {
		t.Errorf("%d calls for 3 sequential requests", calls)
	}

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := p.Publish(ctx, fmt.Sprintf("t%d", i)); err != nil {
				t.Errorf("t%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	calls, refused, maxInflight, completed := f.snapshot()
	if len(completed) != 11 || calls != 11+refused {
		t.Errorf("completed %d publishes, calls %d, refused %d: want one publish per call", len(completed), calls, refused)
	}
	if maxInflight < 2 {
		t.Errorf("max in flight = %d: per-resource calls should not be serialised", maxInflight)
	}
	if st := p.Stats(); st.Publishes != calls || st.LockConflicts != refused {
		t.Errorf("stats = %+v; calls %d, refused %d", st, calls, refused)
	}
}

func TestPublisherPublishAll(t *testing.T) {
	t.Parallel()
	f := signallingPublishServer(30 * time.Millisecond)
	p := newPublishTest(t, f, PublisherOptions{Window: 10 * time.Millisecond})
	ctx := context.Background()
	errs := make(chan error, 3)
	go func() { errs <- p.Publish(ctx, "account") }()
	<-f.started
	// Both queue behind the running publish and share the next call.
	go func() { errs <- p.PublishAll(ctx) }()
	go func() { errs <- p.Publish(ctx, "contact") }()
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	_, _, maxInflight, completed := f.snapshot()
	if len(completed) != 2 || !completed[1].all || maxInflight != 1 {
		t.Errorf("completed = %+v, max in flight %d", completed, maxInflight)
	}
	if st := p.Stats(); !slices.Equal(st.Batches[1], []string{"*"}) {
		t.Errorf("batches = %v", st.Batches)
	}
}

func TestPublisherInput(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{}
	p := newPublishTest(t, f, PublisherOptions{})
	if err := p.Publish(context.Background()); err != nil {
		t.Errorf("no tables: %v", err)
	}
	if err := p.Publish(context.Background(), "account", "Bad Name"); err == nil {
		t.Error("invalid name: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Publish(ctx, "account"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if calls, _, _, _ := f.snapshot(); calls != 0 {
		t.Errorf("%d calls", calls)
	}
	if d := NewPublisher(nil, PublisherOptions{}).opts; d.Window != DefaultPublishWindow || d.LockRetryWait != DefaultPublishLockRetryWait {
		t.Errorf("defaults = %+v", d)
	}
}

func TestJittered(t *testing.T) {
	t.Parallel()
	for range 100 {
		if d := jittered(100 * time.Millisecond); d < 75*time.Millisecond || d > 125*time.Millisecond {
			t.Fatalf("jittered = %s", d)
		}
	}
	if jittered(0) != 0 {
		t.Error("jittered(0) != 0")
	}
}
