package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// simulation is the activity simulation (the Simulate* and Seed* methods):
// simulated users create, change, delete and read records and sign in, and
// what they do is written to the audit store and the unified log as the
// organization's and the published table settings say. It owns the
// simulated records; a simulated action holds its lock and the metadata
// lock throughout (see lock), and reads the organization's settings and
// writes the unified log through their parts.
type simulation struct {
	*shared
	meta  *metadataPart
	org   *orgPart
	graph *graphPart

	mu      sync.Mutex
	records map[string]map[uuid.UUID]*simRecord // table -> id -> record
}

func newSimulation(sh *shared, meta *metadataPart, org *orgPart, graph *graphPart) *simulation {
	return &simulation{shared: sh, meta: meta, org: org, graph: graph, records: map[string]map[uuid.UUID]*simRecord{}}
}

// lock takes the simulation's lock, then the metadata lock (lock order):
// an action reads table definitions from start to end.
func (sim *simulation) lock() {
	sim.mu.Lock()
	sim.meta.mu.Lock()
}

func (sim *simulation) unlock() {
	sim.meta.mu.Unlock()
	sim.mu.Unlock()
}

// run runs a simulated action under the simulation's locks and returns
// its error.
func (sim *simulation) run(action func() (int, error)) error {
	sim.lock()
	defer sim.unlock()
	_, err := action()
	return err
}

// recordTarget finds the acting user, the table and one of its records.
// Caller holds sim.mu and metadataPart.mu.
func (sim *simulation) recordTarget(user SimUser, table, recordID string) (*principal, *entityDef, *simRecord, uuid.UUID, error) {
	p, e, err := sim.simTarget(user, table)
	if err != nil {
		return nil, nil, nil, uuid.UUID{}, err
	}
	rec, id, err := sim.simRecordOf(table, recordID)
	return p, e, rec, id, err
}

// hasRecord reports whether the simulation holds a record.
func (sim *simulation) hasRecord(table string, id uuid.UUID) bool {
	sim.mu.Lock()
	defer sim.mu.Unlock()
	_, ok := sim.records[table][id]
	return ok
}

// simRecord is a record's current column values (typed as stored in audit
// change data). Guarded by simulation.mu.
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
	return simUserOf(s.entra.addUser(fullName))
}

// lookupUser finds a simulation user, an application user or the
// administrator by systemuserid.
func (sh *shared) lookupUser(u SimUser) (*principal, error) {
	if p := sh.entra.user(u.ID); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("emulator: no user with id %q (use AddUser)", u.ID)
}

// simTarget finds what a simulated action needs first: the acting user
// and the table. Caller holds s.mu.
func (sim *simulation) simTarget(user SimUser, table string) (*principal, *entityDef, error) {
	p, err := sim.lookupUser(user)
	if err != nil {
		return nil, nil, err
	}
	e, err := sim.simEntity(table)
	if err != nil {
		return nil, nil, err
	}
	return p, e, nil
}

