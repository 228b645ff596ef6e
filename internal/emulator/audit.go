package emulator

import (
	"cmp"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/auditlabels"
)

// Audit action codes (choice "action" of the audit table) the emulator writes.
const (
	ActionCreate                      = 1
	ActionUpdate                      = 2
	ActionDelete                      = 3
	ActionUserAccessViaWeb            = 64
	ActionUserAccessViaWebServices    = 65
	ActionAuditChangeAtEntityLevel    = 102
	ActionAuditChangeAtAttributeLevel = 103
	ActionAuditChangeAtOrgLevel       = 104
	ActionEntityAuditStarted          = 105
	ActionAttributeAuditStarted       = 106
	ActionAuditEnabled                = 107
	ActionEntityAuditStopped          = 108
	ActionAttributeAuditStopped       = 109
	ActionAuditDisabled               = 110
	ActionUserAccessAuditStarted      = 112
	ActionUserAccessAuditStopped      = 113
)

// Audit operation codes (column "operation").
const (
	OperationCreate = 1
	OperationUpdate = 2
	OperationDelete = 3
	OperationAccess = 4
)

// ActionLabels are the English labels of the audit table's "action" choice,
// as the Web API returns them in
// action@OData.Community.Display.V1.FormattedValue.
var ActionLabels = auditlabels.Action

// operationLabels are the labels of the audit "operation" choice.
var operationLabels = map[int]string{1: "Create", 2: "Update", 3: "Delete", 4: "Access", 5: "Upsert"}

// AuditRecord is one row of the audits entity set. OldValues and NewValues
// hold the change data RetrieveAuditDetails reports (column logical name ->
// value; a lookup's value is its GUID string, money and decimals are
// json.Number); they are nil for rows without attribute changes.
type AuditRecord struct {
	AuditID   string
	CreatedOn time.Time // UTC, whole seconds
	Action    int
	Operation int
	// ObjectTypeCode is a table logical name, e.g. "organization". Rows
	// for table and column audit settings (102, 103, 105, 106, 108, 109)
	// carry the table's logical name, and ObjectID is the MetadataId of the
	// table or column. User access rows (64, 65) carry "systemuser" and the
	// user's id.
	ObjectTypeCode     string
	ObjectID           string
	ObjectName         string // the record's primary name, when known
	UserID             string
	UserName           string
	CallingUserID      string // "" (null): the emulator does not impersonate
	TransactionID      string
	AttributeMask      string // e.g. ",3,12," (column numbers), "" for null
	UserAdditionalInfo string
	// AccessInterval is the useraccessauditinginterval (hours) in force
	// when a user access row was written; 0 for other rows.
	AccessInterval int
	OldValues      map[string]any
	NewValues      map[string]any
}

// auditChange is one column of a row's change data. A nil old or new value
// is absent (null).
type auditChange struct {
	name     string
	lookup   bool // rendered as _<name>_value
	old, new any
}

// auditRow is the compact stored form of an audit row. Rows are immutable
// once stored, so readers may keep pointers to them outside the lock.
type auditRow struct {
	id          uuid.UUID
	created     int64 // unix seconds
	seq         int32 // insertion number: index in auditStore.rows
	action      int16
	operation   int8
	interval    int32
	table       string
	objectID    uuid.UUID
	objectName  string
	user        *principal
	userID      uuid.UUID
	transaction uuid.UUID
	mask        string
	userInfo    string
	changes     []auditChange
}

// auditStore is the audit store part, shared by every part that writes
// audit rows (organization, metadata, simulations) and read by the audit
// API. It keeps rows in insertion order (an append-only slice of pointers,
// so stored rows never move) and an index sorted by (createdon, insertion
// number), under its own lock. It calls no other part, so a part may write
// to it while holding its own lock.
type auditStore struct {
	mu    sync.Mutex
	rows  []*auditRow
	order []int32
	byID  map[uuid.UUID]*auditRow
	// lastAccess is the simulated time (unix seconds) of each user's last
	// user access row.
	lastAccess map[*principal]int64
}

func rowLess(a, b *auditRow) int {
	if c := cmp.Compare(a.created, b.created); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// insert stores one row, keeping the index sorted.
func (a *auditStore) insert(r *auditRow) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byID == nil {
		a.byID = map[uuid.UUID]*auditRow{}
	}
	r.seq = int32(len(a.rows))
	a.rows = append(a.rows, r)
	a.byID[r.id] = r
	// r has the largest seq: it goes after every row with createdon <= its.
	i := sort.Search(len(a.order), func(i int) bool { return a.rows[a.order[i]].created > r.created })
	a.order = slices.Insert(a.order, i, r.seq)
}

