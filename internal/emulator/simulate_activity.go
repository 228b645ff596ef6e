package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The random workload generator: SimulateActivity and SeedAuditHistory, built
// on the single-record simulation API of simulate.go.

// ActivityOptions configures SimulateActivity. Zero values: To now (the
// server's clock), From 24 hours before To, Tables account, contact, lead,
// opportunity and incident, Users 3 ("Simulated User 1".. created on first
// use and reused).
type ActivityOptions struct {
	Seed     int64
	Actions  int
	From, To time.Time
	Tables   []string
	Users    int
}

// ActivitySummary counts what a simulation did, the audit rows and the
// unified audit log (Purview) records the settings let it write. Reads
// counts Retrieve and RetrieveMultiple actions, Exports ExportToExcel.
type ActivitySummary struct {
	Creates, Updates, Deletes, SignIns, AuditRowsWritten int
	Reads, Exports, PurviewRecordsWritten                int
}

var defaultActivityTables = []string{"account", "contact", "lead", "opportunity", "incident"}

// skipGenerated are creatable columns simulations leave alone.
var skipGenerated = map[string]bool{
	"overriddencreatedon": true, "importsequencenumber": true, "statecode": true,
	"statuscode": true, "ownerid": true, "transactioncurrencyid": true, "exchangerate": true,
}

// generatedColumns are the columns a simulation writes, sorted by name.
func generatedColumns(e *entityDef, create bool) []simColumn {
	var out []simColumn
	for _, a := range e.attrs {
		c := simColumnOf(a)
		if c.primaryID || c.virtual || skipGenerated[c.name] || c.typ == "BigInt" || c.typ == "Uniqueidentifier" ||
			(create && !c.create) || (!create && !c.update) {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b simColumn) int { return strings.Compare(a.name, b.name) })
	return out
}

