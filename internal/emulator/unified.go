package emulator

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The Purview unified audit log. Dynamics 365 writes read activity
// (Retrieve, RetrieveMultiple, ExportToExcel) there, not to `audits`, when
// organization auditing and read auditing are on and the table's published
// IsRetrieveAuditEnabled / IsRetrieveMultipleAuditEnabled says so. The
// Graph listener searches it (graph.go).

// Unified audit log operations the simulations write. The sign-in
// operation name is a guess: Microsoft does not document what Dynamics 365
// sign-ins are called in the unified log.
const (
	UnifiedOpRetrieve         = "Retrieve"
	UnifiedOpRetrieveMultiple = "RetrieveMultiple"
	UnifiedOpExportToExcel    = "ExportToExcel"
	UnifiedOpUserLoggedIn     = "UserLoggedIn"
)

// crmRecordType is the Office 365 Management Activity API AuditLogRecordType
// of Dynamics 365 records (CRM = 21) and crmRecordTypeName its Graph name.
const (
	crmRecordType     = 21
	crmRecordTypeName = "crm"
	crmWorkload       = "CRM"
)

const (
	browserUserAgent     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	webServicesUserAgent = "Microsoft.PowerPlatform.Dataverse.Client/1.2.2"
	managementTimeFormat = "2006-01-02T15:04:05" // CreationTime in auditData (UTC, no zone)
)

// UnifiedAuditRecord is one record of the unified audit log, shaped like
// Graph's microsoft.graph.security.auditLogRecord (the JSON tags are its
// property names). AuditData is the service-specific JSON object.
type UnifiedAuditRecord struct {
	ID                  string          `json:"id"`
	CreatedDateTime     time.Time       `json:"createdDateTime"`
	AuditLogRecordType  string          `json:"auditLogRecordType"`
	Operation           string          `json:"operation"`
	OrganizationID      string          `json:"organizationId"`
	UserType            string          `json:"userType"`
	UserID              string          `json:"userId"`
	Service             string          `json:"service"`
	ObjectID            string          `json:"objectId"`
	UserPrincipalName   string          `json:"userPrincipalName"`
	ClientIP            string          `json:"clientIp"`
	AdministrativeUnits []string        `json:"administrativeUnits"`
	AuditData           json.RawMessage `json:"auditData"`
}

// unifiedRecord is a stored record. Records never change once written.
type unifiedRecord struct {
	UnifiedAuditRecord
	written time.Time // when it entered the log, on the server's clock
}

// unifiedEvent is what a simulation knows about one logged action.
type unifiedEvent struct {
	at          time.Time
	user        *principal
	operation   string // also the SDK message
	table       string
	entityID    string // "" when the action has no single record
	primaryName string
	objectID    string
	itemURL     string
	query       string
	results     []string // QueryResults: the ids of the records read
	userAgent   string
}

// append writes one record (see appendUnified).
func (g *graphPart) append(ev unifiedEvent, written time.Time, orgName string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.appendUnified(ev, written, orgName)
}

// appendUnified writes one record; written is when it enters the log (a
// query's result set holds the records written before it completed).
// Caller holds g.mu.
func (g *graphPart) appendUnified(ev unifiedEvent, written time.Time, orgName string) *unifiedRecord {
	id := g.newUUID().String()
	correlation := g.newUUID().String()
	at := ev.at.UTC().Truncate(time.Second)
	b := make([]byte, 0, 1024+len(ev.query)+len(ev.itemURL)+len(ev.userAgent)+39*len(ev.results))
	b = append(b, '{')
	field := func(name string) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	str := func(name, v string) {
		field(name)
		b = appendJSONText(b, v)
	}
	str("CreationTime", at.Format(managementTimeFormat))
	str("Id", id)
	str("Operation", ev.operation)
	str("OrganizationId", g.tenantID)
	field("RecordType")
	b = strconv.AppendInt(b, crmRecordType, 10)
	str("UserKey", ev.user.objectID)
	field("UserType")
	b = append(b, '0') // Regular
	field("Version")
	b = append(b, '1')
	str("Workload", crmWorkload)
	str("ClientIP", ev.user.clientIP)
	str("ObjectId", ev.objectID)
	str("UserId", ev.user.upn)
	str("CorrelationId", correlation)
	str("CrmOrganizationUniqueName", orgName)
	str("EntityId", ev.entityID)
	str("EntityName", ev.table)
	field("Fields")
	b = append(b, '[', ']')
	str("InstanceUrl", g.environment)
	str("ItemUrl", ev.itemURL)
	str("Message", ev.operation)
	str("PrimaryFieldValue", ev.primaryName)
	str("Query", ev.query)
	field("QueryResults")
	b = append(b, '[')
	for i, r := range ev.results {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONText(b, r)
	}
	b = append(b, ']')
	str("SystemUserId", ev.user.systemUserID)
	str("UserAgent", ev.userAgent)
	str("UserUpn", ev.user.upn)
	b = append(b, '}')

	rec := &unifiedRecord{
		UnifiedAuditRecord: UnifiedAuditRecord{
			ID:                  id,
			CreatedDateTime:     at,
			AuditLogRecordType:  crmRecordTypeName,
			Operation:           ev.operation,
			OrganizationID:      g.tenantID,
			UserType:            "regular",
			UserID:              ev.user.upn,
			Service:             crmWorkload,
			ObjectID:            ev.objectID,
			UserPrincipalName:   ev.user.upn,
			ClientIP:            ev.user.clientIP,
			AdministrativeUnits: []string{},
			AuditData:           b,
		},
		written: written,
	}
	g.unified = append(g.unified, rec)
	return rec
}

// appendJSONText appends v as a JSON string, escaping only what JSON
// requires (not <, > and &, so that keyword searches see the text).
func appendJSONText(b []byte, v string) []byte {
	b = append(b, '"')
	plain := 0
	for plain < len(v) && v[plain] >= 0x20 && v[plain] < utf8.RuneSelf && v[plain] != '"' && v[plain] != '\\' {
		plain++
	}
	b = append(b, v[:plain]...)
	for i := plain; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, v[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// UnifiedAuditRecords returns a copy of the unified audit log in the order
// the records were written.
func (s *Server) UnifiedAuditRecords() []UnifiedAuditRecord {
	s.graph.mu.Lock()
	defer s.graph.mu.Unlock()
	out := make([]UnifiedAuditRecord, len(s.graph.unified))
	for i, r := range s.graph.unified {
		out[i] = r.UnifiedAuditRecord
		out[i].AdministrativeUnits = slices.Clone(r.AdministrativeUnits)
		out[i].AuditData = slices.Clone(r.AuditData)
	}
	return out
}

// containsFold reports whether needle occurs in hay, ASCII letters
// compared case-insensitively (non-ASCII bytes compare exactly after
// strings.ToLower of both, which the caller does for non-ASCII needles).
func containsFold(hay []byte, needle string) bool {
	if needle == "" {
		return true
	}
	lower := func(c byte) byte {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	first := lower(needle[0])
	for i := 0; i+len(needle) <= len(hay); i++ {
		if lower(hay[i]) != first {
			continue
		}
		j := 1
		for j < len(needle) && lower(hay[i+j]) == lower(needle[j]) {
			j++
		}
		if j == len(needle) {
			return true
		}
	}
	return false
}

// keywordMatch is a case-insensitive substring test of the record's
// auditData (as JSON text).
func keywordMatch(data []byte, keyword string) bool {
	for i := 0; i < len(keyword); i++ {
		if keyword[i] >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(string(data)), strings.ToLower(keyword))
		}
	}
	return containsFold(data, keyword)
}
