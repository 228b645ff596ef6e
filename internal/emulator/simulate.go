package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Activity simulation: users creating, changing and deleting records and
// signing in, written to the audit trail only as the organization's and the
// PUBLISHED table and column audit settings say.

// SimUser is a Dataverse user (systemuser) that simulations act as.
// Simulations find the user by ID; the other fields are informative.
// UserPrincipalName is derived from the full name ("Avery Auditor" →
// avery.auditor@contoso.example, numbered when taken) and ClientIP is a
// documentation address (203.0.113.0/24) fixed per user: both appear in
// the user's unified audit log records.
type SimUser struct {
	ID, FullName      string
	UserPrincipalName string
	ClientIP          string
}

func simUserOf(p *principal) SimUser {
	return SimUser{ID: p.systemUserID, FullName: p.fullName, UserPrincipalName: p.upn, ClientIP: p.clientIP}
}

// simRecord is a record's current column values (typed as stored in audit
// change data). Guarded by Server.mu.
type simRecord struct {
	values map[string]any
}

// simColumn is what simulations need to know about a column.
type simColumn struct {
	name      string
	typ       string // AttributeType
	lookup    bool
	number    int
	precision int
	dateOnly  bool
	create    bool
	update    bool
	primaryID bool
	virtual   bool
	maxLength int
}

func readInt(o rawObject, name string) int {
	raw, _ := o.get(name)
	n, _ := strconv.Atoi(string(raw))
	return n
}

func simColumnOf(a *attrDef) simColumn {
	typ := readString(a.props, "AttributeType")
	return simColumn{
		name:      a.logicalName,
		typ:       typ,
		lookup:    typ == "Lookup" || typ == "Owner" || typ == "Customer",
		number:    readInt(a.props, "ColumnNumber"),
		precision: readInt(a.props, "Precision"),
		dateOnly:  readString(a.props, "Format") == "DateOnly",
		create:    readBool(a.props, "IsValidForCreate"),
		update:    readBool(a.props, "IsValidForUpdate"),
		primaryID: readBool(a.props, "IsPrimaryId"),
		virtual:   readString(a.props, "AttributeOf") != "",
		maxLength: readInt(a.props, "MaxLength"),
	}
}

// AddUser creates a systemuser that simulations can act as.
func (s *Server) AddUser(fullName string) SimUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(fullName)
}

func (s *Server) addUserLocked(fullName string) SimUser {
	p := s.newPrincipal(fullName, clientConfig{})
	s.simUsers = append(s.simUsers, p)
	s.userByID[p.systemUserID] = p
	return simUserOf(p)
}

// simUserNamed returns the first simulation user with that name, creating
// it if needed. Caller holds s.mu.
func (s *Server) simUserNamed(name string) *principal {
	for _, p := range s.simUsers {
		if p.fullName == name {
			return p
		}
	}
	u := s.addUserLocked(name)
	return s.userByID[u.ID]
}

// lookupUser finds a simulation user, an application user or the
// administrator by systemuserid. Caller holds s.mu.
func (s *Server) lookupUser(u SimUser) (*principal, error) {
	if p := s.userByID[u.ID]; p != nil {
		return p, nil
	}
	if u.ID == s.admin.systemUserID {
		return s.admin, nil
	}
	for _, c := range s.clients {
		if c.user.systemUserID == u.ID {
			return c.user, nil
		}
	}
	return nil, fmt.Errorf("emulator: no user with id %q (use AddUser)", u.ID)
}

func (s *Server) simEntity(table string) (*entityDef, error) {
	e := s.meta.entities[table]
	if e == nil {
		return nil, fmt.Errorf("emulator: no table %q", table)
	}
	return e, nil
}

