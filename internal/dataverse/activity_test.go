package dataverse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestActivityCounts(t *testing.T) {
	t.Parallel()
	a := NewActivity()
	if closed(a.AllWaiting()) {
		t.Fatal("all waiting with nothing tracked: coalescers would lose their window")
	}
	ctxA, endA := a.Begin(context.Background())
	ctxB, endB := a.Begin(context.Background())
	releaseA := a.Waiting(ctxA)
	if act, w := a.Counts(); act != 2 || w != 1 || closed(a.AllWaiting()) {
		t.Fatalf("counts = %d/%d, all waiting = %t: B still works", act, w, closed(a.AllWaiting()))
	}
	// Nested waits of one operation count once.
	releaseB1 := a.Waiting(ctxB)
	releaseB2 := a.Waiting(ctxB)
	ch := a.AllWaiting()
	if act, w := a.Counts(); act != 2 || w != 2 || !closed(ch) {
		t.Fatalf("counts = %d/%d, all waiting = %t", act, w, closed(ch))
	}
	releaseB1()
	releaseB1() // twice is harmless
	if _, w := a.Counts(); w != 2 {
		t.Fatalf("waiting = %d after one of two nested waits ended", w)
	}
	releaseB2()
	if _, w := a.Counts(); w != 1 || closed(a.AllWaiting()) {
		t.Fatalf("waiting = %d, all waiting = %t after B went back to work", w, closed(a.AllWaiting()))
	}
	// An untracked caller (a data source, another provider's operation)
	// neither counts nor makes everyone look busy.
	other := NewActivity()
	ctxOther, endOther := other.Begin(context.Background())
	defer endOther()
	a.Waiting(context.Background())()
	a.Waiting(ctxOther)()
	if act, w := a.Counts(); act != 2 || w != 1 {
		t.Fatalf("counts = %d/%d after untracked waits", act, w)
	}
	// B ends: A, the only one left, waits.
	endB()
	endB()
	if act, w := a.Counts(); act != 1 || w != 1 || !closed(a.AllWaiting()) {
		t.Fatalf("counts = %d/%d, all waiting = %t after B ended", act, w, closed(a.AllWaiting()))
	}
	// A ends while waiting; its late release does not go negative.
	endA()
	releaseA()
	if act, w := a.Counts(); act != 0 || w != 0 || closed(a.AllWaiting()) {
		t.Fatalf("counts = %d/%d, all waiting = %t with nothing in flight", act, w, closed(a.AllWaiting()))
	}
	a.Waiting(ctxA)() // after its end: ignored
	if _, w := a.Counts(); w != 0 {
		t.Fatalf("waiting = %d after a wait of an ended operation", w)
	}

	var none *Activity
	ctx, end := none.Begin(context.Background())
	none.Waiting(ctx)()
	end()
	if none.AllWaiting() != nil {
		t.Error("a nil Activity fires AllWaiting")
	}
}

func TestActivitySettle(t *testing.T) {
	t.Parallel()
	a := NewActivity()
	ctx, end := a.Begin(context.Background())
	defer end()
	release := a.Waiting(ctx)
	if r, err := a.Settle(context.Background(), time.Hour); r != FlushAllWaiting || err != nil {
		t.Errorf("settle = %v, %v: want all_waiting at once", r, err)
	}
	release()
	if r, err := a.Settle(context.Background(), time.Millisecond); r != FlushWindow || err != nil {
		t.Errorf("settle while working = %v, %v: want window", r, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Settle(cctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("settle after cancel: %v", err)
	}
	var none *Activity
	if r, err := none.Settle(context.Background(), time.Millisecond); r != FlushWindow || err != nil {
		t.Errorf("nil activity: %v, %v", r, err)
	}
}

// adaptiveWindow is long: a test that got its batch sent by the window
// instead of by every operation waiting fails on PublisherStats.FlushedEarly
// (and takes this long).
const adaptiveWindow = 10 * time.Second

func newAdaptivePublishTest(t *testing.T, f *fakePublishServer, cfg ...func(*Config)) (*Publisher, *Activity) {
	t.Helper()
	a := NewActivity()
	return newPublishTest(t, f, PublisherOptions{Window: adaptiveWindow, LockRetryWait: 10 * time.Millisecond, Activity: a}, cfg...), a
}

// N operations that each write and then publish: once the last one waits,
// the batch goes, with every table, without waiting out the window.
func TestPublisherFlushesWhenEveryOperationWaits(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: 5 * time.Millisecond}
	p, a := newAdaptivePublishTest(t, f)
	const n = 8
	ctxs := make([]context.Context, n)
	ends := make([]func(), n)
	for i := range n { // all in flight before the first one publishes
		ctxs[i], ends[i] = a.Begin(context.Background())
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			defer ends[i]()
			time.Sleep(time.Duration(i) * 5 * time.Millisecond) // still writing
			errs[i] = p.Publish(ctxs[i], fmt.Sprintf("t%d", i))
		})
	}
	wg.Wait()
	noErrors(t, errs)
	_, _, _, completed := f.snapshot()
	st := p.Stats()
	if len(completed) != 1 || len(completed[0].tables) != n {
		t.Errorf("completed = %+v: want one publish of all %d tables", completed, n)
	}
	if st.FlushedEarly != 1 || st.Publishes != 1 {
		t.Errorf("stats = %+v: want the one batch sent when every operation waited", st)
	}
}

