package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Organization is the audit-relevant part of the environment's single
// organizations row.
type Organization struct {
	OrganizationID             string
	Name                       string
	IsAuditEnabled             bool
	IsUserAccessAuditEnabled   bool
	IsReadAuditEnabled         bool
	AuditRetentionPeriodV2     int
	UserAccessAuditingInterval int
	// AuditSettings is the auditsettings JSON string ("Configure auditing");
	// "" reports null, the emulator's default.
	AuditSettings string

	// RetentionNotSet reports auditretentionperiodv2 as null, as in
	// environments where nobody ever set it (AuditRetentionPeriodV2 is then
	// 0 and ignored). A bool rather than a pointer keeps Organization
	// comparable with ==.
	RetentionNotSet bool
}

type edmType int

const (
	edmBoolean edmType = iota
	edmInt32
	edmInt64
	edmString
	edmGuid
	edmDateTimeOffset
)

func (t edmType) String() string {
	return [...]string{"Edm.Boolean", "Edm.Int32", "Edm.Int64", "Edm.String", "Edm.Guid", "Edm.DateTimeOffset"}[t]
}

// column describes one attribute of a table as the Web API exposes it.
type column struct {
	name string
	typ  edmType
	// declared: a structural property of the entity type. Lookup values
	// (_x_value) are not: they can be selected but not written.
	declared bool
	writable bool
	nullable bool
	// auditSetting: changing it is an "Audit Change at Org Level".
	auditSetting bool
	// validRange checks an integer value; it returns the accepted values
	// when v is out of range.
	validRange func(v int) (accepted string, ok bool)
}

// organizationColumns are served in this (alphabetical) order.
var organizationColumns = []column{
	{name: "_basecurrencyid_value", typ: edmGuid, nullable: true},
	{name: "_createdby_value", typ: edmGuid, nullable: true},
	{name: "_modifiedby_value", typ: edmGuid, nullable: true},
	{name: "allowentityonlyaudit", typ: edmBoolean, declared: true, writable: true, auditSetting: true},
	{name: "auditretentionperiod", typ: edmInt32, declared: true, writable: true, auditSetting: true},
	// auditretentionperiodv2 is null where never set (reported from real
	// environments); a PATCH may not set it back to null.
	// Its range ("Configure auditing": -1, or 1 to 365,000 days) is
	// checked by orgPart.checkRetention, since MaxRetentionDays may lower it.
	{name: "auditretentionperiodv2", typ: edmInt32, declared: true, writable: true, auditSetting: true},
	{name: "auditsettings", typ: edmString, declared: true, writable: true, nullable: true, auditSetting: true},
	{name: "basecurrencysymbol", typ: edmString, declared: true, nullable: true},
	{name: "createdon", typ: edmDateTimeOffset, declared: true, nullable: true},
	{name: "dateformatstring", typ: edmString, declared: true, writable: true, nullable: true},
	{name: "isauditenabled", typ: edmBoolean, declared: true, writable: true, auditSetting: true},
	{name: "isdisabled", typ: edmBoolean, declared: true},
	{name: "isreadauditenabled", typ: edmBoolean, declared: true, writable: true, auditSetting: true},
	{name: "isuseraccessauditenabled", typ: edmBoolean, declared: true, writable: true, auditSetting: true},
	{name: "languagecode", typ: edmInt32, declared: true},
	{name: "localeid", typ: edmInt32, declared: true, writable: true},
	{name: "maxrecordsforexporttoexcel", typ: edmInt32, declared: true, writable: true},
	{name: "modifiedon", typ: edmDateTimeOffset, declared: true, nullable: true},
	{name: "name", typ: edmString, declared: true, writable: true, nullable: true},
	{name: "organizationid", typ: edmGuid, declared: true},
	{name: "plugintracelogsetting", typ: edmInt32, declared: true, writable: true, validRange: func(v int) (string, bool) {
		return "0, 1, 2", v >= 0 && v <= 2
	}},
	{name: "timeformatstring", typ: edmString, declared: true, writable: true, nullable: true},
	{name: "useraccessauditinginterval", typ: edmInt32, declared: true, writable: true, auditSetting: true, validRange: func(v int) (string, bool) {
		// Organization table reference: MinValue 0, MaxValue 2147483647.
		return "0 to 2147483647", v >= 0
	}},
	{name: "versionnumber", typ: edmInt64, declared: true, nullable: true},
}

