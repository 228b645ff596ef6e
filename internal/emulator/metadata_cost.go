package emulator

import (
	"net/http"
	"time"
)

// MetadataReadCost is the server-side time a metadata read takes for what
// it returns: PerTable for each table definition and PerColumn for each
// column definition in the answer, so that reading the whole catalogue of
// a large organization costs what it costs there, and reading three tables
// does not. Options.MetadataReadCost; the zero value costs nothing.
type MetadataReadCost struct {
	PerTable  time.Duration
	PerColumn time.Duration
}

// definitionCount is what a metadata answer holds.
type definitionCount struct {
	tables, columns int
}

// add counts one table with columns of its columns.
func (c *definitionCount) add(columns int) {
	c.tables++
	c.columns += columns
}

// of is how long returning n takes.
func (c MetadataReadCost) of(n definitionCount) time.Duration {
	return time.Duration(n.tables)*c.PerTable + time.Duration(n.columns)*c.PerColumn
}

// chargeRead holds a metadata read for the time its answer costs, on the
// server's clock, before the answer is written. Every route that returns
// table or column definitions (EntityDefinitions, RetrieveEntity,
// RetrieveAllEntities, and any metadata query added later) calls it with
// what it returns, without holding md.mu.
func (md *metadataPart) chargeRead(r *http.Request, n definitionCount) {
	md.wait(md.readCost.of(n), r.Context().Done())
}
