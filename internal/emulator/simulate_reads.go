package emulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Simulated read activity and sign-ins, which Dynamics 365 writes to the
// Purview unified audit log (unified.go), not to `audits`.

func (sim *simulation) recordURL(table, id string) string {
	return sim.environment + "/main.aspx?etn=" + table + "&id=" + id + "&pagetype=entityrecord"
}

func (sim *simulation) listURL(table string) string {
	return sim.environment + "/main.aspx?etn=" + table + "&pagetype=entitylist"
}

func fetchXML(table string, count int) string {
	return fmt.Sprintf(`<fetch mapping="logical" count="%d" returntotalrecordcount="true"><entity name="%s"><all-attributes /><order attribute="modifiedon" descending="true" /></entity></fetch>`, count, table)
}

// readAuditing reports whether the organization sends read activity to the
// unified log at all. Caller holds s.mu.
func (sim *simulation) readAuditing() bool {
	o := sim.org.settings()
	return o.IsAuditEnabled && o.IsReadAuditEnabled
}

// SimulateRetrieve records that user opened one record (operation
// "Retrieve"). A unified audit log record is written only when organization
// auditing and read auditing are on and the table's PUBLISHED
// IsRetrieveAuditEnabled is true; nothing goes to `audits`. recordID must
// be a GUID; the record need not be one the emulator holds (its primary
// name, PrimaryFieldValue in auditData, is then empty).
func (s *Server) SimulateRetrieve(at time.Time, user SimUser, table, recordID string) error {
	return s.sim.run(func() (int, error) { return s.sim.simulateRetrieve(at, user, table, recordID) })
}

func (sim *simulation) simulateRetrieve(at time.Time, user SimUser, table, recordID string) (int, error) {
	p, e, err := sim.simTarget(user, table)
	if err != nil {
		return 0, err
	}
	id, err := uuid.Parse(recordID)
	if err != nil {
		return 0, fmt.Errorf("emulator: record id %q is not a GUID", recordID)
	}
	if !sim.readAuditing() || !e.published.audit.IsRetrieveAuditEnabled {
		return 0, nil
	}
	var name string
	if rec := sim.records[table][id]; rec != nil {
		name = primaryName(e, rec.values)
	}
	ids := id.String()
	sim.graph.append(unifiedEvent{
		at: at, user: p, operation: UnifiedOpRetrieve, table: table,
		entityID: ids, primaryName: name, objectID: ids,
		itemURL: sim.recordURL(table, ids), results: []string{ids}, userAgent: browserUserAgent,
	}, sim.timers.Now(), sim.org.uniqueName())
	return 1, nil
}

// SimulateRetrieveMultiple records that user viewed a list of count
// records of table (a grid or an Advanced Find): operation
// "RetrieveMultiple", whose QueryResults lists the ids of the records seen
// (the table's first count records in id order; fewer if it has fewer).
// Written only when organization auditing and read auditing are on and
// the table's PUBLISHED IsRetrieveMultipleAuditEnabled is true.
func (s *Server) SimulateRetrieveMultiple(at time.Time, user SimUser, table string, count int) error {
	return s.sim.run(func() (int, error) { return s.sim.simulateList(at, user, table, count, UnifiedOpRetrieveMultiple, nil) })
}

// SimulateExportToExcel records that user exported count records of table
// to Excel: operation "ExportToExcel", written under the same rule as
// SimulateRetrieveMultiple.
func (s *Server) SimulateExportToExcel(at time.Time, user SimUser, table string, count int) error {
	return s.sim.run(func() (int, error) { return s.sim.simulateList(at, user, table, count, UnifiedOpExportToExcel, nil) })
}

// simulateList writes a RetrieveMultiple or ExportToExcel record. With
// rng, the records seen are a random run of the table's records instead of
// the first ones. Caller holds s.mu.
func (sim *simulation) simulateList(at time.Time, user SimUser, table string, count int, op string, rng *rand.Rand) (int, error) {
	p, e, err := sim.simTarget(user, table)
	if err != nil {
		return 0, err
	}
	if count < 0 {
		return 0, fmt.Errorf("emulator: count %d is negative", count)
	}
	if !sim.readAuditing() || !e.published.audit.IsRetrieveMultipleAuditEnabled {
		return 0, nil
	}
	ids := make([]string, 0, len(sim.records[table]))
	for id := range sim.records[table] {
		ids = append(ids, id.String())
	}
	slices.Sort(ids)
	start := 0
	if rng != nil && len(ids) > count {
		start = rng.IntN(len(ids) - count + 1)
	}
	ids = ids[start:min(start+count, len(ids))]
	sim.graph.append(unifiedEvent{
		at: at, user: p, operation: op, table: table, objectID: table,
		itemURL: sim.listURL(table), query: fetchXML(table, max(count, 1)), results: ids, userAgent: browserUserAgent,
	}, sim.timers.Now(), sim.org.uniqueName())
	return 1, nil
}

