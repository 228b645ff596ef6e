package dataverse

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
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
	// FlushWindow is how long the first of concurrent per-table reads waits
	// for others to join its $batch. Zero means DefaultMetadataFlushWindow;
	// negative means no wait.
	FlushWindow time.Duration
	// PerTableReadLimit is how many tables are read one by one (in
	// coalesced $batch requests) before the table-level audit fields of
	// every table are read at once. Zero means DefaultPerTableReadLimit;
	// negative means every table-level read is the bulk read.
	PerTableReadLimit int
	// Activity, when set, lets coalesced reads go as soon as every resource
	// operation in flight waits on a coalescer; FlushWindow (at least
	// ActivityMetadataFlushWindow then) only bounds the wait.
	Activity *Activity
}

// ActivityMetadataFlushWindow bounds the wait of coalesced reads when an
// Activity is tracked: they usually go earlier, once every operation waits.
const ActivityMetadataFlushWindow = 300 * time.Millisecond

// DefaultPerTableReadLimit: a command that reads more tables than one
// round of Terraform's parallelism (10) reads every table's table-level
// fields in one bulk read (two requests) instead.
const DefaultPerTableReadLimit = 10

// MetadataCache serves table audit info during one Terraform command, and
// is the way audit settings are changed (ApplyTableAudit, ApplyColumnAudit),
// so that a written table is never served from an older read.
//
// Reads scale with what the configuration manages. A table is read on its
// own — RetrieveEntity saved and published, without columns unless the
// caller needs them — and the reads of concurrent callers go in one $batch
// (definitionBatcher). Once a command has read PerTableReadLimit tables that
// way, a table not yet read is served by one bulk read of every table's
// table-level definition (RetrieveAllEntities with EntityFilters Entity,
// saved and published: two requests, no columns), shared by all callers.
// Columns are only ever read per table, for callers that manage columns. A
// write invalidates its table, which is then read again on its own.
//
// Dataverse itself caches definitions for about 30 s after a change. A
// table this command wrote, or one an earlier command wrote
// (RequireLatest), is read with Consistency: Strong: on its own while the
// command reads per table, by one strong bulk read once it reads in bulk.
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

	// perTable: tables read (or being read) one by one, for the switch to
	// the bulk read; namesLoaded: names holds every table's logical name
	// (read for suggestions after an unknown table).
	perTable    map[string]bool
	names       []string
	namesLoaded bool
	namesTried  bool

	batcher *definitionBatcher

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

// optionOrDefault reads a numeric option the way every option of this
// package is documented: zero means the default, a negative value means none
// (zero).
func optionOrDefault[T time.Duration | int](v, def T) T {
	if v == 0 {
		return def
	}
	return max(v, 0)
}

