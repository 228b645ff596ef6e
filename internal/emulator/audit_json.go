package emulator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Hand-written JSON for audit rows: a full page is 5000 rows, and a
// $batch of RetrieveAuditDetails 1000 answers, so rows are appended to one
// buffer rather than marshalled through reflection.

// Audit columns, in the order a request without $select returns them.
const (
	acCallingUser = iota
	acObjectID
	acRegarding
	acUserID
	acAction
	acAttributeMask
	acAuditID
	acCreatedOn
	acObjectTypeCode
	acOperation
	acTransactionID
	acUserAdditionalInfo
	numAuditColumns
)

var auditColumnNames = [numAuditColumns]string{
	"_callinguserid_value", "_objectid_value", "_regardingobjectid_value", "_userid_value",
	"action", "attributemask", "auditid", "createdon", "objecttypecode", "operation",
	"transactionid", "useradditionalinfo",
}

var auditColumnIndex = func() map[string]int {
	m := make(map[string]int, numAuditColumns)
	for i, n := range auditColumnNames {
		m[n] = i
	}
	return m
}()

var allAuditColumns = func() []int {
	out := make([]int, numAuditColumns)
	for i := range out {
		out[i] = i
	}
	return out
}()

const (
	annFormatted = "OData.Community.Display.V1.FormattedValue"
	annLookup    = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annNav       = "Microsoft.Dynamics.CRM.associatednavigationproperty"
	// formattedTimeLayout is how createdon is formatted for an en-US user
	// (the emulator formats in UTC).
	formattedTimeLayout = "1/2/2006 3:04 PM"
	// maxAuditValueLength caps the string values of an AttributeAuditDetail
	// ("about 5,000 characters"); a capped value ends in cappedValueSuffix.
	maxAuditValueLength = 5000
	cappedValueSuffix   = "..."
)

// annotations says which instance annotations a request asked for with
// Prefer: odata.include-annotations.
type annotations struct {
	formatted, lookup, nav bool
	// count: Microsoft.Dynamics.CRM.totalrecordcount and
	// totalrecordcountlimitexceeded (collection-level, "Count rows").
	count bool
}

func (a annotations) any() bool { return a.formatted || a.lookup || a.nav }

// parseIncludeAnnotations reads the comma-separated patterns of
// odata.include-annotations: "*", a namespace with ".*", or a term; terms
// starting with "-" (exclusions) are ignored.
func parseIncludeAnnotations(v string) annotations {
	var a annotations
	for _, p := range strings.Split(v, ",") {
		switch p = strings.TrimSpace(p); p {
		case "*":
			return annotations{true, true, true, true}
		case annFormatted, "OData.Community.Display.V1.*":
			a.formatted = true
		case annLookup:
			a.lookup = true
		case annNav:
			a.nav = true
		case "Microsoft.Dynamics.CRM.*":
			a.lookup, a.nav, a.count = true, true, true
		case annTotalCount, annCountExceeded:
			a.count = true
		}
	}
	return a
}

// rowRenderer writes audit rows as a GET audits answer does.
type rowRenderer struct {
	cols         []int
	ann          annotations
	displayNames map[string]string // table -> display name, for FormattedValue
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			m, _ := json.Marshal(s)
			return append(b, m...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

func appendUUID(b []byte, id uuid.UUID) []byte {
	b = append(b, '"')
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, '"')
}

func appendUUIDOrNull(b []byte, id uuid.UUID) []byte {
	if id == (uuid.UUID{}) {
		return append(b, "null"...)
	}
	return appendUUID(b, id)
}

func appendKey(b []byte, first *bool, key string) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = appendJSONString(b, key)
	return append(b, ':')
}

func appendStringOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

func appendTime(b []byte, sec int64) []byte {
	b = append(b, '"')
	b = time.Unix(sec, 0).UTC().AppendFormat(b, dataverseTimeFormat)
	return append(b, '"')
}