var (
	simCompanies = []string{"Contoso", "Fabrikam", "Adventure Works", "Northwind", "Litware", "Tailspin", "Wingtip", "Alpine Ski House", "Coho Winery", "Proseware"}
	simWords     = []string{"Review", "Renewal", "Upgrade", "Pilot", "Expansion", "Audit", "Migration", "Support", "Onboarding", "Rollout"}
	simFirst     = []string{"Ana", "Ben", "Chen", "Dana", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jonas"}
	simLast      = []string{"Ito", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel", "Quinn", "Rossi", "Silva"}
)

// generateValue makes a typed value for a column (as convertValue would
// store it).
func generateValue(rng *rand.Rand, c simColumn, primary bool, from, to int64) any {
	switch c.typ {
	case "String":
		var s string
		switch {
		case primary:
			s = simCompanies[rng.IntN(len(simCompanies))] + " " + simWords[rng.IntN(len(simWords))] + " " + strconv.Itoa(rng.IntN(1000))
		case strings.Contains(c.name, "email"):
			s = strings.ToLower(simFirst[rng.IntN(len(simFirst))]) + strconv.Itoa(rng.IntN(1000)) + "@example.com"
		case strings.Contains(c.name, "firstname"):
			s = simFirst[rng.IntN(len(simFirst))]
		case strings.Contains(c.name, "lastname"):
			s = simLast[rng.IntN(len(simLast))]
		case strings.Contains(c.name, "phone"):
			s = "+1 555 " + strconv.Itoa(1000+rng.IntN(9000))
		case strings.Contains(c.name, "url"):
			s = "https://www." + strings.ToLower(strings.ReplaceAll(simCompanies[rng.IntN(len(simCompanies))], " ", "")) + ".com"
		default:
			s = simWords[rng.IntN(len(simWords))] + "-" + strconv.Itoa(rng.IntN(100000))
		}
		if c.maxLength > 0 && len(s) > c.maxLength {
			s = s[:c.maxLength]
		}
		return s
	case "Memo":
		return "Note " + strconv.Itoa(rng.IntN(100000)) + ": " + simWords[rng.IntN(len(simWords))] + " discussed with " + simFirst[rng.IntN(len(simFirst))] + "."
	case "Integer":
		return rng.IntN(1000)
	case "Decimal":
		return json.Number(strconv.FormatFloat(float64(rng.IntN(1000000))/100, 'f', c.precision, 64))
	case "Money":
		return json.Number(strconv.FormatFloat(float64(rng.IntN(100000000))/100, 'f', 4, 64))
	case "Boolean":
		return rng.IntN(2) == 1
	case "Picklist":
		if strings.HasPrefix(c.name, "new_") {
			return 100000000 + rng.IntN(4)
		}
		return 1 + rng.IntN(5)
	case "DateTime":
		t := time.Unix(from+rng.Int64N(max(to-from, 1)), 0).UTC()
		if c.dateOnly {
			return t.Format(time.DateOnly)
		}
		return t.Format(dataverseTimeFormat)
	case "Lookup", "Customer", "Owner":
		var id uuid.UUID
		for i := range id {
			id[i] = byte(rng.UintN(256))
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		return id.String()
	}
	return nil
}

// randomValues picks between lo and hi generated columns (the primary name
// first on create).
func randomValues(rng *rand.Rand, e *entityDef, cols []simColumn, create bool, lo, hi int, from, to int64) map[string]any {
	out := map[string]any{}
	pn := readString(e.props, "PrimaryNameAttribute")
	if create {
		for _, c := range cols {
			if c.name == pn {
				out[pn] = generateValue(rng, c, true, from, to)
			}
		}
	}
	if len(cols) == 0 {
		return out
	}
	n := lo + rng.IntN(hi-lo+1)
	for range n {
		c := cols[rng.IntN(len(cols))]
		out[c.name] = generateValue(rng, c, c.name == pn, from, to)
	}
	return out
}

func sortedTimes(rng *rand.Rand, n int, from, to time.Time) []time.Time {
	span := to.Sub(from)
	out := make([]time.Time, n)
	for i := range out {
		var d time.Duration
		if span > 0 {
			d = time.Duration(rng.Int64N(int64(span)))
		}
		out[i] = from.Add(d).Truncate(time.Second)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// SimulateActivity runs opts.Actions random actions (creates, updates,
// deletes, sign-ins, record and list reads, exports to Excel) spread over
// [From, To], as the simulation users, on the given tables. Values are typed per column type from the catalogue.
// The same seed on the same state gives the same actions and values
// (record and audit ids are random). Unknown tables are skipped.
func (s *Server) SimulateActivity(opts ActivityOptions) ActivitySummary { return s.sim.activity(opts) }

func (sim *simulation) activity(opts ActivityOptions) ActivitySummary {
	sim.lock()
	defer sim.unlock()
	var sum ActivitySummary
	if opts.To.IsZero() {
		opts.To = sim.now()
	}
	if opts.From.IsZero() {
		opts.From = opts.To.Add(-24 * time.Hour)
	}
	if opts.Users <= 0 {
		opts.Users = 3
	}
	tables := opts.Tables
	if len(tables) == 0 {
		tables = defaultActivityTables
	}
	var ents []*entityDef
	for _, t := range tables {
		if e := sim.meta.store.entities[t]; e != nil {
			ents = append(ents, e)
		}
	}
	if len(ents) == 0 || opts.Actions <= 0 {
		return sum
	}
	users := make([]SimUser, opts.Users)
	for i := range users {
		users[i] = simUserOf(sim.entra.simUserNamed(fmt.Sprintf("Simulated User %d", i+1)))
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_ac71_7175))
	createCols := map[string][]simColumn{}
	updateCols := map[string][]simColumn{}
	pools := map[string][]uuid.UUID{}
	for _, e := range ents {
		createCols[e.logicalName] = generatedColumns(e, true)
		updateCols[e.logicalName] = generatedColumns(e, false)
		var ids []uuid.UUID
		for id := range sim.records[e.logicalName] {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		pools[e.logicalName] = ids
	}
	from, to := opts.From.Unix(), opts.To.Unix()
	for _, at := range sortedTimes(rng, opts.Actions, opts.From, opts.To) {
		user := users[rng.IntN(len(users))]
		e := ents[rng.IntN(len(ents))]
		t := e.logicalName
		roll := rng.IntN(100)
		switch {
		case roll < 12:
			n, m, _ := sim.simulateSignIn(at, user, rng.IntN(3) == 0)
			tally(&sum, &sum.SignIns, n, m, nil)
		case roll < 22 && len(pools[t]) > 0:
			m, err := sim.simulateRetrieve(at, user, t, pools[t][rng.IntN(len(pools[t]))].String())
			tally(&sum, &sum.Reads, 0, m, err)
		case roll < 27:
			m, err := sim.simulateList(at, user, t, 1+rng.IntN(50), UnifiedOpRetrieveMultiple, rng)
			tally(&sum, &sum.Reads, 0, m, err)
		case roll < 30:
			m, err := sim.simulateList(at, user, t, 1+rng.IntN(500), UnifiedOpExportToExcel, rng)
			tally(&sum, &sum.Exports, 0, m, err)
		case roll < 60 && len(pools[t]) > 0:
			id := pools[t][rng.IntN(len(pools[t]))]
			n, err := sim.simulateUpdate(at, user, t, id.String(), randomValues(rng, e, updateCols[t], false, 1, 3, from, to))
			tally(&sum, &sum.Updates, n, 0, err)
		case roll < 70 && len(pools[t]) > 0:
			i := rng.IntN(len(pools[t]))
			n, err := sim.simulateDelete(at, user, t, pools[t][i].String())
			tally(&sum, &sum.Deletes, n, 0, err)
			pools[t] = slices.Delete(pools[t], i, i+1)
		default:
			id, n, err := sim.simulateCreate(at, user, t, randomValues(rng, e, createCols[t], true, 1, 4, from, to))
			if tally(&sum, &sum.Creates, n, 0, err) {
				pools[t] = append(pools[t], id)
			}
		}
	}
	return sum
}

// tally counts an action of a simulation that succeeded (err nil): one more
// in count (a field of sum), and the audit rows and Purview records it wrote.
func tally(sum *ActivitySummary, count *int, rows, records int, err error) bool {
	if err != nil {
		return false
	}
	*count++
	sum.AuditRowsWritten += rows
	sum.PurviewRecordsWritten += records
	return true
}

var errNoSeedTables = errors.New("no seed tables")

// seedTables are the tables SeedAuditHistory writes history for.
var seedTables = []string{"account", "contact", "lead", "opportunity", "incident", "new_project"}

type seedRecord struct {
	id     uuid.UUID
	values map[string]any
}

// SeedAuditHistory writes n create/update/delete rows spread over
// [from, to] for several tables and eight "Seed User" users, with old and
// new values, regardless of the audit settings (for volume tests). The
// records still alive afterwards exist for later simulations. Content is
// deterministic for a seed; ids are random. It returns the number of rows
// written.
func (s *Server) SeedAuditHistory(n int, from, to time.Time, seed int64) int {
	return s.sim.seedAuditHistory(n, from, to, seed)
}

func (sim *simulation) seedAuditHistory(n int, from, to time.Time, seed int64) int {
	if n <= 0 {
		return 0
	}
	sim.lock()
	defer sim.unlock()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_a0d1))
	type seedTable struct {
		e         *entityDef
		cols      []simColumn
		pn        string
		pool      []*seedRecord
		maskByCol map[string]int
	}
	var tables []*seedTable
	for _, name := range seedTables {
		e := sim.meta.store.entities[name]
		if e == nil {
			continue
		}
		st := &seedTable{e: e, cols: generatedColumns(e, false), pn: readString(e.props, "PrimaryNameAttribute"), maskByCol: map[string]int{}}
		for _, a := range e.attrs {
			st.maskByCol[a.logicalName] = readInt(a.props, "ColumnNumber")
		}
		tables = append(tables, st)
	}
	if len(tables) == 0 {
		panic(errNoSeedTables)
	}
	users := sim.seedUsers()
	fromS, toS := from.Unix(), to.Unix()
	times := sortedTimes(rng, n, from, to)
	rows := make([]*auditRow, n)
	block := make([]auditRow, n) // one allocation for all rows
	var mask []byte
	for i, at := range times {
		st := tables[rng.IntN(len(tables))]
		user := users[rng.IntN(len(users))]
		row := &block[i]
		row.id = sim.newUUID()
		row.transaction = sim.newUUID()
		row.created = at.Unix()
		row.user = user
		row.userID = parseUUID(user.systemUserID)
		row.table = st.e.logicalName
		roll := rng.IntN(100)
		var changes []auditChange
		var rec *seedRecord
		switch {
		case roll < 70 && len(st.pool) > 0: // update
			rec = st.pool[rng.IntN(len(st.pool))]
			row.action, row.operation = ActionUpdate, OperationUpdate
			k := 1 + rng.IntN(3)
			for range k {
				c := st.cols[rng.IntN(len(st.cols))]
				if slices.ContainsFunc(changes, func(x auditChange) bool { return x.name == c.name }) {
					continue
				}
				nv := generateValue(rng, c, c.name == st.pn, fromS, toS)
				changes = append(changes, auditChange{name: c.name, lookup: c.lookup, old: rec.values[c.name], new: nv})
				rec.values[c.name] = nv
			}
		case roll < 80 && len(st.pool) > 4: // delete
			j := rng.IntN(len(st.pool))
			rec = st.pool[j]
			st.pool[j] = st.pool[len(st.pool)-1]
			st.pool = st.pool[:len(st.pool)-1]
			row.action, row.operation = ActionDelete, OperationDelete
			for _, c := range st.cols {
				if v, ok := rec.values[c.name]; ok {
					changes = append(changes, auditChange{name: c.name, lookup: c.lookup, old: v})
				}
			}
		default: // create
			rec = &seedRecord{id: sim.newUUID(), values: make(map[string]any, 4)}
			row.action, row.operation = ActionCreate, OperationCreate
			for _, c := range st.cols {
				if c.name == st.pn || rng.IntN(len(st.cols)) < 2 {
					v := generateValue(rng, c, c.name == st.pn, fromS, toS)
					rec.values[c.name] = v
					changes = append(changes, auditChange{name: c.name, lookup: c.lookup, new: v})
				}
			}
			if len(changes) == 0 { // tables whose primary name is not writable
				c := st.cols[rng.IntN(len(st.cols))]
				v := generateValue(rng, c, false, fromS, toS)
				rec.values[c.name] = v
				changes = append(changes, auditChange{name: c.name, lookup: c.lookup, new: v})
			}
			st.pool = append(st.pool, rec)
		}
		slices.SortFunc(changes, func(a, b auditChange) int { return strings.Compare(a.name, b.name) })
		row.objectID = rec.id
		row.objectName = primaryNameOf(st.pn, rec.values)
		row.changes = changes
		mask = append(mask[:0], ',')
		nums := make([]int, 0, len(changes))
		for _, c := range changes {
			nums = append(nums, st.maskByCol[c.name])
		}
		slices.Sort(nums)
		for _, num := range nums {
			mask = strconv.AppendInt(mask, int64(num), 10)
			mask = append(mask, ',')
		}
		if len(nums) > 0 {
			row.mask = string(mask)
		}
		rows[i] = row
	}
	sim.audits.insertMany(rows)
	for _, st := range tables {
		m := sim.records[st.e.logicalName]
		if m == nil {
			m = map[uuid.UUID]*simRecord{}
			sim.records[st.e.logicalName] = m
		}
		for _, rec := range st.pool {
			m[rec.id] = &simRecord{values: rec.values}
		}
	}
	return n
}

// seedUsers are the eight "Seed User" users the Seed* methods act as.
func (sim *simulation) seedUsers() []*principal {
	users := make([]*principal, 8)
	for i := range users {
		users[i] = sim.entra.simUserNamed(fmt.Sprintf("Seed User %d", i+1))
	}
	return users
}
