package dataverse

import (
	"context"
	"sync"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Activity tracks the resource operations of one configured provider (one
// Terraform command) that are in flight, and which of them are waiting on a
// coalescer (the publisher, a coalesced read). A coalescer that collects
// requests into a batch can send the batch as soon as every operation in
// flight waits: none of them is still doing work that could add to it.
//
// Only operations started with Begin count; a caller whose context does not
// come from Begin is untracked and its waits are not counted. With nothing
// tracked, coalescers keep their fixed window. The zero value is ready to
// use; a nil *Activity tracks nothing.
type Activity struct {
	mu      sync.Mutex
	active  int
	waiting int
	// allWaiting is closed while active > 0 && waiting == active, and
	// replaced by an open channel when that stops being true.
	allWaiting chan struct{}
	// publishing counts the operations waiting on the publisher;
	// allPublishing is to it what allWaiting is to waiting. The publisher
	// needs its own count: an operation waiting on a coalesced read will
	// still write and then publish, so a batch sent because "everyone
	// waits" would leave it for the next publish.
	publishing    int
	allPublishing chan struct{}
}

// activityKey keys the *trackedOperation in a context.
type activityKey struct{}

// trackedOperation is one resource operation between Begin and its end.
type trackedOperation struct {
	a            *Activity
	waits        int  // nested waits in progress (guarded by a.mu)
	publishWaits int  // of which on the publisher (guarded by a.mu)
	ended        bool // guarded by a.mu
}

// NewActivity returns an empty Activity.
func NewActivity() *Activity { return &Activity{} }

// Begin records the start of a resource operation and returns the context
// to run it with (coalescers find the operation there) and the function
// that records its end; calling that more than once is harmless.
func (a *Activity) Begin(ctx context.Context) (context.Context, func()) {
	if a == nil {
		return ctx, func() {}
	}
	op := &trackedOperation{a: a}
	a.mu.Lock()
	a.active++
	a.changed()
	a.mu.Unlock()
	return context.WithValue(ctx, activityKey{}, op), func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if op.ended {
			return
		}
		op.ended = true
		a.active--
		if op.waits > 0 {
			a.waiting--
		}
		if op.publishWaits > 0 {
			a.publishing--
		}
		a.changed()
	}
}

// Waiting marks the operation that ctx belongs to as waiting on a
// coalescer, until release is called (release may be called more than once,
// from any goroutine). Nested waits of one operation count once. A ctx not
// from this Activity's Begin is untracked: release does nothing.
func (a *Activity) Waiting(ctx context.Context) (release func()) {
	return a.markWaiting(ctx, waitOnRead)
}

// WaitingToPublish is Waiting for a caller queued on the publisher: it
// also counts towards AllWaitingToPublish.
func (a *Activity) WaitingToPublish(ctx context.Context) (release func()) {
	return a.markWaiting(ctx, waitOnPublish)
}

// waitKind says what a waiting operation waits on.
type waitKind int

const (
	waitOnRead waitKind = iota
	waitOnPublish
)

func (a *Activity) markWaiting(ctx context.Context, kind waitKind) (release func()) {
	op, ok := ctx.Value(activityKey{}).(*trackedOperation)
	if a == nil || !ok || op.a != a {
		return func() {}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if op.ended {
		return func() {}
	}
	op.waits++
	if op.waits == 1 {
		a.waiting++
	}
	if kind == waitOnPublish {
		op.publishWaits++
		if op.publishWaits == 1 {
			a.publishing++
		}
	}
	a.changed()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if op.ended {
				return
			}
			op.waits--
			if op.waits == 0 {
				a.waiting--
			}
			if kind == waitOnPublish {
				op.publishWaits--
				if op.publishWaits == 0 {
					a.publishing--
				}
			}
			a.changed()
		})
	}
}

// AllWaiting returns a channel that is closed once every tracked operation
// in flight waits on a coalescer (at least one operation being tracked). A
// nil Activity returns nil, which never fires. Read it again after each
// wake-up: the channel of a state that ended is not reopened.
func (a *Activity) AllWaiting() <-chan struct{} {
	return a.stateChannel(func(a *Activity) chan struct{} { return a.allWaiting })
}

// AllWaitingToPublish is AllWaiting for the operations waiting on the
// publisher (WaitingToPublish).
func (a *Activity) AllWaitingToPublish() <-chan struct{} {
	return a.stateChannel(func(a *Activity) chan struct{} { return a.allPublishing })
}