func organizationColumn(name string) (column, bool) {
	i := slices.IndexFunc(organizationColumns, func(c column) bool { return c.name == name })
	if i < 0 {
		return column{}, false
	}
	return organizationColumns[i], true
}

// orgRow holds the organizations row: values by column name, typed bool,
// int, int64, string, time.Time or nil. Guarded by orgPart.mu (id is fixed).
type orgRow struct {
	id     string
	values map[string]any
}

// orgPart is the Dataverse organization: the single organizations row and
// the environment's row version sequence. Its handlers serve
// organizations and organizations(<id>).
type orgPart struct {
	*shared
	// maxRetention is the largest auditretentionperiodv2 a PATCH accepts.
	maxRetention int
	mu           sync.Mutex
	versionSeq   int64
	row          *orgRow
}

// newOrgPart makes the row; the directory's administrator must exist.
func newOrgPart(sh *shared, opts Options) *orgPart {
	org := &orgPart{shared: sh, maxRetention: opts.MaxRetentionDays, versionSeq: 1_480_000 + time.Now().Unix()%100_000}
	if org.maxRetention <= 0 {
		org.maxRetention = defaultMaxRetentionDays
	}
	org.row = newOrgRow(sh.entra.admin, org.nextVersion())
	if opts.NullRetention {
		org.row.values["auditretentionperiodv2"] = nil
	}
	return org
}

// nextVersion returns a new row version number; like Dataverse's, versions
// are unique across the environment and only grow. Caller holds org.mu.
func (org *orgPart) nextVersion() int64 {
	org.versionSeq++
	return org.versionSeq
}

func newOrgRow(admin *principal, version int64) *orgRow {
	id := uuid.NewString()
	created := time.Now().UTC().Add(-400 * 24 * time.Hour).Truncate(time.Second)
	return &orgRow{id: id, values: map[string]any{
		"_basecurrencyid_value":      uuid.NewString(),
		"_createdby_value":           admin.systemUserID,
		"_modifiedby_value":          admin.systemUserID,
		"allowentityonlyaudit":       false,
		"auditretentionperiod":       30,
		"auditretentionperiodv2":     30,
		"auditsettings":              nil, // no documented default: null, as for a column nobody wrote
		"basecurrencysymbol":         "$",
		"createdon":                  created,
		"dateformatstring":           "M/d/yyyy",
		"isauditenabled":             false,
		"isdisabled":                 false,
		"isreadauditenabled":         false,
		"isuseraccessauditenabled":   false,
		"languagecode":               1033,
		"localeid":                   1033,
		"maxrecordsforexporttoexcel": 100000,
		"modifiedon":                 created,
		"name":                       "org" + strings.ReplaceAll(id, "-", "")[:8],
		"organizationid":             id,
		"plugintracelogsetting":      0,
		"timeformatstring":           "h:mm tt",
		"useraccessauditinginterval": 4,
		"versionnumber":              version,
	}}
}

func (o *orgRow) organization() Organization {
	name, _ := o.values["name"].(string)
	retention, set := o.values["auditretentionperiodv2"].(int)
	auditSettings, _ := o.values["auditsettings"].(string)
	return Organization{
		OrganizationID:             o.id,
		Name:                       name,
		IsAuditEnabled:             o.values["isauditenabled"].(bool),
		IsUserAccessAuditEnabled:   o.values["isuseraccessauditenabled"].(bool),
		IsReadAuditEnabled:         o.values["isreadauditenabled"].(bool),
		AuditRetentionPeriodV2:     retention,
		RetentionNotSet:            !set,
		UserAccessAuditingInterval: o.values["useraccessauditinginterval"].(int),
		AuditSettings:              auditSettings,
	}
}

func (o *orgRow) etag() string {
	return fmt.Sprintf(`W/"%d"`, o.values["versionnumber"].(int64))
}

// Organization returns the current organization settings.
func (s *Server) Organization() Organization { return s.org.settings() }

// settings returns the current organization settings.
func (org *orgPart) settings() Organization {
	org.mu.Lock()
	defer org.mu.Unlock()
	return org.row.organization()
}

// uniqueName is the organization's name, as the unified log records it.
func (org *orgPart) uniqueName() string {
	org.mu.Lock()
	defer org.mu.Unlock()
	name, _ := org.row.values["name"].(string)
	return name
}

