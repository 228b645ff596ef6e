package dataverse

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Defaults of PublisherOptions.
const (
	DefaultPublishWindow        = 1 * time.Second
	DefaultPublishLockRetryWait = 5 * time.Second
)

// publishAllLabel stands for PublishAllXml in PublisherStats.Batches.
const publishAllLabel = "*"

// PublisherOptions configures a Publisher.
type PublisherOptions struct {
	// Window: after the first request of a batch, wait at most this long for
	// others to join. Zero means DefaultPublishWindow; negative means no wait.
	Window time.Duration
	// Activity, when set, ends the window early: a batch goes as soon as
	// every resource operation in flight waits (on this publisher or on
	// another coalescer), since none is still writing a table that could
	// join it. Nil keeps the fixed window.
	Activity *Activity
	// LockRetryWait is the wait (jittered ±25%) before re-trying a batch that
	// failed with the customization lock after the transport's own retries.
	// Zero means DefaultPublishLockRetryWait; negative means no wait.
	LockRetryWait time.Duration
	// PerResource is the naive mode for benchmarks: no coalescing, each
	// Publish call sends its own PublishXml at once (not serialised), still
	// retrying on the lock.
	PerResource bool
}

// PublisherStats counts what a Publisher sent.
type PublisherStats struct {
	// Publishes is the number of PublishXml / PublishAllXml calls sent (each
	// retry after a lock conflict counts; the transport's own retries do not).
	Publishes int
	// LockConflicts is the number of those calls that failed with the
	// customization lock.
	LockConflicts int
	// Batches holds the tables of each call, in order (len(Batches) ==
	// Publishes); a PublishAllXml call is []string{"*"}.
	Batches [][]string
	// FlushedEarly is the number of batches sent before their window ended
	// because every tracked operation was waiting (see Activity).
	FlushedEarly int
}

// Publisher coalesces and serialises publishes for one environment.
//
// Dataverse runs one solution operation at a time and publishing is slow, so
// N resources that each publish their table would mostly wait on each other's
// lock. Instead, requests join a batch: after a short window the batch sends
// one PublishXml with the union of its tables; requests made while it runs
// join the next batch. A runner goroutine drives the batches and exits as soon
// as none is queued.
type Publisher struct {
	c    *Client
	opts PublisherOptions

	mu      sync.Mutex
	next    *publishBatch // collecting requests; nil when none is queued
	running bool          // a runner goroutine is alive
	stats   PublisherStats

	wg sync.WaitGroup // runner goroutines (tests wait for them)
}

// publishBatch is one PublishXml (or PublishAllXml) and the calls waiting on it.
type publishBatch struct {
	tables  map[string]bool
	all     bool
	waiters []*publishWaiter
	live    int // waiters still waiting
	first   time.Time
	// ctx carries the values (logger) of the first waiter's context, without
	// its cancellation; cancel runs when no waiter is left.
	ctx     context.Context
	cancel  context.CancelFunc
	lastErr error // last failed attempt (lock conflict), for waiters that give up
}

type publishWaiter struct {
	batch *publishBatch
	done  chan error // buffered: delivery never blocks
	gone  bool
	// release ends the caller's wait in the Activity; the runner calls it on
	// delivery, so that the caller counts as working again before the next
	// batch decides whether everyone waits.
	release func()
}

// NewPublisher returns a Publisher that publishes through c.
func NewPublisher(c *Client, opts PublisherOptions) *Publisher {
	opts.Window = optionOrDefault(opts.Window, DefaultPublishWindow)
	opts.LockRetryWait = optionOrDefault(opts.LockRetryWait, DefaultPublishLockRetryWait)
	return &Publisher{c: c, opts: opts}
}

// Publish returns once a PublishXml that includes every given table started
// after this call and completed successfully; or the error of that publish;
// or ctx's error if ctx ends first (the batch goes on for other waiters).
// Concurrent calls share batches. Tables must be valid logical names; no
// table is a no-op.
func (p *Publisher) Publish(ctx context.Context, entities ...string) error {
	names := sortedUnique(entities)
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		if err := ValidateLogicalName(n); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.opts.PerResource {
		return p.publishDirect(ctx, names, false)
	}
	return p.enqueue(ctx, names, false)
}

// PublishAll sends PublishAllXml, serialised with the batches. Requests for
// tables queued in the same batch are satisfied by it.
func (p *Publisher) PublishAll(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.opts.PerResource {
		return p.publishDirect(ctx, nil, true)
	}
	return p.enqueue(ctx, nil, true)
}

// Stats returns a copy of the counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Batches = make([][]string, len(p.stats.Batches))
	for i, b := range p.stats.Batches {
		s.Batches[i] = append([]string(nil), b...)
	}
	return s
}

// wait blocks until no runner goroutine is left (tests).
func (p *Publisher) wait() { p.wg.Wait() }

func (p *Publisher) enqueue(ctx context.Context, names []string, all bool) error {
	w := &publishWaiter{done: make(chan error, 1)}
	p.mu.Lock()
	b := p.next
	if b == nil || b.live == 0 {
		// A batch whose waiters all left has a cancelled context: the runner
		// drops it, and new requests start afresh.
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		b = &publishBatch{tables: map[string]bool{}, first: time.Now(), ctx: bctx, cancel: cancel}
		p.next = b
	}
	for _, n := range names {
		b.tables[n] = true
	}
	b.all = b.all || all
	w.batch = b
	b.waiters = append(b.waiters, w)
	b.live++
	// Marked only now that the request is in the batch: marking it earlier
	// could send the batch without it.
	w.release = p.opts.Activity.WaitingToPublish(ctx)
	defer w.release()
	if !p.running {
		p.running = true
		p.wg.Add(1)
		go p.run()
	}
	p.mu.Unlock()

	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case err := <-w.done: // delivered meanwhile
		return err
	default:
	}
	w.gone = true
	b = w.batch // may have been merged into a batch being retried
	b.live--
	if b.live == 0 {
		b.cancel()
	}
	if b.lastErr != nil {
		return fmt.Errorf("%w; the last publish attempt failed: %w", ctx.Err(), b.lastErr)
	}
	return ctx.Err()
}