func (sim *simulation) simEntity(table string) (*entityDef, error) {
	e := sim.meta.store.entities[table]
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
func (sim *simulation) convertValues(e *entityDef, values map[string]any, create bool) (map[string]any, error) {
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
// published. Caller holds sim.mu.
func (sim *simulation) auditing(e *entityDef) bool {
	return sim.org.settings().IsAuditEnabled && e.published.audit.IsAuditEnabled
}

// writeRecordAudit writes a create, update or delete row with the audited
// columns among changes (sorted by name); an update without audited
// changes writes nothing. It returns the number of rows written. Caller
// holds sim.mu.
func (sim *simulation) writeRecordAudit(at time.Time, user *principal, e *entityDef, id uuid.UUID, name string, action, operation int, changes []auditChange) int {
	if !sim.auditing(e) {
		return 0
	}
	audited := changes[:0:0]
	var numbers []int
	for _, c := range changes {
		if !e.published.audit.Attributes[c.name].IsAuditEnabled {
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
	tx := sim.beginAudit(user, at)
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
	s.sim.lock()
	defer s.sim.unlock()
	id, _, err := s.sim.simulateCreate(at, user, table, values)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

func (sim *simulation) simulateCreate(at time.Time, user SimUser, table string, values map[string]any) (uuid.UUID, int, error) {
	p, e, err := sim.simTarget(user, table)
	if err != nil {
		return uuid.UUID{}, 0, err
	}
	conv, err := sim.convertValues(e, values, true)
	if err != nil {
		return uuid.UUID{}, 0, err
	}
	pk := readString(e.props, "PrimaryIdAttribute")
	var id uuid.UUID
	if v, ok := conv[pk].(string); ok {
		id = uuid.MustParse(v)
		delete(conv, pk)
	} else {
		id = sim.newUUID()
	}
	if sim.records[table] == nil {
		sim.records[table] = map[uuid.UUID]*simRecord{}
	}
	if sim.records[table][id] != nil {
		return uuid.UUID{}, 0, fmt.Errorf("emulator: a %s record with id %s exists", table, id)
	}
	if _, ok := conv["ownerid"]; !ok && e.attrByName["ownerid"] != nil {
		conv["ownerid"] = p.systemUserID
	}
	sim.records[table][id] = &simRecord{values: conv}
	changes := make([]auditChange, 0, len(conv))
	for name, v := range conv {
		if v != nil {
			changes = append(changes, lookupChange(e, name, nil, v))
		}
	}
	n := sim.writeRecordAudit(at, p, e, id, primaryName(e, conv), ActionCreate, OperationCreate, changes)
	return id, n, nil
}

func (sim *simulation) simRecordOf(table, recordID string) (*simRecord, uuid.UUID, error) {
	id, err := uuid.Parse(recordID)
	if err != nil {
		return nil, uuid.UUID{}, fmt.Errorf("emulator: record id %q is not a GUID", recordID)
	}
	rec := sim.records[table][id]
	if rec == nil {
		return nil, uuid.UUID{}, fmt.Errorf("emulator: no %s record with id %s", table, id)
	}
	return rec, id, nil
}

// SimulateUpdate changes a record's columns as user. Only values that
// differ from the record's are changes; the audit row lists the audited
// ones, and no row is written when none is audited.
func (s *Server) SimulateUpdate(at time.Time, user SimUser, table, recordID string, values map[string]any) error {
	return s.sim.run(func() (int, error) { return s.sim.simulateUpdate(at, user, table, recordID, values) })
}

func (sim *simulation) simulateUpdate(at time.Time, user SimUser, table, recordID string, values map[string]any) (int, error) {
	p, e, rec, id, err := sim.recordTarget(user, table, recordID)
	if err != nil {
		return 0, err
	}
	conv, err := sim.convertValues(e, values, false)
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
	return sim.writeRecordAudit(at, p, e, id, primaryName(e, rec.values), ActionUpdate, OperationUpdate, changes), nil
}

// SimulateDelete deletes a record as user; the audit row carries the
// audited columns' last values as old values.
func (s *Server) SimulateDelete(at time.Time, user SimUser, table, recordID string) error {
	return s.sim.run(func() (int, error) { return s.sim.simulateDelete(at, user, table, recordID) })
}

func (sim *simulation) simulateDelete(at time.Time, user SimUser, table, recordID string) (int, error) {
	p, e, rec, id, err := sim.recordTarget(user, table, recordID)
	if err != nil {
		return 0, err
	}
	delete(sim.records[table], id)
	changes := make([]auditChange, 0, len(rec.values))
	for name, v := range rec.values {
		changes = append(changes, lookupChange(e, name, v, nil))
	}
	return sim.writeRecordAudit(at, p, e, id, primaryName(e, rec.values), ActionDelete, OperationDelete, changes), nil
}

// SimulateSignIn records that user accessed the environment (through the
// web application, or the web services when webServices). With auditing
// and user access auditing on, it writes a "User Access via Web" (64) or
// "via Web Services" (65) row, operation Access, objecttypecode
// "systemuser" — at most one per user per useraccessauditinginterval hours
// of simulated time — and, for every sign-in, a unified audit log record
// with operation "UserLoggedIn".
func (s *Server) SimulateSignIn(at time.Time, user SimUser, webServices bool) error {
	s.sim.lock()
	defer s.sim.unlock()
	_, _, err := s.sim.simulateSignIn(at, user, webServices)
	return err
}

// simulateSignIn returns the numbers of audit rows and unified log records
// written.
func (sim *simulation) simulateSignIn(at time.Time, user SimUser, webServices bool) (int, int, error) {
	p, err := sim.lookupUser(user)
	if err != nil {
		return 0, 0, err
	}
	o := sim.org.settings()
	if !o.IsAuditEnabled || !o.IsUserAccessAuditEnabled {
		return 0, 0, nil
	}
	purview := sim.signInUnified(at, p, webServices)
	now := at.UTC().Unix()
	interval := int64(o.UserAccessAuditingInterval) * 3600
	if !sim.audits.accessDue(p, now, interval) {
		return 0, purview, nil
	}
	tx := sim.beginAudit(p, at)
	tx.addRow(&auditRow{
		action:    int16(pick(webServices, ActionUserAccessViaWebServices, ActionUserAccessViaWeb)),
		operation: OperationAccess, table: "systemuser", objectID: parseUUID(p.systemUserID),
		objectName: p.fullName, interval: int32(o.UserAccessAuditingInterval),
	})
	return 1, purview, nil
}