// UpdateOrganization changes the organization as an administrator would in
// the admin centre, "outside Terraform": fn edits a copy, and what it changed
// is applied (without validation) with the same version bump and audit rows a
// PATCH writes, attributed to the administrator (AdminUserID). The id cannot
// be changed.
func (s *Server) UpdateOrganization(fn func(o *Organization)) { s.org.update(fn) }

func (org *orgPart) update(fn func(o *Organization)) {
	org.mu.Lock()
	defer org.mu.Unlock()
	before := org.row.organization()
	next := before
	fn(&next)
	changes := map[string]any{}
	set := func(name string, changed bool, v any) {
		if changed {
			changes[name] = v
		}
	}
	set("name", next.Name != before.Name, next.Name)
	set("isauditenabled", next.IsAuditEnabled != before.IsAuditEnabled, next.IsAuditEnabled)
	set("isuseraccessauditenabled", next.IsUserAccessAuditEnabled != before.IsUserAccessAuditEnabled, next.IsUserAccessAuditEnabled)
	set("isreadauditenabled", next.IsReadAuditEnabled != before.IsReadAuditEnabled, next.IsReadAuditEnabled)
	set("auditretentionperiodv2", retentionValue(next) != retentionValue(before), retentionValue(next))
	set("useraccessauditinginterval", next.UserAccessAuditingInterval != before.UserAccessAuditingInterval, next.UserAccessAuditingInterval)
	set("auditsettings", next.AuditSettings != before.AuditSettings, auditSettingsValue(next))
	org.applyChanges(org.entra.admin, changes)
}

// applyChanges writes the values that differ from the row's,
// bumps the version and writes audit rows for changed audit settings. It
// returns whether anything changed. Caller holds org.mu.
func (org *orgPart) applyChanges(user *principal, changes map[string]any) bool {
	oldValues, newValues := map[string]any{}, map[string]any{}
	for name, v := range changes {
		if cur := org.row.values[name]; cur != v {
			oldValues[name], newValues[name] = cur, v
		}
	}
	if len(newValues) == 0 {
		return false
	}
	now := org.now()
	for name, v := range newValues {
		org.row.values[name] = v
	}
	org.row.values["versionnumber"] = org.nextVersion()
	org.row.values["modifiedon"] = now.Truncate(time.Second)
	org.row.values["_modifiedby_value"] = user.systemUserID

	auditOld, auditNew := map[string]any{}, map[string]any{}
	for name := range newValues {
		if c, _ := organizationColumn(name); c.auditSetting {
			auditOld[name], auditNew[name] = oldValues[name], newValues[name]
		}
	}
	if len(auditNew) == 0 {
		return true
	}
	tx := org.beginAudit(user, now)
	tx.add(ActionAuditChangeAtOrgLevel, OperationUpdate, organizationTable, org.row.id, auditOld, auditNew)
	if v, ok := auditNew["isauditenabled"]; ok {
		tx.add(pick(v.(bool), ActionAuditEnabled, ActionAuditDisabled), OperationUpdate, organizationTable, org.row.id, nil, nil)
	}
	if v, ok := auditNew["isuseraccessauditenabled"]; ok {
		tx.add(pick(v.(bool), ActionUserAccessAuditStarted, ActionUserAccessAuditStopped), OperationUpdate, organizationTable, org.row.id, nil, nil)
	}
	return true
}

// serveOrganizations handles organizations and organizations(<id>).
func (org *orgPart) serveOrganizations(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if len(req.rest) > 0 {
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", req.rest[0]))
		return
	}
	var id string
	if req.hasKey {
		parsed, err := uuid.Parse(req.key)
		if err != nil || len(req.key) != 36 {
			writeODataError(w, http.StatusBadRequest, codeQuerySyntax, "Bad Request - Error in query syntax.")
			return
		}
		id = parsed.String()
	}
	switch {
	case r.Method == http.MethodGet:
		org.getOrganizations(w, r, req, id)
	case r.Method == http.MethodPatch && req.hasKey:
		org.patchOrganization(w, r, req, id)
	case req.hasKey:
		writeMethodNotAllowed(w, r, http.MethodGet, http.MethodPatch)
	default:
		writeMethodNotAllowed(w, r, http.MethodGet)
	}
}

