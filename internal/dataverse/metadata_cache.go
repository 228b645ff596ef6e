package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// MetadataCacheOptions configures a MetadataCache.
type MetadataCacheOptions struct {
	// Disabled is the naive mode for benchmarks: every Entity call reads that
	// one table.
	Disabled bool
	// LockRetryWait is the wait (jittered ±25%) before sending again a
	// metadata write refused by the customization lock (a solution import
	// or another customization running); writes are retried until their
	// context ends. Zero means DefaultPublishLockRetryWait; negative means
	// no wait.
	LockRetryWait time.Duration
}

// MetadataCache serves table audit info during one Terraform command, and
// is the way audit settings are changed (ApplyTableAudit, ApplyColumnAudit),
// so that a written table is never served from an older read.
//
// Refreshing N table resources would cost N metadata reads; instead the first
// reader loads every table with its columns in one request, shared by
// concurrent callers, and the others are served from it. A write invalidates
// its table, which is then read again on its own.
//
// Dataverse itself caches definitions for about 30 s after a change. The bulk
// read may be served from that cache. A table this command wrote is read
// again on its own with Consistency: Strong; tables an earlier command wrote
// (RequireLatest) are served by one bulk read with Consistency: Strong,
// shared by all of them.
type MetadataCache struct {
	c    *Client
	opts MetadataCacheOptions
	// loads shares one read between concurrent callers: key bulkLoadKey for
	// the read of every table, a table's logical name for a re-read of it.
	loads singleflight.Group

	mu sync.Mutex
	// entities holds the known tables; a nil value is a table known not to
	// exist (a re-read after Invalidate answered 404).
	entities map[string]*EntityAuditInfo
	// loaded: a bulk load succeeded, so a table missing from entities does
	// not exist.
	loaded bool
	// stale tables are read again on their own; gen counts invalidations so
	// that a read that started before one does not clear it.
	stale map[string]bool
	gen   map[string]uint64
	// latest: the stored entry was read strongly after the last write or
	// RequireLatest; strongTables: tables written by this command or
	// required latest (the Disabled mode reads them strongly every time);
	// written: when this command last wrote each table.
	latest       map[string]bool
	strongTables map[string]bool
	written      map[string]time.Time
	// needLatest: tables waiting for the strong bulk read (RequireLatest);
	// strongLoaded: that read succeeded, so every table not written since
	// is latest.
	needLatest   map[string]bool
	strongLoaded bool

	bulkLoads, singleLoads int
}

// bulkLoadKey and strongBulkLoadKey are the flight keys of the reads of
// every table (cached and strong); they cannot clash with a logical name.
const (
	bulkLoadKey       = "*"
	strongBulkLoadKey = "*strong"
)

// leaderGoneError is a shared load that failed because the context of the
// caller that ran it ended: the other callers load again with their own.
type leaderGoneError struct{ err error }

func (e *leaderGoneError) Error() string { return e.err.Error() }
func (e *leaderGoneError) Unwrap() error { return e.err }

// NewMetadataCache returns an empty cache reading through c.
func NewMetadataCache(c *Client, opts MetadataCacheOptions) *MetadataCache {
	switch {
	case opts.LockRetryWait == 0:
		opts.LockRetryWait = DefaultPublishLockRetryWait
	case opts.LockRetryWait < 0:
		opts.LockRetryWait = 0
	}
	return &MetadataCache{
		c:        c,
		opts:     opts,
		entities: map[string]*EntityAuditInfo{},
		stale:    map[string]bool{},
		gen:      map[string]uint64{},

		latest:       map[string]bool{},
		strongTables: map[string]bool{},
		written:      map[string]time.Time{},
		needLatest:   map[string]bool{},
	}
}

// cachedNotFoundError is a table absent from the bulk read: no request was
// made for it, but IsNotFound must hold as for a 404.
type cachedNotFoundError struct {
	name string
	err  *Error
}

func (e *cachedNotFoundError) Error() string {
	return fmt.Sprintf("dataverse: table %q does not exist in this environment (it is not among the tables EntityDefinitions returned)", e.name)
}

func (e *cachedNotFoundError) Unwrap() error { return e.err }