// appendRow writes one row object, "@odata.etag" first.
func (rr *rowRenderer) appendRow(b []byte, r *auditRow) []byte {
	first := true
	b = append(b, '{')
	b = appendKey(b, &first, "@odata.etag")
	b = append(b, `"W/\"`...)
	b = strconv.AppendInt(b, auditVersionBase+int64(r.seq), 10)
	b = append(b, `\""`...)
	hasID := false
	for _, c := range rr.cols {
		name := auditColumnNames[c]
		switch c {
		case acCallingUser, acRegarding:
			b = appendKey(b, &first, name)
			b = append(b, "null"...)
		case acObjectID:
			if r.objectID != (uuid.UUID{}) {
				b = rr.appendLookupAnnotations(b, &first, name, r.objectName, r.objectName != "", "objectid_"+r.table, r.table)
			}
			b = appendKey(b, &first, name)
			b = appendUUIDOrNull(b, r.objectID)
		case acUserID:
			if r.user != nil {
				b = rr.appendLookupAnnotations(b, &first, name, r.user.fullName, true, "userid", "systemuser")
			}
			b = appendKey(b, &first, name)
			b = appendUUIDOrNull(b, r.userID)
		case acAction:
			b = rr.appendChoice(b, &first, name, int(r.action), ActionLabels)
		case acAttributeMask:
			b = appendKey(b, &first, name)
			b = appendStringOrNull(b, r.mask)
		case acAuditID:
			hasID = true
			b = appendKey(b, &first, name)
			b = appendUUID(b, r.id)
		case acCreatedOn:
			if rr.ann.formatted {
				b = appendKey(b, &first, name+"@"+annFormatted)
				b = appendJSONString(b, time.Unix(r.created, 0).UTC().Format(formattedTimeLayout))
			}
			b = appendKey(b, &first, name)
			b = appendTime(b, r.created)
		case acObjectTypeCode:
			if rr.ann.formatted {
				if d := rr.displayNames[r.table]; d != "" {
					b = appendKey(b, &first, name+"@"+annFormatted)
					b = appendJSONString(b, d)
				}
			}
			b = appendKey(b, &first, name)
			b = appendStringOrNull(b, r.table)
		case acOperation:
			b = rr.appendChoice(b, &first, name, int(r.operation), operationLabels)
		case acTransactionID:
			b = appendKey(b, &first, name)
			b = appendUUIDOrNull(b, r.transaction)
		case acUserAdditionalInfo:
			b = appendKey(b, &first, name)
			b = appendStringOrNull(b, r.userInfo)
		}
	}
	if !hasID {
		b = appendKey(b, &first, "auditid")
		b = appendUUID(b, r.id)
	}
	return append(b, '}')
}

// auditVersionBase makes audit etags look like row versions.
const auditVersionBase = 7_300_000

// Audit detail types.
const (
	detailAttribute  = "#Microsoft.Dynamics.CRM.AttributeAuditDetail"
	detailUserAccess = "#Microsoft.Dynamics.CRM.UserAccessAuditDetail"
	detailBase       = "#Microsoft.Dynamics.CRM.AuditDetail"
)

func detailType(r *auditRow) string {
	switch a := int(r.action); {
	case a == ActionUserAccessViaWeb || a == ActionUserAccessViaWebServices:
		return detailUserAccess
	case a >= 100 && a <= 113:
		return detailBase
	}
	return detailAttribute
}

// appendAuditDetail writes the AuditDetail of a row as RetrieveAuditDetails
// and RetrieveRecordChangeHistory answer it: through the Web API neither
// carries "AuditRecord" (documented for RetrieveRecordChangeHistory; the
// documented RetrieveAuditDetails answer has none either), and long string
// values are capped.
//
// How values are written is not documented beyond the example: style
// chooses (Options.AnnotatedAuditValues).
func appendAuditDetail(b []byte, r *auditRow, style auditValueStyle) []byte {
	first := true
	typ := detailType(r)
	b = append(b, '{')
	b = appendKey(b, &first, "@odata.type")
	b = appendJSONString(b, typ)
	switch typ {
	case detailAttribute:
		b = appendKey(b, &first, "OldValue")
		b = appendValues(b, r, oldValues, style)
		b = appendKey(b, &first, "NewValue")
		b = appendValues(b, r, newValues, style)
		b = appendKey(b, &first, "InvalidNewValueAttributes")
		b = append(b, "[]"...)
		b = appendKey(b, &first, "LocLabelLanguageCode")
		b = append(b, '0')
		b = appendKey(b, &first, "DeletedAttributes")
		b = append(b, `{"Count":0,"Keys":[],"Values":[]}`...)
	case detailUserAccess:
		b = appendKey(b, &first, "AccessTime")
		b = appendTime(b, r.created)
		b = appendKey(b, &first, "Interval")
		b = strconv.AppendInt(b, int64(r.interval), 10)
	}
	return append(b, '}')
}

