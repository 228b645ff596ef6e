package emulator

import (
	"net/http"
	"strings"
	"time"
)

// The metadata cache. Dataverse caches table and column definitions: for
// about 30 seconds after a change a read can return the definition as it
// was before, unless the request carries "Consistency: Strong"
// (ServiceClient.ForceServerMetadataCacheConsistency; the Web API's
// "Compose HTTP requests and handle errors", HTTP headers). The emulator
// keeps, per table, the definition as it was before the last PUT, until
// the window after that PUT has passed on the emulator's clock, and serves
// it to every definition read without the header: single tables, their
// Attributes, cast column reads and the collection with $expand.

const (
	headerConsistency          = "Consistency"
	defaultMetadataCacheWindow = 30 * time.Second
)

// strongConsistency reports whether r asks for the latest definitions.
func strongConsistency(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(headerConsistency)), "Strong")
}

// cachedDefinition is a table (its properties and each column's, by index
// in entityDef.attrs) as it was before a PUT, served to reads without
// Consistency: Strong until expires. The slices are shared with what was
// the saved definition; definitions are replaced, never edited in place.
type cachedDefinition struct {
	props     rawObject
	attrProps []rawObject
	expires   time.Time
}

// rememberBeforeWrite keeps e as it is now, before a PUT changes it, for
// the cache window. Caller holds md.mu.
func (md *metadataPart) rememberBeforeWrite(e *entityDef) {
	if md.cacheWindow <= 0 {
		return
	}
	attrProps := make([]rawObject, len(e.attrs))
	for i, a := range e.attrs {
		attrProps[i] = a.props
	}
	if md.cached == nil {
		md.cached = map[string]*cachedDefinition{}
	}
	md.cached[e.logicalName] = &cachedDefinition{props: e.props, attrProps: attrProps, expires: md.timers.Now().Add(md.cacheWindow)}
}

// servedDefinition is the one place a definition read decides what it
// serves: the table itself, or, for a read without Consistency: Strong
// within the window after a PUT, a copy of it as it was before that PUT.
// Caller holds md.mu.
func (md *metadataPart) servedDefinition(e *entityDef, q metaQuery) *entityDef {
	c := md.cached[e.logicalName]
	if c == nil {
		return e
	}
	if !md.timers.Now().Before(c.expires) {
		delete(md.cached, e.logicalName)
		return e
	}
	if q.strong {
		return e
	}
	stale := *e
	stale.props = c.props
	stale.attrs = make([]*attrDef, len(e.attrs))
	stale.attrByName = make(map[string]*attrDef, len(e.attrs))
	for i, a := range e.attrs {
		old := *a
		old.props = c.attrProps[i]
		stale.attrs[i] = &old
		stale.attrByName[old.logicalName] = &old
	}
	return &stale
}

// StrongConsistencyCount is the number of requests on the environment
// listener (requests inside a $batch included) that carried the header
// Consistency: Strong. ResetCounters sets it to zero.
func (s *Server) StrongConsistencyCount() int {
	s.counters.mu.Lock()
	defer s.counters.mu.Unlock()
	return s.counters.strong
}

// forgetCached drops a table's cached definition: reads see it as it is.
// Caller holds md.mu.
func (md *metadataPart) forgetCached(logicalName string) {
	delete(md.cached, logicalName)
}