func (m *MetadataCache) notFound(name string) error {
	path, _ := entityPath(name)
	return &cachedNotFoundError{name: name, err: &Error{
		Method:     http.MethodGet,
		URL:        m.c.apiBase + path,
		Path:       path,
		StatusCode: http.StatusNotFound,
		Message:    fmt.Sprintf("table %q not found in the metadata cache", name),
	}}
}

// Entity returns a copy of the table's audit info with its columns. The first
// call loads all tables; a table not among them is an error for which
// IsNotFound is true, without a request of its own.
func (m *MetadataCache) Entity(ctx context.Context, logicalName string) (*EntityAuditInfo, error) {
	if err := ValidateLogicalName(logicalName); err != nil {
		return nil, err
	}
	if m.opts.Disabled {
		m.mu.Lock()
		m.singleLoads++
		consistency := CachedRead
		if m.strongTables[logicalName] {
			consistency = StrongRead
		}
		m.mu.Unlock()
		return m.read(ctx, oneTable(logicalName), consistency)
	}
	for {
		m.mu.Lock()
		e, ok := m.entities[logicalName]
		stale, loaded := m.stale[logicalName], m.loaded
		needLatest := m.needLatest[logicalName]
		m.mu.Unlock()
		var flight <-chan singleflight.Result
		switch {
		case stale:
			flight = m.loads.DoChan(logicalName, func() (any, error) { return m.loadOne(ctx, logicalName) })
		case needLatest:
			flight = m.loads.DoChan(strongBulkLoadKey, func() (any, error) { return nil, m.loadAllStrong(ctx) })
		case ok && e != nil:
			return e.Clone(), nil
		case ok || loaded:
			return nil, m.notFound(logicalName)
		default:
			flight = m.loads.DoChan(bulkLoadKey, func() (any, error) { return nil, m.loadAll(ctx) })
		}

		var res singleflight.Result
		select {
		case res = <-flight:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var gone *leaderGoneError
		switch {
		case errors.As(res.Err, &gone) && ctx.Err() == nil:
			continue // the caller that loaded gave up: load again
		case gone != nil:
			return nil, gone.err
		case res.Err != nil:
			return nil, res.Err
		case stale:
			return res.Val.(*EntityAuditInfo).Clone(), nil
		}
		// Bulk load done: look again (the table may have been invalidated
		// meanwhile, or be missing).
	}
}

// read is the cache's one way to the server: every load goes through it.
func (m *MetadataCache) read(ctx context.Context, scope auditReadScope, consistency ReadConsistency) (*EntityAuditInfo, error) {
	all, err := m.c.readEntityAudit(ctx, scope, WithColumns, consistency)
	if err != nil {
		return nil, err
	}
	return all[0], nil
}

// loadAll reads every table and stores them.
func (m *MetadataCache) loadAll(ctx context.Context) error {
	m.mu.Lock()
	if m.loaded {
		// A load finished between the caller's look and this flight.
		m.mu.Unlock()
		return nil
	}
	m.bulkLoads++
	m.mu.Unlock()
	all, err := m.c.readEntityAudit(ctx, allTables, WithColumns, CachedRead)
	if err != nil {
		return leaderGone(ctx, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range all {
		// Tables read on their own after an invalidation are newer than
		// this snapshot, and invalidated ones must be read again.
		if _, known := m.entities[e.LogicalName]; known || m.stale[e.LogicalName] {
			continue
		}
		m.entities[e.LogicalName] = e
	}
	m.loaded = true
	return nil
}

// loadAllStrong reads every table with Consistency: Strong, for the tables
// waiting in needLatest, and stores them all as latest, except those
// written or invalidated since the read began.
func (m *MetadataCache) loadAllStrong(ctx context.Context) error {
	m.mu.Lock()
	if m.strongLoaded {
		m.mu.Unlock()
		return nil
	}
	m.bulkLoads++
	gens := make(map[string]uint64, len(m.gen))
	for name, g := range m.gen {
		gens[name] = g
	}
	m.mu.Unlock()
	all, err := m.c.readEntityAudit(ctx, allTables, WithColumns, StrongRead)
	if err != nil {
		return leaderGone(ctx, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range all {
		if m.stale[e.LogicalName] || m.gen[e.LogicalName] != gens[e.LogicalName] {
			continue
		}
		m.entities[e.LogicalName] = e
		m.latest[e.LogicalName] = true
	}
	m.loaded, m.strongLoaded = true, true
	clear(m.needLatest)
	return nil
}

// loadOne reads one invalidated table and stores it unless it was
// invalidated again while the read ran.
func (m *MetadataCache) loadOne(ctx context.Context, name string) (*EntityAuditInfo, error) {
	m.mu.Lock()
	if !m.stale[name] {
		// A re-read finished between the caller's look and this flight.
		e := m.entities[name]
		m.mu.Unlock()
		if e == nil {
			return nil, m.notFound(name)
		}
		return e.Clone(), nil
	}
	m.singleLoads++
	gen := m.gen[name]
	m.mu.Unlock()
	// Only a write or RequireLatest makes a table stale: read it strongly.
	e, err := m.read(ctx, oneTable(name), StrongRead)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen[name] == gen {
		switch {
		case err == nil:
			m.entities[name] = e
			delete(m.stale, name)
			m.latest[name] = true
		case IsNotFound(err):
			m.entities[name] = nil
			delete(m.stale, name)
			m.latest[name] = true
		}
	}
	if err != nil {
		return nil, leaderGone(ctx, err)
	}
	// Callers get copies; keep the stored value private.
	return e.Clone(), nil
}

// leaderGone marks err as caused by the loading caller's own context ending.
func leaderGone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &leaderGoneError{err: err}
	}
	return err
}

// Invalidate marks a table as changed by this command: the next Entity
// call reads it again, with Consistency: Strong, and LastWrite reports now.
func (m *MetadataCache) Invalidate(logicalName string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.written[logicalName] = time.Now()
	m.markStaleLocked(logicalName)
}

// RequireLatest is for a table written recently by an earlier command
// (Terraform runs each command in a new process): within about 30 s of that
// write a cached read could still return the definition before it. The next
// Entity call for it waits for one bulk read with Consistency: Strong,
// shared by every table so marked (a refresh of 300 resources written by
// the last apply costs one request), unless this cache has already read the
// table strongly since its last write here.
func (m *MetadataCache) RequireLatest(logicalName string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.strongTables[logicalName] = true
	if m.latest[logicalName] || m.stale[logicalName] || m.strongLoaded {
		return // read strongly already, or about to be
	}
	m.needLatest[logicalName] = true
}

// forgetIfOutdated makes the next Entity call read the table again,
// strongly, when its stored entry is outdated by what a strong definition
// read just showed (a change made by an interrupted earlier apply, still
// hidden by Dataverse's cache from the bulk read): otherwise the check after
// the change would compare with the outdated entry. LastWrite then reports
// now: cached reads of the table are outdated for a while yet.
func (m *MetadataCache) forgetIfOutdated(logicalName string, outdated func(cached *EntityAuditInfo) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opts.Disabled {
		m.strongTables[logicalName] = true // no entry to compare: read strongly from now on
		m.written[logicalName] = time.Now()
		return
	}
	if e := m.entities[logicalName]; e != nil && !m.stale[logicalName] && outdated(e) {
		m.written[logicalName] = time.Now()
		m.markStaleLocked(logicalName)
	}
}

func (m *MetadataCache) markStaleLocked(logicalName string) {
	m.gen[logicalName]++
	m.stale[logicalName] = true
	m.latest[logicalName] = false
	m.strongTables[logicalName] = true
	// Callers from now on must not share a read that started before the change.
	m.loads.Forget(logicalName)
}

// LastWrite returns when this command last wrote the table (through
// ApplyTableAudit or ApplyColumnAudit), or found it changed by an earlier
// write that Dataverse's cache still hid from the bulk read; and whether
// either happened.
func (m *MetadataCache) LastWrite(logicalName string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.written[logicalName]
	return t, ok
}

// Stats returns how many bulk loads and single-table loads were started.
func (m *MetadataCache) Stats() (bulkLoads, singleLoads int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bulkLoads, m.singleLoads
}