// valueSide says which values of a change appendValues writes.
type valueSide bool

const (
	oldValues valueSide = true
	newValues valueSide = false
)

// auditValueStyle is how audit detail values are written: the zero value
// as stored (money with its 4 decimals, 88800.0000), no annotations.
type auditValueStyle bool

// annotatedAuditValues: numbers without trailing zeros (88800), each value
// preceded by its FormattedValue annotation.
const annotatedAuditValues auditValueStyle = true

// appendValues writes the old or new values of a row as an entity of the
// row's table; absent (null) values are left out.
func appendValues(b []byte, r *auditRow, side valueSide, style auditValueStyle) []byte {
	first := true
	b = append(b, '{')
	b = appendKey(b, &first, "@odata.type")
	b = appendJSONString(b, "#Microsoft.Dynamics.CRM."+r.table)
	for _, c := range r.changes {
		v := c.new
		if side == oldValues {
			v = c.old
		}
		if v == nil {
			continue
		}
		name := c.name
		if c.lookup {
			name = "_" + name + "_value"
		}
		if style == annotatedAuditValues {
			v = trimmedNumber(v)
			b = appendKey(b, &first, name+"@"+annFormatted)
			b = appendJSONString(b, formattedAuditValue(v))
		}
		b = appendKey(b, &first, name)
		b = appendValue(b, v)
	}
	return append(b, '}')
}

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, capAuditValue(x))
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case bool:
		return strconv.AppendBool(b, x)
	case json.Number:
		return append(b, x...)
	case time.Time:
		b = append(b, '"')
		b = x.UTC().AppendFormat(b, dataverseTimeFormat)
		return append(b, '"')
	}
	m, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, m...)
}

// trimmedNumber drops a decimal number's trailing zeros (88800.0000 →
// 88800, 12.50 → 12.5); other values are returned as they are.
func trimmedNumber(v any) any {
	n, ok := v.(json.Number)
	if !ok || !strings.Contains(string(n), ".") || strings.ContainsAny(string(n), "eE") {
		return v
	}
	return json.Number(strings.TrimSuffix(strings.TrimRight(string(n), "0"), "."))
}

// formattedAuditValue is a value's display text for its FormattedValue
// annotation.
func formattedAuditValue(v any) string {
	switch x := v.(type) {
	case string:
		return capAuditValue(x)
	case bool:
		if x {
			return "Yes"
		}
		return "No"
	case time.Time:
		return x.UTC().Format("1/2/2006 3:04 PM")
	}
	return fmt.Sprint(v)
}

// capAuditValue cuts a string over maxAuditValueLength characters to that
// length, its last characters replaced by cappedValueSuffix. Microsoft
// documents "5KB or ~5,000 characters" and "three dots at the end"; the
// exact length is the emulator's choice.
func capAuditValue(s string) string {
	if len(s) <= maxAuditValueLength || utf8.RuneCountInString(s) <= maxAuditValueLength {
		return s
	}
	keep := maxAuditValueLength - len(cappedValueSuffix)
	n := 0
	for i := range s {
		if n == keep {
			return s[:i] + cappedValueSuffix
		}
		n++
	}
	return s
}

// appendChoice appends a choice column: its label as the formatted value
// (when asked for and known), then its number.
// appendLookupAnnotations writes the annotations of the lookup column name
// that rr asks for: the formatted value (when hasFormatted), the navigation
// property and the target table.
func (rr *rowRenderer) appendLookupAnnotations(b []byte, first *bool, name, formatted string, hasFormatted bool, nav, table string) []byte {
	if rr.ann.formatted && hasFormatted {
		b = appendKey(b, first, name+"@"+annFormatted)
		b = appendJSONString(b, formatted)
	}
	if rr.ann.nav {
		b = appendKey(b, first, name+"@"+annNav)
		b = appendJSONString(b, nav)
	}
	if rr.ann.lookup {
		b = appendKey(b, first, name+"@"+annLookup)
		b = appendJSONString(b, table)
	}
	return b
}

func (rr *rowRenderer) appendChoice(b []byte, first *bool, name string, v int, labels map[int]string) []byte {
	if rr.ann.formatted {
		if l, ok := labels[v]; ok {
			b = appendKey(b, first, name+"@"+annFormatted)
			b = appendJSONString(b, l)
		}
	}
	b = appendKey(b, first, name)
	return strconv.AppendInt(b, int64(v), 10)
}