// systemQueryOptions returns the system query options ($select, $top, …)
// of r, each with its first value.
func systemQueryOptions(r *http.Request) map[string]string {
	out := map[string]string{}
	for name, vals := range r.URL.Query() {
		if strings.HasPrefix(name, "$") {
			out[name] = vals[0]
		}
	}
	return out
}

// parseQueryOptions parses the system query options the organizations set
// supports; a collection request also takes $top.
func parseQueryOptions(r *http.Request, collection bool) (sel []string, top int, errMsg string) {
	top = -1
	for name, v := range systemQueryOptions(r) {
		switch {
		case name == "$select":
			for _, f := range strings.Split(v, ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				if _, ok := organizationColumn(f); !ok {
					return nil, 0, fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", f, organizationTable)
				}
				sel = append(sel, f)
			}
		case name == "$top" && collection:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, 0, fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v)
			}
			top = n
		default:
			// An honest refusal: the real service supports more options.
			return nil, 0, fmt.Sprintf("The query parameter '%s' is not supported by the Dynamics 365 emulator on '%s'.", name, organizationsEntitySet)
		}
	}
	return sel, top, ""
}

func (org *orgPart) organizationObject(sel []string) object {
	obj := object{{"@odata.etag", org.row.etag()}}
	if len(sel) == 0 {
		for _, c := range organizationColumns {
			obj = append(obj, member{c.name, org.row.values[c.name]})
		}
		return obj
	}
	for _, name := range sel {
		obj = append(obj, member{name, org.row.values[name]})
	}
	if !slices.Contains(sel, "organizationid") {
		obj = append(obj, member{"organizationid", org.row.id})
	}
	return obj
}

func (org *orgPart) organizationContext(sel []string, single bool) string {
	ctx := org.environment + apiPrefix + "$metadata#" + organizationsEntitySet
	if len(sel) > 0 {
		ctx += "(" + strings.Join(sel, ",") + ")"
	}
	if single {
		ctx += "/$entity"
	}
	return ctx
}

func (org *orgPart) getOrganizations(w http.ResponseWriter, r *http.Request, req apiRequest, id string) {
	sel, top, msg := parseQueryOptions(r, !req.hasKey)
	if msg != "" {
		writeODataError(w, http.StatusBadRequest, codeNone, msg)
		return
	}
	org.mu.Lock()
	defer org.mu.Unlock()
	if req.hasKey && id != org.row.id {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", organizationTable, id))
		return
	}
	if !req.user.cfg.has(PrivReadOrganization) {
		missingPrivilege(w, req.user, PrivReadOrganization, organizationTypeCode, organizationTable)
		return
	}
	if req.hasKey {
		obj := append(object{{"@odata.context", org.organizationContext(sel, true)}}, org.organizationObject(sel)...)
		writeOData(w, http.StatusOK, obj)
		return
	}
	rows := []object{org.organizationObject(sel)}
	if top >= 0 && top < len(rows) {
		rows = rows[:top]
	}
	writeOData(w, http.StatusOK, object{
		{"@odata.context", org.organizationContext(sel, false)},
		{"value", rows},
	})
}

// payloadError is Dataverse's 400 for a body the OData reader rejects.
func payloadError(inner string) string {
	return fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link %s  ----> InnerException : Microsoft.OData.ODataException: %s",
		organizationsEntitySet, payloadErrorHelpLink, inner)
}

