package dataverse

import (
	"context"
	"net/url"
	"sort"
)

// LogicalNames returns, sorted, the tables the cache knows to exist, without
// a request: every table of the environment once a bulk read ran or an
// unknown table was asked for, else the tables read so far. For suggestions
// in unknown-table errors; empty when nothing was loaded yet or the cache is
// Disabled.
func (m *MetadataCache) LogicalNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.namesLoaded {
		out := make([]string, 0, len(m.names))
		for _, name := range m.names {
			if e, known := m.entities[name]; !known || e != nil {
				out = append(out, name)
			}
		}
		return out
	}
	names := make([]string, 0, len(m.entities))
	for name, e := range m.entities {
		if e != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// setNamesLocked records the names of a read of every table. Caller holds
// m.mu.
func (m *MetadataCache) setNamesLocked(all []*EntityAuditInfo) {
	m.names = make([]string, 0, len(all))
	for _, e := range all {
		m.names = append(m.names, e.LogicalName)
	}
	sort.Strings(m.names)
	m.namesLoaded = true
}

// notFoundLoadingNames is the not-found error of a table read on its own,
// after loading every table's logical name once (one small request,
// EntityDefinitions?$select=LogicalName, whose saved-or-published view does
// not matter for names), so the error can suggest the closest names.
// Failing to load the names only loses the suggestions.
func (m *MetadataCache) notFoundLoadingNames(ctx context.Context, name string) error {
	m.mu.Lock()
	tried := m.namesLoaded || m.namesTried
	m.namesTried = true
	m.mu.Unlock()
	if !tried {
		_, _, _ = m.loads.Do("*names", func() (any, error) {
			var body struct {
				Value []struct {
					LogicalName string `json:"LogicalName"`
				} `json:"value"`
			}
			if err := m.c.getJSON(ctx, "EntityDefinitions", url.Values{"$select": {"LogicalName"}}, &body); err != nil {
				return nil, err
			}
			all := make([]*EntityAuditInfo, len(body.Value))
			for i, v := range body.Value {
				all[i] = &EntityAuditInfo{LogicalName: v.LogicalName}
			}
			m.mu.Lock()
			m.setNamesLocked(all)
			m.mu.Unlock()
			return nil, nil
		})
	}
	return m.notFound(name)
}
