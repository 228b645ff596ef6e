package emulator

import (
	"maps"
	"time"

	"github.com/google/uuid"
)

// Audit action codes (choice "action" of the audit table) the emulator writes.
const (
	ActionCreate                      = 1
	ActionUpdate                      = 2
	ActionDelete                      = 3
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

// AuditRecord is one row of the audits entity set. OldValues and NewValues
// hold the change data RetrieveAuditDetails reports (attribute -> value);
// they are nil for rows without attribute changes.
type AuditRecord struct {
	AuditID   string
	CreatedOn time.Time
	Action    int
	Operation int
	// ObjectTypeCode is a table logical name, e.g. "organization". Rows
	// for table and column audit settings (102, 103, 105, 106, 108, 109)
	// carry the table's logical name, and ObjectID is the MetadataId of the
	// table or column.
	ObjectTypeCode string
	ObjectID       string
	UserID         string
	UserName       string
	CallingUserID  string
	TransactionID  string
	OldValues      map[string]any
	NewValues      map[string]any
}

// auditStore keeps rows oldest first. Rows are immutable once appended, so
// readers may share them. Guarded by Server.mu.
type auditStore struct {
	rows []AuditRecord
}

// auditWriter appends the rows of one operation, which share a transaction id
// and time, as Dataverse writes them in one transaction.
type auditWriter struct {
	store       *auditStore
	user        *principal
	transaction string
	now         time.Time
}

func (a *auditStore) begin(user *principal, now time.Time) *auditWriter {
	return &auditWriter{store: a, user: user, transaction: uuid.NewString(), now: now.UTC()}
}

func (w *auditWriter) add(action, operation int, table, objectID string, oldValues, newValues map[string]any) {
	w.store.rows = append(w.store.rows, AuditRecord{
		AuditID:        uuid.NewString(),
		CreatedOn:      w.now,
		Action:         action,
		Operation:      operation,
		ObjectTypeCode: table,
		ObjectID:       objectID,
		UserID:         w.user.systemUserID,
		UserName:       w.user.fullName,
		CallingUserID:  "", // no impersonation
		TransactionID:  w.transaction,
		OldValues:      oldValues,
		NewValues:      newValues,
	})
}

// AuditRecords returns a copy of the audit trail, oldest first.
func (s *Server) AuditRecords() []AuditRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AuditRecord, len(s.audits.rows))
	for i, r := range s.audits.rows {
		r.OldValues = maps.Clone(r.OldValues)
		r.NewValues = maps.Clone(r.NewValues)
		out[i] = r
	}
	return out
}
