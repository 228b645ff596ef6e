package emulator

import (
	"sync"
	"time"
)

// Clock is the time every emulator timer and window runs on: publish
// durations, Graph audit log query delays, injected fault latency and the
// service protection windows. Tests that need those without waiting pass
// a ManualClock in Options.TimeSource; the default is the real clock.
//
// Access tokens keep the wall clock whatever the Clock: the clients that
// hold them (MSAL, azidentity) check expiry against their own clock.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed on
	// this clock. It must be safe for concurrent use.
	After(d time.Duration) <-chan time.Time
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ManualClock is a Clock that moves only when Advance is called, for tests
// of timed behaviour that must not depend on the machine's speed. The zero
// value is not usable; use NewManualClock.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []manualWaiter
}

type manualWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock returns a clock standing at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives once the clock has been advanced by
// d or more; at once when d <= 0.
func (c *ManualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, manualWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward by d and fires the timers that are due.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	pending := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			pending = append(pending, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = pending
}

// Waiters is the number of timers waiting for the clock to advance, so a
// test can tell that a request has reached its wait before advancing.
func (c *ManualClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}