// signInUnified writes the unified log record of a sign-in (operation
// UserLoggedIn) when auditing and user access auditing are on. Unlike the
// `audits` access rows it is written for every sign-in. Caller holds sim.mu.
func (sim *simulation) signInUnified(at time.Time, p *principal, webServices bool) int {
	o := sim.org.settings()
	if !o.IsAuditEnabled || !o.IsUserAccessAuditEnabled {
		return 0
	}
	agent, item := browserUserAgent, sim.environment+"/main.aspx"
	if webServices {
		agent, item = webServicesUserAgent, ""
	}
	sim.graph.append(unifiedEvent{
		at: at, user: p, operation: UnifiedOpUserLoggedIn, table: "systemuser",
		entityID: p.systemUserID, primaryName: p.fullName, objectID: p.systemUserID,
		itemURL: item, results: []string{}, userAgent: agent,
	}, sim.timers.Now(), sim.org.uniqueName())
	return 1
}

// SeedUnifiedAuditLog writes n unified audit log records (Retrieve,
// RetrieveMultiple, ExportToExcel and UserLoggedIn, by eight "Seed User"
// users on the seed tables) spread over [from, to], regardless of the
// audit settings, for volume tests. Content is deterministic for a seed;
// ids are random. It returns the number of records written.
func (s *Server) SeedUnifiedAuditLog(n int, from, to time.Time, seed int64) int {
	return s.sim.seedUnifiedLog(n, from, to, seed)
}

// seedUnifiedLog takes no simulation lock: it reads only which seed
// tables exist, and writes the unified log under the Graph part's lock.
func (sim *simulation) seedUnifiedLog(n int, from, to time.Time, seed int64) int {
	if n <= 0 {
		return 0
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_9e71e3))
	type seedTable struct {
		name  string
		ids   []string
		names []string
	}
	var tables []*seedTable
	for _, name := range seedTables {
		if sim.meta.table(name) == nil {
			continue
		}
		st := &seedTable{name: name}
		for range 64 {
			var id uuid.UUID
			for i := range id {
				id[i] = byte(rng.UintN(256))
			}
			id[6] = id[6]&0x0f | 0x40
			id[8] = id[8]&0x3f | 0x80
			st.ids = append(st.ids, id.String())
			st.names = append(st.names, simCompanies[rng.IntN(len(simCompanies))]+" "+simWords[rng.IntN(len(simWords))]+" "+strconv.Itoa(rng.IntN(1000)))
		}
		slices.Sort(st.ids)
		tables = append(tables, st)
	}
	if len(tables) == 0 {
		panic(errNoSeedTables)
	}
	users := sim.seedUsers()
	written := sim.timers.Now()
	org := sim.org.uniqueName()
	sim.graph.mu.Lock()
	defer sim.graph.mu.Unlock()
	sim.graph.unified = slices.Grow(sim.graph.unified, n)
	for _, at := range sortedTimes(rng, n, from, to) {
		st := tables[rng.IntN(len(tables))]
		user := users[rng.IntN(len(users))]
		ev := unifiedEvent{at: at, user: user, table: st.name, userAgent: browserUserAgent}
		switch roll := rng.IntN(100); {
		case roll < 55:
			i := rng.IntN(len(st.ids))
			ev.operation, ev.entityID, ev.objectID, ev.primaryName = UnifiedOpRetrieve, st.ids[i], st.ids[i], st.names[i]
			ev.itemURL, ev.results = sim.recordURL(st.name, st.ids[i]), []string{st.ids[i]}
		case roll < 88:
			ev.operation = UnifiedOpRetrieveMultiple
			if roll >= 80 {
				ev.operation = UnifiedOpExportToExcel
			}
			k := 1 + rng.IntN(20)
			i := rng.IntN(len(st.ids) - k + 1)
			ev.objectID, ev.itemURL, ev.query, ev.results = st.name, sim.listURL(st.name), fetchXML(st.name, 50), st.ids[i:i+k]
		default:
			ev.operation, ev.table, ev.entityID, ev.objectID, ev.primaryName = UnifiedOpUserLoggedIn, "systemuser", user.systemUserID, user.systemUserID, user.fullName
			ev.itemURL, ev.results = sim.environment+"/main.aspx", []string{}
		}
		sim.graph.appendUnified(ev, written, org)
	}
	return n
}
