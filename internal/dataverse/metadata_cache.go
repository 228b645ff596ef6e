package dataverse

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// MetadataCacheOptions configures a MetadataCache.
type MetadataCacheOptions struct {
	// Disabled is the naive mode for benchmarks: every Entity call reads that
	// one table.
	Disabled bool
}

// MetadataCache serves table audit info during one Terraform command.
//
// Refreshing N table resources would cost N metadata reads; instead the first
// reader loads every table with its columns in one request (single-flight),
// and the others are served from it. A write invalidates its table, which is
// then read again on its own.
type MetadataCache struct {
	c    *Client
	opts MetadataCacheOptions

	mu sync.Mutex
	// entities holds the known tables; a nil value is a table known not to
	// exist (a re-read after Invalidate answered 404).
	entities map[string]*EntityAuditInfo
	// loaded: a bulk load succeeded, so a table missing from entities does
	// not exist.
	loaded bool
	bulk   *cacheFlight
	// stale tables are read again on their own; gen counts invalidations so
	// that a read that started before one does not clear it.
	stale  map[string]bool
	gen    map[string]uint64
	single map[string]*cacheFlight

	bulkLoads, singleLoads int
}

// cacheFlight is one load that concurrent callers share.
type cacheFlight struct {
	done chan struct{}
	val  *EntityAuditInfo // single loads only
	err  error
	// leaderGone: the load failed because the context of the caller that ran
	// it ended; other callers try again with their own.
	leaderGone bool
}

// NewMetadataCache returns an empty cache reading through c.
func NewMetadataCache(c *Client, opts MetadataCacheOptions) *MetadataCache {
	return &MetadataCache{
		c:        c,
		opts:     opts,
		entities: map[string]*EntityAuditInfo{},
		stale:    map[string]bool{},
		gen:      map[string]uint64{},
		single:   map[string]*cacheFlight{},
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
		m.mu.Unlock()
		return m.c.GetEntityAuditInfo(ctx, logicalName, true)
	}
	for {
		m.mu.Lock()
		var f *cacheFlight
		single := false
		switch e, ok := m.entities[logicalName]; {
		case m.stale[logicalName]:
			single = true
			if f = m.single[logicalName]; f == nil {
				f = &cacheFlight{done: make(chan struct{})}
				m.single[logicalName] = f
				m.singleLoads++
				gen := m.gen[logicalName]
				m.mu.Unlock()
				m.loadOne(ctx, logicalName, f, gen)
				m.mu.Lock()
			}
		case ok && e != nil:
			out := e.Clone()
			m.mu.Unlock()
			return out, nil
		case ok || m.loaded:
			m.mu.Unlock()
			return nil, m.notFound(logicalName)
		default:
			if f = m.bulk; f == nil {
				f = &cacheFlight{done: make(chan struct{})}
				m.bulk = f
				m.bulkLoads++
				m.mu.Unlock()
				m.loadAll(ctx, f)
				m.mu.Lock()
			}
		}
		m.mu.Unlock()

		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil {
			if f.leaderGone && ctx.Err() == nil {
				continue // the caller that loaded gave up: load again
			}
			return nil, f.err
		}
		if single {
			return f.val.Clone(), nil
		}
		// Bulk load done: look again (the table may have been invalidated
		// meanwhile, or be missing).
	}
}

// loadAll runs the bulk load of flight f.
func (m *MetadataCache) loadAll(ctx context.Context, f *cacheFlight) {
	all, err := m.c.ListEntityAuditInfo(ctx, true)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bulk = nil
	if err == nil {
		for name, e := range all {
			// Tables read on their own after an invalidation are newer than
			// this snapshot, and invalidated ones must be read again.
			if _, known := m.entities[name]; known || m.stale[name] {
				continue
			}
			m.entities[name] = e
		}
		m.loaded = true
	}
	f.err = err
	f.leaderGone = err != nil && ctx.Err() != nil
	close(f.done)
}

// loadOne runs the read of one invalidated table; gen is the table's
// invalidation count when the read started.
func (m *MetadataCache) loadOne(ctx context.Context, name string, f *cacheFlight, gen uint64) {
	e, err := m.c.GetEntityAuditInfo(ctx, name, true)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.single[name] == f {
		delete(m.single, name)
	}
	if m.gen[name] == gen {
		switch {
		case err == nil:
			m.entities[name] = e
			delete(m.stale, name)
		case IsNotFound(err):
			m.entities[name] = nil
			delete(m.stale, name)
		}
	}
	if err == nil {
		// Callers get copies; keep the stored value private.
		f.val = e.Clone()
	}
	f.err = err
	f.leaderGone = err != nil && ctx.Err() != nil
	close(f.done)
}

// Invalidate marks a table as changed: the next Entity call reads it again.
func (m *MetadataCache) Invalidate(logicalName string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen[logicalName]++
	m.stale[logicalName] = true
	// Callers from now on must not share a read that started before the change.
	delete(m.single, logicalName)
}

// Stats returns how many bulk loads and single-table loads were started.
func (m *MetadataCache) Stats() (bulkLoads, singleLoads int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bulkLoads, m.singleLoads
}