// insertMany stores rows in bulk (one sort instead of n insertions).
func (a *auditStore) insertMany(rows []*auditRow) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byID == nil {
		a.byID = make(map[uuid.UUID]*auditRow, len(rows))
	}
	sorted := true
	for _, r := range rows {
		r.seq = int32(len(a.rows))
		if n := len(a.order); n > 0 && a.rows[a.order[n-1]].created > r.created {
			sorted = false
		}
		a.rows = append(a.rows, r)
		a.byID[r.id] = r
		a.order = append(a.order, r.seq)
	}
	if !sorted {
		slices.SortFunc(a.order, func(x, y int32) int { return rowLess(a.rows[x], a.rows[y]) })
	}
}

// auditWriter appends the rows of one operation, which share a transaction id
// and time, as Dataverse writes them in one transaction.
type auditWriter struct {
	shared      *shared
	user        *principal
	transaction uuid.UUID
	now         int64
}

// beginAudit starts a transaction at the given (simulated) time.
func (sh *shared) beginAudit(user *principal, at time.Time) *auditWriter {
	return &auditWriter{shared: sh, user: user, transaction: sh.newUUID(), now: at.UTC().Unix()}
}

// add writes a settings row: old/new values keyed by column, stored for
// AuditRecords (RetrieveAuditDetails reports no values for these rows).
func (w *auditWriter) add(action, operation int, table, objectID string, oldValues, newValues map[string]any) {
	if w.shared.noSettingsRows {
		return // Options.NoSettingsAuditRows
	}
	var changes []auditChange
	if oldValues != nil || newValues != nil {
		names := make([]string, 0, len(newValues))
		for n := range newValues {
			names = append(names, n)
		}
		for n := range oldValues {
			if _, ok := newValues[n]; !ok {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			changes = append(changes, auditChange{name: n, old: oldValues[n], new: newValues[n]})
		}
	}
	w.addRow(&auditRow{action: int16(action), operation: int8(operation), table: table, objectID: parseUUID(objectID), changes: changes})
}

func (w *auditWriter) addRow(r *auditRow) {
	r.id = w.shared.newUUID()
	r.created = w.now
	r.user = w.user
	r.userID = parseUUID(w.user.systemUserID)
	r.transaction = w.transaction
	w.shared.audits.insert(r)
}

// history returns the rows of one record, newest first.
func (a *auditStore) history(table string, id uuid.UUID) []*auditRow {
	a.mu.Lock()
	defer a.mu.Unlock()
	var rows []*auditRow
	for i := len(a.order) - 1; i >= 0; i-- {
		row := a.rows[a.order[i]]
		if row.objectID == id && row.table == table {
			rows = append(rows, row)
		}
	}
	return rows
}

// get returns the row with id, or nil.
func (a *auditStore) get(id uuid.UUID) *auditRow {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byID[id]
}

// accessDue reports whether a user access row for p at now (unix seconds)
// is due, at most one per interval seconds, and if so books it.
func (a *auditStore) accessDue(p *principal, now, interval int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastAccess == nil {
		a.lastAccess = map[*principal]int64{}
	}
	if last, ok := a.lastAccess[p]; ok && now-last < interval && last-now < interval {
		return false
	}
	a.lastAccess[p] = now
	return true
}

func parseUUID(s string) uuid.UUID {
	id, _ := uuid.Parse(s)
	return id
}

func uuidString(id uuid.UUID) string {
	if id == (uuid.UUID{}) {
		return ""
	}
	return id.String()
}

func (r *auditRow) record() AuditRecord {
	out := AuditRecord{
		AuditID:            r.id.String(),
		CreatedOn:          time.Unix(r.created, 0).UTC(),
		Action:             int(r.action),
		Operation:          int(r.operation),
		ObjectTypeCode:     r.table,
		ObjectID:           uuidString(r.objectID),
		ObjectName:         r.objectName,
		TransactionID:      r.transaction.String(),
		AttributeMask:      r.mask,
		UserAdditionalInfo: r.userInfo,
		AccessInterval:     int(r.interval),
	}
	if r.user != nil {
		out.UserID, out.UserName = r.user.systemUserID, r.user.fullName
	}
	if r.changes != nil {
		out.OldValues, out.NewValues = map[string]any{}, map[string]any{}
		for _, c := range r.changes {
			if c.old != nil {
				out.OldValues[c.name] = c.old
			}
			if c.new != nil {
				out.NewValues[c.name] = c.new
			}
		}
	}
	return out
}

// AuditRecords returns a copy of the audit trail in insertion order (for
// rows written through the API and simulations with increasing times, also
// oldest first).
func (s *Server) AuditRecords() []AuditRecord {
	s.deletions.settle()
	s.audits.mu.Lock()
	defer s.audits.mu.Unlock()
	out := make([]AuditRecord, 0, len(s.audits.order))
	for _, r := range s.audits.rows {
		if r != nil { // nil: deleted
			out = append(out, r.record())
		}
	}
	return out
}

// AuditCount is the number of audit rows stored.
func (s *Server) AuditCount() int {
	s.deletions.settle()
	return locked(&s.audits.mu, func() int { return len(s.audits.order) })
}