// An operation still writing holds the batch until it waits too; one that
// ends without publishing releases it.
func TestPublisherWaitsForWorkingOperation(t *testing.T) {
	t.Parallel()
	for _, joins := range []bool{true, false} {
		t.Run(fmt.Sprintf("joins=%t", joins), func(t *testing.T) {
			t.Parallel()
			f := &fakePublishServer{delay: 5 * time.Millisecond}
			p, a := newAdaptivePublishTest(t, f)
			ctxA, endA := a.Begin(context.Background())
			defer endA()
			ctxB, endB := a.Begin(context.Background())
			errA := make(chan error, 1)
			go func() { errA <- p.Publish(ctxA, "account") }()
			for _, w := a.Counts(); w != 1; _, w = a.Counts() {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(30 * time.Millisecond) // B writes; a wrong early flush would go now
			if joins {
				if err := p.Publish(ctxB, "contact"); err != nil {
					t.Fatal(err)
				}
			}
			endB()
			if err := <-errA; err != nil {
				t.Fatal(err)
			}
			want := []string{"account"}
			if joins {
				want = []string{"account", "contact"}
			}
			_, _, _, completed := f.snapshot()
			if st := p.Stats(); len(completed) != 1 || !slices.Equal(completed[0].tables, want) || st.FlushedEarly != 1 {
				t.Errorf("completed = %+v, stats = %+v: want one early publish of %v", completed, st, want)
			}
		})
	}
}

// An operation that never waits cannot hold a batch past the window.
func TestPublisherWindowBoundsTheWait(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: time.Millisecond}
	a := NewActivity()
	p := newPublishTest(t, f, PublisherOptions{Window: 20 * time.Millisecond, Activity: a})
	ctxA, endA := a.Begin(context.Background())
	defer endA()
	_, endBusy := a.Begin(context.Background()) // writes for ever
	defer endBusy()
	if err := p.Publish(ctxA, "account"); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Publishes != 1 || st.FlushedEarly != 0 {
		t.Errorf("stats = %+v: want one publish sent by the window", st)
	}
}

// The customization lock is still retried, and the operations queued
// meanwhile join the retried batch.
func TestPublisherAdaptiveRetriesLock(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: time.Millisecond, lockedCalls: 2}
	p, a := newAdaptivePublishTest(t, f, noRetries)
	ctxs := make([]context.Context, 4)
	ends := make([]func(), 4)
	for i := range 2 {
		ctxs[i], ends[i] = a.Begin(context.Background())
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	publish := func(i int) {
		wg.Go(func() {
			defer ends[i]()
			errs[i] = p.Publish(ctxs[i], fmt.Sprintf("t%d", i))
		})
	}
	publish(0)
	publish(1)
	// Two more start while the first batch waits to retry the lock.
	for f.snapshotRefused() < 1 {
		time.Sleep(time.Millisecond)
	}
	for i := 2; i < 4; i++ {
		ctxs[i], ends[i] = a.Begin(context.Background())
		publish(i)
	}
	wg.Wait()
	noErrors(t, errs)
	_, refused, maxInflight, completed := f.snapshot()
	st := p.Stats()
	if refused != 2 || st.LockConflicts != 2 || maxInflight != 1 {
		t.Errorf("refused %d, max in flight %d, stats %+v: want 2 lock conflicts, retried one at a time", refused, maxInflight, st)
	}
	var published []string
	for _, c := range completed {
		published = append(published, c.tables...)
	}
	slices.Sort(published)
	if !slices.Equal(published, []string{"t0", "t1", "t2", "t3"}) {
		t.Errorf("published %v (%+v)", published, completed)
	}
}

// noErrors reports each operation that failed.
func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("operation %d: %v", i, err)
		}
	}
}

func (f *fakePublishServer) snapshotRefused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

