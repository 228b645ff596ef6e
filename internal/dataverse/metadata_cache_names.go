package dataverse

import "sort"

// LogicalNames returns, sorted, the tables the cache knows to exist, without
// a request: after the first Entity call of a command, every table of the
// environment. For suggestions in unknown-table errors; empty when nothing
// was loaded yet or the cache is Disabled.
func (m *MetadataCache) LogicalNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.entities))
	for name, e := range m.entities {
		if e != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
