package emulator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
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

// appendUnified writes one record; written is when it enters the log (a
// query's result set holds the records written before it completed).
// Caller holds s.mu.
func (s *Server) appendUnified(ev unifiedEvent, written time.Time, orgName string) *unifiedRecord {
	id := s.newUUID().String()
	correlation := s.newUUID().String()
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
	str("OrganizationId", s.tenantID)
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
	str("InstanceUrl", s.environment)
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
			OrganizationID:      s.tenantID,
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
	s.unified = append(s.unified, rec)
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

func (s *Server) orgUniqueName() string {
	name, _ := s.org.values["name"].(string)
	return name
}

func (s *Server) recordURL(table, id string) string {
	return s.environment + "/main.aspx?etn=" + table + "&id=" + id + "&pagetype=entityrecord"
}

func (s *Server) listURL(table string) string {
	return s.environment + "/main.aspx?etn=" + table + "&pagetype=entitylist"
}

func fetchXML(table string, count int) string {
	return fmt.Sprintf(`<fetch mapping="logical" count="%d" returntotalrecordcount="true"><entity name="%s"><all-attributes /><order attribute="modifiedon" descending="true" /></entity></fetch>`, count, table)
}

// readAuditing reports whether the organization sends read activity to the
// unified log at all. Caller holds s.mu.
func (s *Server) readAuditing() bool {
	o := s.org.organization()
	return o.IsAuditEnabled && o.IsReadAuditEnabled
}

// UnifiedAuditRecords returns a copy of the unified audit log in the order
// the records were written.
func (s *Server) UnifiedAuditRecords() []UnifiedAuditRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]UnifiedAuditRecord, len(s.unified))
	for i, r := range s.unified {
		out[i] = r.UnifiedAuditRecord
		out[i].AdministrativeUnits = slices.Clone(r.AdministrativeUnits)
		out[i].AuditData = slices.Clone(r.AuditData)
	}
	return out
}

// SimulateRetrieve records that user opened one record (operation
// "Retrieve"). A unified audit log record is written only when organization
// auditing and read auditing are on and the table's PUBLISHED
// IsRetrieveAuditEnabled is true; nothing goes to `audits`. recordID must
// be a GUID; the record need not be one the emulator holds (its primary
// name, PrimaryFieldValue in auditData, is then empty).
func (s *Server) SimulateRetrieve(at time.Time, user SimUser, table, recordID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.simulateRetrieve(at, user, table, recordID)
	return err
}

func (s *Server) simulateRetrieve(at time.Time, user SimUser, table, recordID string) (int, error) {
	p, e, err := s.simTarget(user, table)
	if err != nil {
		return 0, err
	}
	id, err := uuid.Parse(recordID)
	if err != nil {
		return 0, fmt.Errorf("emulator: record id %q is not a GUID", recordID)
	}
	if !s.readAuditing() || !e.published.IsRetrieveAuditEnabled {
		return 0, nil
	}
	var name string
	if rec := s.records[table][id]; rec != nil {
		name = primaryName(e, rec.values)
	}
	ids := id.String()
	s.appendUnified(unifiedEvent{
		at: at, user: p, operation: UnifiedOpRetrieve, table: table,
		entityID: ids, primaryName: name, objectID: ids,
		itemURL: s.recordURL(table, ids), results: []string{ids}, userAgent: browserUserAgent,
	}, s.timers.Now(), s.orgUniqueName())
	return 1, nil
}

// SimulateRetrieveMultiple records that user viewed a list of count
// records of table (a grid or an Advanced Find): operation
// "RetrieveMultiple", whose QueryResults lists the ids of the records seen
// (the table's first count records in id order; fewer if it has fewer).
// Written only when organization auditing and read auditing are on and
// the table's PUBLISHED IsRetrieveMultipleAuditEnabled is true.
func (s *Server) SimulateRetrieveMultiple(at time.Time, user SimUser, table string, count int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.simulateList(at, user, table, count, UnifiedOpRetrieveMultiple, nil)
	return err
}

// SimulateExportToExcel records that user exported count records of table
// to Excel: operation "ExportToExcel", written under the same rule as
// SimulateRetrieveMultiple.
func (s *Server) SimulateExportToExcel(at time.Time, user SimUser, table string, count int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.simulateList(at, user, table, count, UnifiedOpExportToExcel, nil)
	return err
}