// convertValue types a simulation value for a column as the Web API
// returns it: strings, integers, json.Number money (4 decimals) and
// decimals (the column's precision), booleans, choices as integers, dates
// as "2006-01-02" or "2006-01-02T15:04:05Z", lookups as GUID strings.
func convertValue(c simColumn, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("emulator: value %v (%T) is not valid for column %q of type %s", v, v, c.name, c.typ)
	}
	num := func() (float64, bool) {
		switch x := v.(type) {
		case int:
			return float64(x), true
		case int32:
			return float64(x), true
		case int64:
			return float64(x), true
		case float64:
			return x, true
		case float32:
			return float64(x), true
		case json.Number:
			f, err := x.Float64()
			return f, err == nil
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return f, err == nil
		}
		return 0, false
	}
	switch c.typ {
	case "String", "Memo":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "Integer", "Picklist", "State", "Status", "BigInt":
		f, ok := num()
		if _, isString := v.(string); ok && !isString && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			if c.typ == "BigInt" {
				return int64(f), nil
			}
			if f < math.MinInt32 || f > math.MaxInt32 {
				return bad()
			}
			return int(f), nil
		}
	case "Decimal", "Money":
		if f, ok := num(); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
			prec := c.precision
			if c.typ == "Money" {
				prec = 4
			}
			return json.Number(strconv.FormatFloat(f, 'f', prec, 64)), nil
		}
	case "Boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "DateTime":
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case string:
			var ok bool
			if t, ok = parseDateTimeLiteral(x); !ok {
				return bad()
			}
		default:
			return bad()
		}
		if c.dateOnly {
			return t.UTC().Format(time.DateOnly), nil
		}
		return t.UTC().Format(dataverseTimeFormat), nil
	case "Lookup", "Owner", "Customer", "Uniqueidentifier":
		switch x := v.(type) {
		case uuid.UUID:
			return x.String(), nil
		case string:
			if id, err := uuid.Parse(x); err == nil && len(x) == 36 {
				return id.String(), nil
			}
		}
	}
	return bad()
}

// convertValues checks and types values for a create or an update.
// Caller holds s.mu.
func (s *Server) convertValues(e *entityDef, values map[string]any, create bool) (map[string]any, error) {
	out := make(map[string]any, len(values))
	for name, v := range values {
		a := e.attrByName[name]
		if a == nil {
			return nil, fmt.Errorf("emulator: table %q has no column %q", e.logicalName, name)
		}
		c := simColumnOf(a)
		if (create && !c.create) || (!create && !c.update) {
			return nil, fmt.Errorf("emulator: column %q of table %q is not valid for %s", name, e.logicalName, map[bool]string{true: "create", false: "update"}[create])
		}
		cv, err := convertValue(c, v)
		if err != nil {
			return nil, err
		}
		out[name] = cv
	}
	return out, nil
}

// auditing reports whether the organization audits changes to table e, as
// published. Caller holds s.mu.
func (s *Server) auditing(e *entityDef) bool {
	on, _ := s.org.values["isauditenabled"].(bool)
	return on && e.published.IsAuditEnabled
}

// writeRecordAudit writes a create, update or delete row with the audited
// columns among changes (sorted by name); an update without audited
// changes writes nothing. It returns the number of rows written. Caller
// holds s.mu.
func (s *Server) writeRecordAudit(at time.Time, user *principal, e *entityDef, id uuid.UUID, name string, action, operation int, changes []auditChange) int {
	if !s.auditing(e) {
		return 0
	}
	audited := changes[:0:0]
	var numbers []int
	for _, c := range changes {
		if !e.published.Attributes[c.name].IsAuditEnabled {
			continue
		}
		if a := e.attrByName[c.name]; a != nil {
			numbers = append(numbers, readInt(a.props, "ColumnNumber"))
		}
		audited = append(audited, c)
	}
	if operation == OperationUpdate && len(audited) == 0 {
		return 0
	}
	slices.SortFunc(audited, func(a, b auditChange) int { return strings.Compare(a.name, b.name) })
	if audited == nil {
		audited = []auditChange{}
	}
	tx := s.beginAudit(user, at)
	tx.addRow(&auditRow{
		action: int16(action), operation: int8(operation), table: e.logicalName,
		objectID: id, objectName: name, mask: attributeMask(numbers), changes: audited,
	})
	return 1
}