func (org *orgPart) patchOrganization(w http.ResponseWriter, r *http.Request, req apiRequest, id string) {
	changes, status, code, msg := decodeOrganizationPayload(w, r)
	if msg != "" {
		writeODataError(w, status, code, msg)
		return
	}
	sel, _, qmsg := parseQueryOptions(r, false)
	if qmsg != "" {
		writeODataError(w, http.StatusBadRequest, codeNone, qmsg)
		return
	}

	org.mu.Lock()
	defer org.mu.Unlock()
	if id != org.row.id {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("%s With Id = %s Does Not Exist", organizationTable, id))
		return
	}
	if !req.user.cfg.has(PrivWriteOrganization) {
		missingPrivilege(w, req.user, PrivWriteOrganization, organizationTypeCode, organizationTable)
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != org.row.etag() {
		writeODataError(w, http.StatusPreconditionFailed, codeVersionMismatch, "The version of the existing record doesn't match the RowVersion property provided.")
		return
	}
	for _, ch := range changes {
		c, _ := organizationColumn(ch.name)
		if c.name == "auditretentionperiodv2" {
			c.validRange = org.checkRetention
		}
		if n, ok := ch.value.(int); ok && c.validRange != nil {
			if accepted, ok := c.validRange(n); !ok {
				writeODataError(w, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf(
					"A validation error occurred. The value %d of '%s' on record of type '%s' is outside the valid range. Accepted values: %s.",
					n, c.name, organizationTable, accepted))
				return
			}
		}
	}
	values := make(map[string]any, len(changes))
	for _, ch := range changes {
		values[ch.name] = ch.value
	}
	org.applyChanges(req.user, values)

	entityID := fmt.Sprintf("%s%s%s(%s)", org.environment, apiPrefix, organizationsEntitySet, org.row.id)
	w.Header().Set("OData-EntityId", entityID)
	if preferRepresentation(r) {
		w.Header().Set("Preference-Applied", "return=representation")
		obj := append(object{{"@odata.context", org.organizationContext(sel, true)}}, org.organizationObject(sel)...)
		writeOData(w, http.StatusOK, obj)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type change struct {
	name  string
	value any
}

// decodeOrganizationPayload reads a PATCH body in member order, so the first
// offending member is the one reported, and converts each value to its
// column's type the way the OData reader does.
func decodeOrganizationPayload(w http.ResponseWriter, r *http.Request) (changes []change, status int, code, msg string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		return nil, http.StatusRequestEntityTooLarge, codeBadPayload, payloadError("The request body is too large.")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, http.StatusBadRequest, codeBadPayload, payloadError("An empty request body is not valid for a PATCH request.")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	bad := func(inner string) ([]change, int, string, string) {
		return nil, http.StatusBadRequest, codeBadPayload, payloadError(inner)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return bad("Invalid JSON. A JSON object was expected for the entity payload.")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("Invalid JSON. " + err.Error())
		}
		name := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad("Invalid JSON. " + err.Error())
		}
		if strings.HasPrefix(name, "@") {
			continue // instance annotations such as @odata.type
		}
		if i := strings.IndexByte(name, '@'); i > 0 {
			return bad(fmt.Sprintf("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", name[:i]))
		}
		c, ok := organizationColumn(name)
		if !ok || !c.declared {
			return nil, http.StatusBadRequest, codeNone, fmt.Sprintf("Invalid property '%s' was found in entity 'Microsoft.Dynamics.CRM.%s'.", name, organizationTable)
		}
		if !c.writable {
			return nil, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("The '%s' attribute of '%s' is not valid for update.", name, organizationTable)
		}
		v, inner := convertLiteral(raw, c)
		if inner != "" {
			return bad(inner)
		}
		changes = append(changes, change{name, v})
	}
	if _, err := dec.Token(); err != nil {
		return bad("Invalid JSON. " + err.Error())
	}
	if dec.More() {
		return bad("Invalid JSON. More than one value was found at the root of the JSON content.")
	}
	return changes, 0, "", ""
}

// convertLiteral converts a JSON value to the column's Go representation or
// returns the OData reader's message.
func convertLiteral(raw json.RawMessage, c column) (any, string) {
	text := strings.TrimSpace(string(raw))
	if text == "null" {
		if c.nullable {
			return nil, ""
		}
		return nil, fmt.Sprintf("A null value was found for the property named '%s', which has the expected type '%s[Nullable=False]'. The expected type '%s[Nullable=False]' does not allow null values.", c.name, c.typ, c.typ)
	}
	literal := text
	var str string
	isString := json.Unmarshal(raw, &str) == nil && strings.HasPrefix(text, `"`)
	switch {
	case isString:
		literal = str
	case text == "true":
		literal = "True"
	case text == "false":
		literal = "False"
	}
	cannot := fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", literal, c.typ)
	switch c.typ {
	case edmBoolean:
		switch text {
		case "true":
			return true, ""
		case "false":
			return false, ""
		}
	case edmInt32:
		if !isString {
			if n, err := strconv.ParseInt(text, 10, 64); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
				return int(n), ""
			}
		}
	case edmString:
		if isString {
			return str, ""
		}
	default:
		return nil, cannot
	}
	return nil, cannot
}