// An operation cancelled while it waits stops counting as waiting: the
// other operation's batch goes once it waits, without the cancelled table.
func TestPublisherAdaptiveCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	f := &fakePublishServer{delay: time.Millisecond}
	p, a := newAdaptivePublishTest(t, f)
	ctxA, endA := a.Begin(context.Background())
	ctxA, cancelA := context.WithCancel(ctxA)
	ctxB, endB := a.Begin(context.Background())
	defer endB()
	errA := make(chan error, 1)
	go func() { errA <- p.Publish(ctxA, "account") }()
	for _, w := a.Counts(); w != 1; _, w = a.Counts() {
		time.Sleep(time.Millisecond)
	}
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("A: err = %v", err)
	}
	if act, w := a.Counts(); act != 2 || w != 0 {
		t.Errorf("counts = %d/%d after A left the publisher: want 2 in flight, none waiting", act, w)
	}
	endA()
	if err := p.Publish(ctxB, "contact"); err != nil {
		t.Fatal(err)
	}
	_, _, _, completed := f.snapshot()
	if st := p.Stats(); len(completed) != 1 || !slices.Equal(completed[0].tables, []string{"contact"}) || st.FlushedEarly != 1 {
		t.Errorf("completed = %+v, stats = %+v", completed, st)
	}
}

// A caller whose publish completed counts as working again before the next
// batch decides: the batch queued meanwhile waits for it (it may publish
// again) instead of going at once.
func TestPublisherDeliveryEndsTheWait(t *testing.T) {
	t.Parallel()
	f := signallingPublishServer(30 * time.Millisecond)
	p, a := newAdaptivePublishTest(t, f)
	ctxA, endA := a.Begin(context.Background())
	defer endA()
	ctxB, endB := a.Begin(context.Background())
	errA, errB, errC := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { errA <- p.Publish(ctxA, "account") }()
	go func() {
		defer endB()
		errB <- p.Publish(ctxB, "contact")
	}()
	<-f.started // A and B's batch runs
	ctxC, endC := a.Begin(context.Background())
	defer endC()
	go func() { errC <- p.Publish(ctxC, "email") }() // queues behind it
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // A works on; a wrong flush of C's batch would go now
	if err := p.Publish(ctxA, "annotation"); err != nil {
		t.Fatal(err)
	}
	for _, errc := range []chan error{errB, errC} {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	_, _, _, completed := f.snapshot()
	if st := p.Stats(); len(completed) != 2 || !slices.Equal(completed[1].tables, []string{"annotation", "email"}) || st.FlushedEarly != 2 {
		t.Errorf("completed = %+v, stats = %+v: want A's second table in C's batch, both batches sent early", completed, st)
	}
}

// An operation waiting on a coalesced read will still write and publish:
// the publisher's quiet point needs every operation waiting on it, while
// coalesced reads go once every operation waits on anything.
func TestActivityPublishWaitsOnlyCountForThePublisher(t *testing.T) {
	a := NewActivity()
	ctx1, end1 := a.Begin(context.Background())
	ctx2, end2 := a.Begin(context.Background())
	defer end1()
	defer end2()
	releasePublish1 := a.WaitingToPublish(ctx1)
	releaseRead2 := a.Waiting(ctx2)
	if !closed(a.AllWaiting()) || closed(a.AllWaitingToPublish()) {
		t.Fatalf("one waits to publish, one on a read: all waiting %t (want true), all waiting to publish %t (want false)",
			closed(a.AllWaiting()), closed(a.AllWaitingToPublish()))
	}
	releaseRead2()
	releasePublish2 := a.WaitingToPublish(ctx2)
	if !closed(a.AllWaitingToPublish()) {
		t.Fatal("both wait to publish: the publisher's quiet point is not reached")
	}
	releasePublish1()
	if closed(a.AllWaitingToPublish()) || closed(a.AllWaiting()) {
		t.Fatal("one released: still quiet")
	}
	releasePublish2()
}

// Terraform ends one resource call and starts the next a moment later (it
// plans a resource again just before applying it): a publish batch must not
// go in that gap, only once every operation has waited for the grace.
func TestActivitySettlePublishGraceCoversAGap(t *testing.T) {
	bg := context.Background()
	a := NewActivity()
	ctxA, endA := a.Begin(bg)
	defer endA()
	_, endB := a.Begin(bg)
	releaseA := a.WaitingToPublish(ctxA)
	defer releaseA()
	done := make(chan FlushReason, 1)
	go func() {
		reason, _ := a.SettlePublish(bg, 5*time.Second)
		done <- reason
	}()
	time.Sleep(20 * time.Millisecond) // the settle is waiting
	endB()                            // quiet for a moment...
	ctxC, endC := a.Begin(bg)         // ...until the next call starts
	defer endC()
	select {
	case reason := <-done:
		t.Fatalf("the publish batch went (%s) in the gap between two calls", reason)
	case <-time.After(100 * time.Millisecond):
	}
	releaseC := a.WaitingToPublish(ctxC)
	defer releaseC()
	select {
	case reason := <-done:
		if reason != FlushAllWaiting {
			t.Fatalf("settled with %s, want %s", reason, FlushAllWaiting)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("every operation waits to publish, but the batch did not go")
	}
}