func attributeMask(numbers []int) string {
	if len(numbers) == 0 {
		return ""
	}
	slices.Sort(numbers)
	b := []byte{','}
	for _, n := range numbers {
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ',')
	}
	return string(b)
}

func lookupChange(e *entityDef, name string, old, new any) auditChange {
	c := auditChange{name: name, old: old, new: new}
	if a := e.attrByName[name]; a != nil {
		t := readString(a.props, "AttributeType")
		c.lookup = t == "Lookup" || t == "Owner" || t == "Customer"
	}
	return c
}

// primaryName is a record's primary name; a fullname (not writable) is
// composed of firstname and lastname, as Dataverse does.
func primaryName(e *entityDef, values map[string]any) string {
	pn := readString(e.props, "PrimaryNameAttribute")
	return primaryNameOf(pn, values)
}

func primaryNameOf(pn string, values map[string]any) string {
	if n, ok := values[pn].(string); ok || pn != "fullname" {
		return n
	}
	first, _ := values["firstname"].(string)
	last, _ := values["lastname"].(string)
	return strings.TrimSpace(first + " " + last)
}

// SimulateCreate creates a record of table as user at the given time and
// returns its id. A value for the table's primary id column chooses the
// id; user-owned tables get ownerid = user unless values set it. Column
// names and value types are checked against the catalogue.
func (s *Server) SimulateCreate(at time.Time, user SimUser, table string, values map[string]any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _, err := s.simulateCreate(at, user, table, values)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

func (s *Server) simulateCreate(at time.Time, user SimUser, table string, values map[string]any) (uuid.UUID, int, error) {
	p, err := s.lookupUser(user)
	if err != nil {
		return uuid.UUID{}, 0, err
	}
	e, err := s.simEntity(table)
	if err != nil {
		return uuid.UUID{}, 0, err
	}
	conv, err := s.convertValues(e, values, true)
	if err != nil {
		return uuid.UUID{}, 0, err
	}
	pk := readString(e.props, "PrimaryIdAttribute")
	var id uuid.UUID
	if v, ok := conv[pk].(string); ok {
		id = uuid.MustParse(v)
		delete(conv, pk)
	} else {
		id = s.newUUID()
	}
	if s.records[table] == nil {
		s.records[table] = map[uuid.UUID]*simRecord{}
	}
	if s.records[table][id] != nil {
		return uuid.UUID{}, 0, fmt.Errorf("emulator: a %s record with id %s exists", table, id)
	}
	if _, ok := conv["ownerid"]; !ok && e.attrByName["ownerid"] != nil {
		conv["ownerid"] = p.systemUserID
	}
	s.records[table][id] = &simRecord{values: conv}
	changes := make([]auditChange, 0, len(conv))
	for name, v := range conv {
		if v != nil {
			changes = append(changes, lookupChange(e, name, nil, v))
		}
	}
	n := s.writeRecordAudit(at, p, e, id, primaryName(e, conv), ActionCreate, OperationCreate, changes)
	return id, n, nil
}

func (s *Server) simRecordOf(table, recordID string) (*simRecord, uuid.UUID, error) {
	id, err := uuid.Parse(recordID)
	if err != nil {
		return nil, uuid.UUID{}, fmt.Errorf("emulator: record id %q is not a GUID", recordID)
	}
	rec := s.records[table][id]
	if rec == nil {
		return nil, uuid.UUID{}, fmt.Errorf("emulator: no %s record with id %s", table, id)
	}
	return rec, id, nil
}

// SimulateUpdate changes a record's columns as user. Only values that
// differ from the record's are changes; the audit row lists the audited
// ones, and no row is written when none is audited.
func (s *Server) SimulateUpdate(at time.Time, user SimUser, table, recordID string, values map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.simulateUpdate(at, user, table, recordID, values)
	return err
}

func (s *Server) simulateUpdate(at time.Time, user SimUser, table, recordID string, values map[string]any) (int, error) {
	p, err := s.lookupUser(user)
	if err != nil {
		return 0, err
	}
	e, err := s.simEntity(table)
	if err != nil {
		return 0, err
	}
	rec, id, err := s.simRecordOf(table, recordID)
	if err != nil {
		return 0, err
	}
	conv, err := s.convertValues(e, values, false)
	if err != nil {
		return 0, err
	}
	var changes []auditChange
	for name, v := range conv {
		if old := rec.values[name]; old != v {
			changes = append(changes, lookupChange(e, name, old, v))
			if v == nil {
				delete(rec.values, name)
			} else {
				rec.values[name] = v
			}
		}
	}
	if len(changes) == 0 {
		return 0, nil
	}
	return s.writeRecordAudit(at, p, e, id, primaryName(e, rec.values), ActionUpdate, OperationUpdate, changes), nil
}

// SimulateDelete deletes a record as user; the audit row carries the
// audited columns' last values as old values.
func (s *Server) SimulateDelete(at time.Time, user SimUser, table, recordID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.simulateDelete(at, user, table, recordID)
	return err
}

func (s *Server) simulateDelete(at time.Time, user SimUser, table, recordID string) (int, error) {
	p, err := s.lookupUser(user)
	if err != nil {
		return 0, err
	}
	e, err := s.simEntity(table)
	if err != nil {
		return 0, err
	}
	rec, id, err := s.simRecordOf(table, recordID)
	if err != nil {
		return 0, err
	}
	delete(s.records[table], id)
	changes := make([]auditChange, 0, len(rec.values))
	for name, v := range rec.values {
		changes = append(changes, lookupChange(e, name, v, nil))
	}
	return s.writeRecordAudit(at, p, e, id, primaryName(e, rec.values), ActionDelete, OperationDelete, changes), nil
}

// SimulateSignIn records that user accessed the environment (through the
// web application, or the web services when webServices). With auditing
// and user access auditing on, it writes a "User Access via Web" (64) or
// "via Web Services" (65) row, operation Access, objecttypecode
// "systemuser" — at most one per user per useraccessauditinginterval hours
// of simulated time — and, for every sign-in, a unified audit log record
// with operation "UserLoggedIn".
func (s *Server) SimulateSignIn(at time.Time, user SimUser, webServices bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, err := s.simulateSignIn(at, user, webServices)
	return err
}

// simulateSignIn returns the numbers of audit rows and unified log records
// written.
func (s *Server) simulateSignIn(at time.Time, user SimUser, webServices bool) (int, int, error) {
	p, err := s.lookupUser(user)
	if err != nil {
		return 0, 0, err
	}
	o := s.org.organization()
	if !o.IsAuditEnabled || !o.IsUserAccessAuditEnabled {
		return 0, 0, nil
	}
	purview := s.signInUnified(at, p, webServices)
	now := at.UTC().Unix()
	interval := int64(o.UserAccessAuditingInterval) * 3600
	if s.audits.lastAccess == nil {
		s.audits.lastAccess = map[*principal]int64{}
	}
	if last, ok := s.audits.lastAccess[p]; ok && now-last < interval && last-now < interval {
		return 0, purview, nil
	}
	s.audits.lastAccess[p] = now
	tx := s.beginAudit(p, at)
	tx.addRow(&auditRow{
		action:    int16(pick(webServices, ActionUserAccessViaWebServices, ActionUserAccessViaWeb)),
		operation: OperationAccess, table: "systemuser", objectID: parseUUID(p.systemUserID),
		objectName: p.fullName, interval: int32(o.UserAccessAuditingInterval),
	})
	return 1, purview, nil
}

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
func (s *Server) SimulateActivity(opts ActivityOptions) ActivitySummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum ActivitySummary
	if opts.To.IsZero() {
		opts.To = s.now()
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
		if e := s.meta.entities[t]; e != nil {
			ents = append(ents, e)
		}
	}
	if len(ents) == 0 || opts.Actions <= 0 {
		return sum
	}
	users := make([]SimUser, opts.Users)
	for i := range users {
		users[i] = simUserOf(s.simUserNamed(fmt.Sprintf("Simulated User %d", i+1)))
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_ac71_7175))
	createCols := map[string][]simColumn{}
	updateCols := map[string][]simColumn{}
	pools := map[string][]uuid.UUID{}
	for _, e := range ents {
		createCols[e.logicalName] = generatedColumns(e, true)
		updateCols[e.logicalName] = generatedColumns(e, false)
		var ids []uuid.UUID
		for id := range s.records[e.logicalName] {
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
			n, m, _ := s.simulateSignIn(at, user, rng.IntN(3) == 0)
			sum.SignIns++
			sum.AuditRowsWritten += n
			sum.PurviewRecordsWritten += m
			continue
		case roll < 22 && len(pools[t]) > 0:
			m, err := s.simulateRetrieve(at, user, t, pools[t][rng.IntN(len(pools[t]))].String())
			if err == nil {
				sum.Reads++
				sum.PurviewRecordsWritten += m
			}
			continue
		case roll < 27:
			m, err := s.simulateList(at, user, t, 1+rng.IntN(50), UnifiedOpRetrieveMultiple, rng)
			if err == nil {
				sum.Reads++
				sum.PurviewRecordsWritten += m
			}
			continue
		case roll < 30:
			m, err := s.simulateList(at, user, t, 1+rng.IntN(500), UnifiedOpExportToExcel, rng)
			if err == nil {
				sum.Exports++
				sum.PurviewRecordsWritten += m
			}
			continue
		case roll < 60 && len(pools[t]) > 0:
			id := pools[t][rng.IntN(len(pools[t]))]
			n, err := s.simulateUpdate(at, user, t, id.String(), randomValues(rng, e, updateCols[t], false, 1, 3, from, to))
			if err == nil {
				sum.Updates++
				sum.AuditRowsWritten += n
			}
			continue
		case roll < 70 && len(pools[t]) > 0:
			i := rng.IntN(len(pools[t]))
			n, err := s.simulateDelete(at, user, t, pools[t][i].String())
			if err == nil {
				sum.Deletes++
				sum.AuditRowsWritten += n
			}
			pools[t] = slices.Delete(pools[t], i, i+1)
			continue
		}
		id, n, err := s.simulateCreate(at, user, t, randomValues(rng, e, createCols[t], true, 1, 4, from, to))
		if err == nil {
			sum.Creates++
			sum.AuditRowsWritten += n
			pools[t] = append(pools[t], id)
		}
	}
	return sum
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
	if n <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
		e := s.meta.entities[name]
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
	users := make([]*principal, 8)
	for i := range users {
		users[i] = s.simUserNamed(fmt.Sprintf("Seed User %d", i+1))
	}
	fromS, toS := from.Unix(), to.Unix()
	times := sortedTimes(rng, n, from, to)
	rows := make([]*auditRow, n)
	block := make([]auditRow, n) // one allocation for all rows
	var mask []byte
	for i, at := range times {
		st := tables[rng.IntN(len(tables))]
		user := users[rng.IntN(len(users))]
		row := &block[i]
		row.id = s.newUUID()
		row.transaction = s.newUUID()
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
			rec = &seedRecord{id: s.newUUID(), values: make(map[string]any, 4)}
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
	s.audits.insertMany(rows)
	for _, st := range tables {
		m := s.records[st.e.logicalName]
		if m == nil {
			m = map[uuid.UUID]*simRecord{}
			s.records[st.e.logicalName] = m
		}
		for _, rec := range st.pool {
			m[rec.id] = &simRecord{values: rec.values}
		}
	}
	return n
}