// run drives queued batches one at a time and exits when none is left.
func (p *Publisher) run() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		b := p.next
		if b == nil {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()

		// Let others join: the window counts from the batch's first request,
		// so a batch that queued behind a long publish goes at once; it ends
		// early when every operation in flight waits.
		reason := FlushWindow
		if d := time.Until(b.first.Add(p.opts.Window)); d > 0 {
			reason, _ = p.opts.Activity.SettlePublish(b.ctx, d)
		}
		p.mu.Lock()
		if p.next == b {
			p.next = nil
		}
		if reason == FlushAllWaiting {
			p.stats.FlushedEarly++
		}
		p.mu.Unlock()
		p.runBatch(b, reason)
	}
}

// runBatch publishes b, re-trying on the customization lock while anyone
// waits, and hands the result to its waiters.
func (p *Publisher) runBatch(b *publishBatch, reason FlushReason) {
	defer b.cancel()
	for {
		p.mu.Lock()
		if b.live == 0 {
			p.mu.Unlock()
			return
		}
		tables, all, waiters := b.sortedTables(), b.all, b.live
		p.recordPublish(tables, all)
		p.mu.Unlock()

		start := time.Now()
		err := p.send(b.ctx, tables, all)
		p.logPublish(b.ctx, publishLog{tables, all, waiters, reason}, start, err)
		if err != nil && IsCustomizationLock(err) && b.ctx.Err() == nil {
			p.mu.Lock()
			p.stats.LockConflicts++
			b.lastErr = err
			p.mu.Unlock()
			if msapi.Sleep(b.ctx, jittered(p.opts.LockRetryWait)) != nil {
				return // every waiter left
			}
			// Retry the same batch with whatever queued meanwhile: they
			// would otherwise wait for this one and then collide with it.
			p.mu.Lock()
			if n := p.next; n != nil && b.live > 0 {
				p.next = nil
				n.cancel()
				if n.live > 0 {
					for t := range n.tables {
						b.tables[t] = true
					}
					b.all = b.all || n.all
					for _, w := range n.waiters {
						w.batch = b
						if !w.gone {
							b.waiters = append(b.waiters, w)
						}
					}
					b.live += n.live
				}
			}
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		for _, w := range b.waiters {
			if !w.gone {
				w.release()
				w.done <- err
			}
		}
		p.mu.Unlock()
		return
	}
}

// publishDirect is the naive mode: one call per request, retried on the lock.
func (p *Publisher) publishDirect(ctx context.Context, names []string, all bool) error {
	for {
		p.mu.Lock()
		p.recordPublish(names, all)
		p.mu.Unlock()
		start := time.Now()
		err := p.send(ctx, names, all)
		p.logPublish(ctx, publishLog{names, all, 1, FlushWindow}, start, err)
		if err == nil || !IsCustomizationLock(err) {
			return err
		}
		p.mu.Lock()
		p.stats.LockConflicts++
		p.mu.Unlock()
		if msapi.Sleep(ctx, jittered(p.opts.LockRetryWait)) != nil {
			return fmt.Errorf("%w; the last publish attempt failed: %w", ctx.Err(), err)
		}
	}
}

func (p *Publisher) send(ctx context.Context, tables []string, all bool) error {
	if all {
		return p.c.PublishAllXML(ctx)
	}
	return p.c.PublishXML(ctx, tables)
}

// recordPublish counts a call; p.mu is held.
func (p *Publisher) recordPublish(tables []string, all bool) {
	p.stats.Publishes++
	if all {
		p.stats.Batches = append(p.stats.Batches, []string{publishAllLabel})
	} else {
		p.stats.Batches = append(p.stats.Batches, append([]string(nil), tables...))
	}
}

// publishLog is what logPublish reports of one call.
type publishLog struct {
	tables  []string
	all     bool
	waiters int
	reason  FlushReason
}

func (p *Publisher) logPublish(ctx context.Context, l publishLog, start time.Time, err error) {
	f := map[string]any{
		"table_count": len(l.tables),
		"tables":      l.tables,
		"publish_all": l.all,
		"waiters":     l.waiters,
		"sent_when":   string(l.reason),
		"duration_ms": time.Since(start).Milliseconds(),
	}
	switch {
	case err == nil:
		tflog.Debug(ctx, "Published Dataverse customizations", f)
	case IsCustomizationLock(err):
		f["error"] = err.Error()
		f["retry_wait_ms"] = p.opts.LockRetryWait.Milliseconds()
		tflog.Debug(ctx, "Publishing Dataverse customizations hit the customization lock (another publish or import is running); will retry", f)
	default:
		f["error"] = err.Error()
		tflog.Debug(ctx, "Publishing Dataverse customizations failed", f)
	}
}

func (b *publishBatch) sortedTables() []string {
	out := make([]string, 0, len(b.tables))
	for t := range b.tables {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// jittered returns d ± 25%, so that two clients waiting on the same lock do
// not retry in step.
func jittered(d time.Duration) time.Duration {
	return msapi.Jitter(d*5/4, 0.4)
}