// NewMetadataCache returns an empty cache reading through c.
func NewMetadataCache(c *Client, opts MetadataCacheOptions) *MetadataCache {
	opts.LockRetryWait = optionOrDefault(opts.LockRetryWait, DefaultPublishLockRetryWait)
	opts.FlushWindow = optionOrDefault(opts.FlushWindow, DefaultMetadataFlushWindow)
	opts.PerTableReadLimit = optionOrDefault(opts.PerTableReadLimit, DefaultPerTableReadLimit)
	return &MetadataCache{
		c:        c,
		opts:     opts,
		batcher:  newDefinitionBatcher(c, metadataFlushPolicy(opts), opts.Activity),
		perTable: map[string]bool{},
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

// Entity returns a copy of the table's audit info with its columns, and the
// published audit field of the columns named in published (the columns the
// caller manages; the others' published value is not read). A table that
// does not exist is an error for which IsNotFound is true.
func (m *MetadataCache) Entity(ctx context.Context, logicalName string, published ...string) (*EntityAuditInfo, error) {
	return m.get(ctx, logicalName, WithColumns, sortedUnique(published))
}

// Table returns a copy of the table's audit info, without columns unless
// they were read already (Attributes may be nil): for callers that manage
// no column. A table that does not exist is an error for which IsNotFound
// is true.
func (m *MetadataCache) Table(ctx context.Context, logicalName string) (*EntityAuditInfo, error) {
	return m.get(ctx, logicalName, WithoutColumns, nil)
}

// publishedCovers reports whether e's published view holds every column of
// names that the table has (a column it lacks has nothing to compare).
func publishedCovers(e *EntityAuditInfo, names []string) bool {
	for _, n := range names {
		if _, exists := e.Attributes[n]; !exists {
			continue
		}
		if e.Published == nil {
			return false
		}
		if _, ok := e.Published.Attributes[n]; !ok {
			return false
		}
	}
	return true
}

// servesRead reports whether a stored entry answers a read with columns
// and published.
func servesRead(e *EntityAuditInfo, columns ColumnsOption, published []string) bool {
	return e == nil || columns == WithoutColumns || (e.Attributes != nil && publishedCovers(e, published))
}

func (m *MetadataCache) get(ctx context.Context, logicalName string, columns ColumnsOption, published []string) (*EntityAuditInfo, error) {
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
		all, err := m.c.readEntityAudit(ctx, oneTable(logicalName), columns, consistency)
		if err != nil {
			return nil, err
		}
		return all[0], nil
	}
	for {
		var flight <-chan singleflight.Result
		m.mu.Lock()
		e, known := m.entities[logicalName]
		perTable := m.stale[logicalName] || columns == WithColumns || !m.bulkMode(logicalName)
		switch {
		case m.stale[logicalName] || (m.needLatest[logicalName] && perTable):
			m.perTable[logicalName] = true
			m.mu.Unlock()
			flight = m.loads.DoChan(tableFlightKey(logicalName, columns, published, StrongRead), func() (any, error) {
				return m.loadOne(ctx, logicalName, columns, published, StrongRead)
			})
		case m.needLatest[logicalName]:
			m.mu.Unlock()
			flight = m.loads.DoChan(strongBulkLoadKey, func() (any, error) { return nil, m.loadAll(ctx, StrongRead) })
		case known && e == nil:
			m.mu.Unlock()
			return nil, m.notFoundLoadingNames(ctx, logicalName)
		case known && servesRead(e, columns, published):
			m.mu.Unlock()
			return e.Clone(), nil
		case perTable:
			consistency := CachedRead
			if m.strongTables[logicalName] {
				consistency = StrongRead
			}
			// Counted now, so that concurrent callers see the limit.
			m.perTable[logicalName] = true
			m.mu.Unlock()
			flight = m.loads.DoChan(tableFlightKey(logicalName, columns, published, consistency), func() (any, error) {
				return m.loadOne(ctx, logicalName, columns, published, consistency)
			})
		case m.loaded:
			m.mu.Unlock()
			return nil, m.notFound(logicalName)
		case len(m.strongTables) > 0:
			// This command writes (some table was required latest): the
			// strong bulk read will be needed anyway, and serves this
			// caller as well as a cached one would.
			m.mu.Unlock()
			flight = m.loads.DoChan(strongBulkLoadKey, func() (any, error) { return nil, m.loadAll(ctx, StrongRead) })
		default:
			m.mu.Unlock()
			flight = m.loads.DoChan(bulkLoadKey, func() (any, error) { return nil, m.loadAll(ctx, CachedRead) })
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
		case IsNotFound(res.Err):
			return nil, m.notFoundLoadingNames(ctx, logicalName)
		case res.Err != nil:
			return nil, res.Err
		}
		if info, ok := res.Val.(*EntityAuditInfo); ok && info != nil {
			return info.Clone(), nil
		}
		// Bulk load done: look again (the table may have been invalidated
		// meanwhile, or be missing).
	}
}

// bulkMode reports whether a table not yet read is served by the bulk
// read: this command already read PerTableReadLimit tables one by one, or
// read in bulk already. Caller holds m.mu.
func (m *MetadataCache) bulkMode(logicalName string) bool {
	if m.loaded || m.strongLoaded {
		return true
	}
	return !m.perTable[logicalName] && len(m.perTable) >= m.opts.PerTableReadLimit
}

func tableFlightKey(name string, columns ColumnsOption, published []string, consistency ReadConsistency) string {
	key := name
	if columns == WithColumns {
		key += "+columns(" + strings.Join(published, ",") + ")"
	}
	if consistency == StrongRead {
		key += "+strong"
	}
	return key
}

// loadAll reads every table's table-level audit fields and stores them.
// A cached read stores only the tables not known yet: tables read on their
// own are as new as this snapshot or newer. A strong read (Consistency:
// Strong, for the tables waiting in needLatest) stores them all as latest,
// except those written since the read began, and drops columns read
// before: the next caller that needs them reads the table again, strongly.
// Invalidated tables are never stored: they must be read again.
func (m *MetadataCache) loadAll(ctx context.Context, consistency ReadConsistency) error {
	strong := consistency == StrongRead
	m.mu.Lock()
	if m.strongLoaded || (m.loaded && !strong) {
		// A load finished between the caller's look and this flight.
		m.mu.Unlock()
		return nil
	}
	m.bulkLoads++
	var gens map[string]uint64
	if strong {
		gens = maps.Clone(m.gen)
	}
	m.mu.Unlock()
	all, err := m.c.readEntityAudit(ctx, allTables, WithoutColumns, consistency)
	if err != nil {
		return leaderGone(ctx, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range all {
		name := e.LogicalName
		if _, known := m.entities[name]; m.stale[name] || (strong && m.gen[name] != gens[name]) || (known && !strong) {
			continue
		}
		m.entities[name] = e
		if strong {
			m.latest[name] = true
		}
	}
	m.setNamesLocked(all)
	m.loaded = true
	if strong {
		m.strongLoaded = true
		clear(m.needLatest)
	}
	return nil
}

// loadOne reads one table on its own (coalesced with other callers' reads)
// and stores it unless it was invalidated again while the read ran.
func (m *MetadataCache) loadOne(ctx context.Context, name string, columns ColumnsOption, published []string, consistency ReadConsistency) (*EntityAuditInfo, error) {
	m.mu.Lock()
	if e, known := m.entities[name]; known && !m.stale[name] && !m.needLatest[name] &&
		servesRead(e, columns, published) && (consistency == CachedRead || m.latest[name]) {
		// A read finished between the caller's look and this flight.
		m.mu.Unlock()
		if e == nil {
			return nil, m.notFound(name)
		}
		return e.Clone(), nil
	}
	m.singleLoads++
	m.perTable[name] = true
	gen := m.gen[name]
	m.mu.Unlock()
	e, err := m.batcher.readAudit(ctx, name, columns, published, consistency)
	m.mu.Lock()
	defer m.mu.Unlock()
	if consistency == CachedRead && m.latest[name] && m.gen[name] == gen {
		// A strong read stored the table while this cached one ran: the
		// cached answer may be older (Dataverse's metadata cache) and must
		// not replace it — RequireLatest trusts a table read strongly.
		if cur := m.entities[name]; servesRead(cur, columns, published) {
			if cur == nil {
				return nil, m.notFound(name)
			}
			return cur.Clone(), nil
		}
		if err != nil {
			return nil, leaderGone(ctx, err)
		}
		return e.Clone(), nil
	}
	if m.gen[name] == gen {
		switch {
		case err == nil:
			m.entities[name] = e
		case IsNotFound(err):
			m.entities[name] = nil
		}
		if (err == nil || IsNotFound(err)) && consistency == StrongRead {
			delete(m.stale, name)
			delete(m.needLatest, name)
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