// simulateList writes a RetrieveMultiple or ExportToExcel record. With
// rng, the records seen are a random run of the table's records instead of
// the first ones. Caller holds s.mu.
func (s *Server) simulateList(at time.Time, user SimUser, table string, count int, op string, rng *rand.Rand) (int, error) {
	p, e, err := s.simTarget(user, table)
	if err != nil {
		return 0, err
	}
	if count < 0 {
		return 0, fmt.Errorf("emulator: count %d is negative", count)
	}
	if !s.readAuditing() || !e.published.IsRetrieveMultipleAuditEnabled {
		return 0, nil
	}
	ids := make([]string, 0, len(s.records[table]))
	for id := range s.records[table] {
		ids = append(ids, id.String())
	}
	slices.Sort(ids)
	start := 0
	if rng != nil && len(ids) > count {
		start = rng.IntN(len(ids) - count + 1)
	}
	ids = ids[start:min(start+count, len(ids))]
	s.appendUnified(unifiedEvent{
		at: at, user: p, operation: op, table: table, objectID: table,
		itemURL: s.listURL(table), query: fetchXML(table, max(count, 1)), results: ids, userAgent: browserUserAgent,
	}, s.timers.Now(), s.orgUniqueName())
	return 1, nil
}

// signInUnified writes the unified log record of a sign-in (operation
// UserLoggedIn) when auditing and user access auditing are on. Unlike the
// `audits` access rows it is written for every sign-in. Caller holds s.mu.
func (s *Server) signInUnified(at time.Time, p *principal, webServices bool) int {
	o := s.org.organization()
	if !o.IsAuditEnabled || !o.IsUserAccessAuditEnabled {
		return 0
	}
	agent, item := browserUserAgent, s.environment+"/main.aspx"
	if webServices {
		agent, item = webServicesUserAgent, ""
	}
	s.appendUnified(unifiedEvent{
		at: at, user: p, operation: UnifiedOpUserLoggedIn, table: "systemuser",
		entityID: p.systemUserID, primaryName: p.fullName, objectID: p.systemUserID,
		itemURL: item, results: []string{}, userAgent: agent,
	}, s.timers.Now(), s.orgUniqueName())
	return 1
}

// SeedUnifiedAuditLog writes n unified audit log records (Retrieve,
// RetrieveMultiple, ExportToExcel and UserLoggedIn, by eight "Seed User"
// users on the seed tables) spread over [from, to], regardless of the
// audit settings, for volume tests. Content is deterministic for a seed;
// ids are random. It returns the number of records written.
func (s *Server) SeedUnifiedAuditLog(n int, from, to time.Time, seed int64) int {
	if n <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed_9e71e3))
	type seedTable struct {
		name  string
		ids   []string
		names []string
	}
	var tables []*seedTable
	for _, name := range seedTables {
		if s.meta.entities[name] == nil {
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
	users := make([]*principal, 8)
	for i := range users {
		users[i] = s.entra.simUserNamed(fmt.Sprintf("Seed User %d", i+1))
	}
	written := s.timers.Now()
	org := s.orgUniqueName()
	s.unified = slices.Grow(s.unified, n)
	for _, at := range sortedTimes(rng, n, from, to) {
		st := tables[rng.IntN(len(tables))]
		user := users[rng.IntN(len(users))]
		ev := unifiedEvent{at: at, user: user, table: st.name, userAgent: browserUserAgent}
		switch roll := rng.IntN(100); {
		case roll < 55:
			i := rng.IntN(len(st.ids))
			ev.operation, ev.entityID, ev.objectID, ev.primaryName = UnifiedOpRetrieve, st.ids[i], st.ids[i], st.names[i]
			ev.itemURL, ev.results = s.recordURL(st.name, st.ids[i]), []string{st.ids[i]}
		case roll < 88:
			ev.operation = UnifiedOpRetrieveMultiple
			if roll >= 80 {
				ev.operation = UnifiedOpExportToExcel
			}
			k := 1 + rng.IntN(20)
			i := rng.IntN(len(st.ids) - k + 1)
			ev.objectID, ev.itemURL, ev.query, ev.results = st.name, s.listURL(st.name), fetchXML(st.name, 50), st.ids[i:i+k]
		default:
			ev.operation, ev.table, ev.entityID, ev.objectID, ev.primaryName = UnifiedOpUserLoggedIn, "systemuser", user.systemUserID, user.systemUserID, user.fullName
			ev.itemURL, ev.results = s.environment+"/main.aspx", []string{}
		}
		s.appendUnified(ev, written, org)
	}
	return n
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