// stateChannel returns the channel of a state that which picks, set up for
// the current state; nil for a nil Activity.
func (a *Activity) stateChannel(which func(*Activity) chan struct{}) <-chan struct{} {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ensureChannel()
	return which(a)
}

// Counts returns the operations in flight and how many of them wait.
func (a *Activity) Counts() (active, waiting int) {
	if a == nil {
		return 0, 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.active, a.waiting
}

// Settle is the wait of a coalescer before it sends a batch: it returns
// flushAllWaiting as soon as every tracked operation waits, flushWindow once
// window has passed, or ctx's error. A nil Activity just waits the window.
func (a *Activity) Settle(ctx context.Context, window time.Duration) (FlushReason, error) {
	return a.settle(ctx, window, a.AllWaiting)
}

// SettlePublish is Settle for the publisher: it returns early only when
// every tracked operation has waited on the publisher for PublishGrace.
// The grace covers the gap between two calls Terraform makes for one
// resource (it plans a resource again just before applying it), in which
// the resource is not tracked.
func (a *Activity) SettlePublish(ctx context.Context, window time.Duration) (FlushReason, error) {
	return a.settleWithGrace(ctx, window, a.AllWaitingToPublish, PublishGrace)
}

// SettleReads is Settle for coalesced reads, with the grace of
// SettlePublish (ReadGrace).
func (a *Activity) SettleReads(ctx context.Context, window time.Duration) (FlushReason, error) {
	return a.settleWithGrace(ctx, window, a.AllWaiting, ReadGrace)
}

// PublishGrace and ReadGrace are how long every tracked operation must
// have been waiting before a batch goes early.
const (
	PublishGrace = 15 * time.Millisecond
	ReadGrace    = 25 * time.Millisecond
)

// settleWithGrace returns FlushAllWaiting once quiet has held for grace
// (checked at its start and end), FlushWindow when window ends first.
func (a *Activity) settleWithGrace(ctx context.Context, window time.Duration, quiet func() <-chan struct{}, grace time.Duration) (FlushReason, error) {
	if a == nil {
		return a.settle(ctx, window, quiet)
	}
	deadline := time.Now().Add(window)
	for {
		reason, err := a.settle(ctx, time.Until(deadline), quiet)
		if reason != FlushAllWaiting || err != nil {
			return reason, err
		}
		if err := msapi.Sleep(ctx, min(grace, time.Until(deadline))); err != nil {
			return FlushWindow, err
		}
		if closed(quiet()) {
			return FlushAllWaiting, nil
		}
		if !time.Now().Before(deadline) {
			return FlushWindow, nil
		}
	}
}

// closed reports whether ch is closed now.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (a *Activity) settle(ctx context.Context, window time.Duration, quiet func() <-chan struct{}) (FlushReason, error) {
	if window <= 0 {
		return FlushWindow, ctx.Err()
	}
	if a == nil {
		return FlushWindow, msapi.Sleep(ctx, window)
	}
	t := time.NewTimer(window)
	defer t.Stop()
	select {
	case <-quiet():
		return FlushAllWaiting, nil
	case <-t.C:
		return FlushWindow, nil
	case <-ctx.Done():
		return FlushWindow, ctx.Err()
	}
}

// FlushReason says why a coalescer sent a batch (it is also the value
// logged).
type FlushReason string

const (
	// FlushWindow: the window ended (or there was none).
	FlushWindow FlushReason = "window"
	// FlushAllWaiting: every operation in flight was waiting.
	FlushAllWaiting FlushReason = "all_waiting"
)

// changed opens or closes allWaiting to match the counts; a.mu is held.
func (a *Activity) changed() {
	a.ensureChannel()
	a.allWaiting = matchQuiet(a.allWaiting, a.active > 0 && a.waiting == a.active)
	a.allPublishing = matchQuiet(a.allPublishing, a.active > 0 && a.publishing == a.active)
}

// matchQuiet returns ch closed if quiet, open otherwise (a new channel when
// a closed one must reopen).
func matchQuiet(ch chan struct{}, quiet bool) chan struct{} {
	switch isClosed := closed(ch); {
	case isClosed && !quiet:
		return make(chan struct{})
	case !isClosed && quiet:
		close(ch)
	}
	return ch
}

func (a *Activity) ensureChannel() {
	if a.allWaiting == nil {
		a.allWaiting = make(chan struct{})
	}
	if a.allPublishing == nil {
		a.allPublishing = make(chan struct{})
	}
}
