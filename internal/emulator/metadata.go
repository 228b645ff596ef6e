package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Metadata (EntityDefinitions) routes:
//
//	GET EntityDefinitions[?$select&$expand&$filter]
//	GET|PUT EntityDefinitions(LogicalName='x') | EntityDefinitions(<MetadataId>)
//	GET EntityDefinitions(..)/Attributes[/<cast>][?$select&$filter]
//	GET|PUT EntityDefinitions(..)/Attributes(LogicalName='y') | Attributes(<MetadataId>)
//	GET EntityDefinitions(..)/Attributes(..)/<cast>
//
// PATCH is refused everywhere: metadata supports only full updates (PUT).

const (
	entityDefinitionsSet = "EntityDefinitions"
	entityTable          = "entity"
	entityTypeCode       = 9800
	attributeTable       = "attribute"
	attributeTypeCode    = 9808
	headerMergeLabels    = "MSCRM.MergeLabels"
	headerSolution       = "MSCRM.SolutionUniqueName"
	codeMetadataLocked   = codeInvalidArgument
	maxMetadataBody      = 8 << 20
)

// metaKey is a parsed key segment: LogicalName='x' or a MetadataId.
type metaKey struct {
	byName bool
	value  string // logical name, or lower-case MetadataId
}

func parseMetaKey(key string) (metaKey, bool) {
	if rest, ok := strings.CutPrefix(key, "LogicalName="); ok {
		if len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'' {
			return metaKey{byName: true, value: strings.ReplaceAll(rest[1:len(rest)-1], "''", "'")}, true
		}
		return metaKey{}, false
	}
	if rest, ok := strings.CutPrefix(key, "MetadataId="); ok {
		key = rest
	}
	id, err := uuid.Parse(key)
	if err != nil || len(key) != 36 {
		return metaKey{}, false
	}
	return metaKey{value: id.String()}, true
}

// metaPath is a parsed EntityDefinitions URL.
type metaPath struct {
	entity     *metaKey // nil: the collection
	attributes bool     // .../Attributes
	attr       *metaKey // .../Attributes(key)
	cast       string   // type cast segment (full name, no '#'), "" if none
}

func (s *Server) serveEntityDefinitions(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if r.Method == http.MethodPatch {
		// Decided before the URL is resolved, as the service's router does.
		writeODataError(w, http.StatusMethodNotAllowed, codeQuerySyntax,
			"PATCH is not supported for metadata entities: metadata supports only full updates with PUT. Retrieve the full definition, change it and PUT it back.")
		return
	}
	p, ok := s.parseMetaPath(w, req)
	if !ok {
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.getMetadata(w, r, req, p)
	case http.MethodPut:
		switch {
		case p.entity != nil && !p.attributes && p.cast == "":
			s.putEntity(w, r, req, p)
		case p.attr != nil && p.cast == "":
			s.putAttribute(w, r, req, p)
		default:
			writeMethodNotAllowed(w, r, http.MethodGet)
		}
	case http.MethodPost, http.MethodDelete:
		// An honest refusal: the service creates and deletes tables and
		// columns this way, the emulator does not.
		writeODataError(w, http.StatusNotImplemented, codeNone, fmt.Sprintf("%s on metadata (creating or deleting tables and columns) is not supported by the Dynamics 365 emulator.", r.Method))
	default:
		writeMethodNotAllowed(w, r, http.MethodGet, http.MethodPut)
	}
}

func (s *Server) parseMetaPath(w http.ResponseWriter, req apiRequest) (metaPath, bool) {
	var p metaPath
	syntaxError := func() (metaPath, bool) {
		writeODataError(w, http.StatusBadRequest, codeQuerySyntax, "Bad Request - Error in query syntax.")
		return p, false
	}
	notFound := func(seg string) (metaPath, bool) {
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", seg))
		return p, false
	}
	if req.hasKey {
		k, ok := parseMetaKey(req.key)
		if !ok {
			return syntaxError()
		}
		p.entity = &k
	}
	rest := req.rest
	if len(rest) == 0 {
		return p, true
	}
	if p.entity == nil {
		return notFound(rest[0])
	}
	seg := rest[0]
	switch {
	case seg == "Attributes":
		p.attributes = true
	case strings.HasPrefix(seg, "Attributes(") && strings.HasSuffix(seg, ")"):
		k, ok := parseMetaKey(seg[len("Attributes(") : len(seg)-1])
		if !ok {
			return syntaxError()
		}
		p.attributes, p.attr = true, &k
	default:
		return notFound(seg)
	}
	rest = rest[1:]
	if len(rest) > 0 {
		if _, known := attrTypeProps(rest[0]); !known {
			return notFound(rest[0])
		}
		p.cast = rest[0]
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return notFound(rest[0])
	}
	return p, true
}

// metaQuery holds the query options of a metadata GET.
type metaQuery struct {
	sel         []string // nil: every property
	expandAttrs bool
	attrSel     []string // $select inside $expand=Attributes(...)
	filter      filterExpr
}

func unsupported(what string) string {
	return fmt.Sprintf("%s is not supported by the Dynamics 365 emulator on %s.", what, entityDefinitionsSet)
}

func notAProperty(name, typeName string) string {
	return fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, typeName)
}

// parseSelect checks a $select list against schema.
func parseSelect(v string, schema []propSpec, typeName string, nav []string) ([]string, string) {
	var sel []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, ok := findProp(schema, f); ok {
			if !slices.Contains(sel, f) {
				sel = append(sel, f)
			}
			continue
		}
		if slices.Contains(nav, f) || strings.ContainsAny(f, "/*") {
			return nil, unsupported(fmt.Sprintf("The $select item '%s'", f))
		}
		return nil, notAProperty(f, typeName)
	}
	if sel == nil {
		sel = []string{}
	}
	return sel, ""
}

// parseMetaQuery reads $select, $expand and $filter. attrSchema is the schema
// of the column type being queried (for Attributes paths), else nil.
func parseMetaQuery(r *http.Request, p metaPath) (metaQuery, string) {
	var q metaQuery
	onAttributes := p.attributes
	collection := (p.entity == nil) || (p.attributes && p.attr == nil)
	schema, typeName, nav := entitySchema, entityMetadataType, entityNavigationProperties
	if onAttributes {
		schema, typeName, nav = attributeCommonSchema, attrMetadataType, nil
		if p.cast != "" {
			schema, typeName = attributeSchema(p.cast), p.cast
		}
	}
	for name, vals := range r.URL.Query() {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		v := vals[0]
		switch {
		case name == "$select":
			sel, msg := parseSelect(v, schema, typeName, nav)
			if msg != "" {
				return q, msg
			}
			q.sel = sel
		case name == "$expand" && !onAttributes:
			if msg := parseExpand(v, &q); msg != "" {
				return q, msg
			}
		case name == "$filter" && collection:
			fields := map[string]bool{"LogicalName": false}
			if !onAttributes {
				fields["IsCustomEntity"] = true
			}
			f, msg := parseFilter(v, fields, schema, typeName)
			if msg != "" {
				return q, msg
			}
			q.filter = f
		default:
			return q, unsupported(fmt.Sprintf("The query parameter '%s'", name))
		}
	}
	return q, ""
}

func parseExpand(v string, q *metaQuery) string {
	for _, item := range splitTopLevel(v, ',') {
		item = strings.TrimSpace(item)
		name, opts, hasOpts := strings.Cut(item, "(")
		name = strings.TrimSpace(name)
		if name != "Attributes" {
			if slices.Contains(entityNavigationProperties, name) {
				return unsupported(fmt.Sprintf("$expand=%s", name))
			}
			return notAProperty(name, entityMetadataType)
		}
		q.expandAttrs = true
		if !hasOpts {
			continue
		}
		if !strings.HasSuffix(opts, ")") {
			return "Bad Request - Error in query syntax."
		}
		for _, o := range splitTopLevel(strings.TrimSuffix(opts, ")"), ';') {
			o = strings.TrimSpace(o)
			if o == "" {
				continue
			}
			k, val, _ := strings.Cut(o, "=")
			if k != "$select" {
				return unsupported(fmt.Sprintf("The option '%s' in $expand=Attributes(...)", k))
			}
			sel, msg := parseSelect(val, attributeCommonSchema, attrMetadataType, nil)
			if msg != "" {
				return msg
			}
			q.attrSel = sel
		}
	}
	return ""
}

func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// filterExpr is a disjunction of conjunctions of "Name eq literal".
type filterExpr [][]filterTerm

type filterTerm struct {
	name  string
	value string // string literal, or "true"/"false"
}

func (f filterExpr) match(o rawObject) bool {
	if len(f) == 0 {
		return true
	}
	for _, and := range f {
		ok := true
		for _, t := range and {
			raw, _ := o.get(t.name)
			var got string
			if jsonKind(raw) == "string" {
				_ = json.Unmarshal(raw, &got)
			} else {
				got = string(raw)
			}
			if got != t.value {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// parseFilter supports Name eq 'x' / Name eq true|false terms joined by and /
// or (and binds tighter); fields maps the supported names to whether they
// are boolean.
func parseFilter(v string, fields map[string]bool, schema []propSpec, typeName string) (filterExpr, string) {
	toks, ok := tokenizeFilter(v)
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	bad := unsupported(fmt.Sprintf("The $filter '%s' (only %s eq <literal>, joined by and/or, are supported)", v, strings.Join(names, " / ")))
	if !ok || len(toks) == 0 {
		return nil, bad
	}
	var expr filterExpr
	var cur []filterTerm
	for i := 0; ; {
		if i+3 > len(toks) {
			return nil, bad
		}
		name, op, lit := toks[i], toks[i+1], toks[i+2]
		isBool, supported := fields[name]
		if !supported {
			if _, known := findProp(schema, name); !known && !strings.HasPrefix(name, "'") && !strings.ContainsAny(name, "()/") {
				return nil, notAProperty(name, typeName)
			}
			return nil, bad
		}
		if op != "eq" {
			return nil, bad
		}
		switch {
		case isBool && (lit == "true" || lit == "false"):
			cur = append(cur, filterTerm{name, lit})
		case !isBool && len(lit) >= 2 && lit[0] == '\'':
			cur = append(cur, filterTerm{name, strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")})
		default:
			return nil, bad
		}
		i += 3
		if i == len(toks) {
			return append(expr, cur), ""
		}
		switch toks[i] {
		case "and":
		case "or":
			expr, cur = append(expr, cur), nil
		default:
			return nil, bad
		}
		i++
	}
}

func tokenizeFilter(s string) ([]string, bool) {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case ' ':
			i++
		case '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, false
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\'' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, true
}

// --- GET ---

func (s *Server) metadataContext(rest string) string {
	return s.environment + apiPrefix + "$metadata#" + rest
}

func selectClause(sel []string, expand bool, attrSel []string) string {
	items := slices.Clone(sel)
	if expand {
		items = append(items, "Attributes("+strings.Join(attrSel, ",")+")")
	}
	if len(items) == 0 {
		return ""
	}
	return "(" + strings.Join(items, ",") + ")"
}

// selected returns the selected members of props (null for a property the
// definition lacks), plus MetadataId, which the service always returns.
func selected(props rawObject, sel []string) rawObject {
	out := make(rawObject, 0, len(sel)+1)
	for _, name := range sel {
		v, ok := props.get(name)
		if !ok {
			v = json.RawMessage("null")
		}
		out = append(out, rawMember{name, v})
	}
	if !slices.Contains(sel, "MetadataId") {
		if v, ok := props.get("MetadataId"); ok {
			out = append(out, rawMember{"MetadataId", v})
		}
	}
	return out
}

// attributeItem renders a column: uncast items carry their @odata.type and
// only the AttributeMetadata properties; cast items carry all properties.
func attributeItem(a *attrDef, sel []string, cast bool) rawObject {
	var out rawObject
	if !cast {
		out = rawObject{{"@odata.type", mustRaw("#" + a.odataType)}}
	}
	if sel != nil {
		return append(out, selected(a.props, sel)...)
	}
	for _, m := range a.props {
		if cast {
			out = append(out, m)
		} else if _, common := findProp(attributeCommonSchema, m.name); common {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) entityItem(e *entityDef, q metaQuery) rawObject {
	var out rawObject
	if q.sel != nil {
		out = selected(e.props, q.sel)
	} else {
		out = e.props.clone()
	}
	if q.expandAttrs {
		items := make([]rawObject, 0, len(e.attrs))
		for _, a := range e.attrs {
			items = append(items, attributeItem(a, q.attrSel, false))
		}
		out = append(out, rawMember{"Attributes", mustRaw(items)})
	}
	return out
}

func (s *Server) entityNotFound(w http.ResponseWriter, k metaKey) {
	if k.byName {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find entity with name '%s'.", k.value))
		return
	}
	writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find entity with MetadataId '%s'.", k.value))
}

func (s *Server) attributeNotFound(w http.ResponseWriter, e *entityDef, k metaKey) {
	if k.byName {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find attribute with name '%s' on entity '%s'.", k.value, e.logicalName))
		return
	}
	writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find attribute with MetadataId '%s' on entity '%s'.", k.value, e.logicalName))
}

func (s *Server) getMetadata(w http.ResponseWriter, r *http.Request, req apiRequest, p metaPath) {
	q, msg := parseMetaQuery(r, p)
	if msg != "" {
		writeODataError(w, http.StatusBadRequest, codeNone, msg)
		return
	}
	// The answer is built under the lock and written after it: member values
	// are immutable, so the built object stays valid.
	s.mu.Lock()
	body, ok := s.buildMetadataResponse(w, req, p, q)
	s.mu.Unlock()
	if ok {
		writeOData(w, http.StatusOK, body)
	}
}

// buildMetadataResponse returns the GET answer, or writes the error and
// returns false. Caller holds s.mu.
func (s *Server) buildMetadataResponse(w http.ResponseWriter, req apiRequest, p metaPath, q metaQuery) (object, bool) {
	var e *entityDef
	if p.entity != nil {
		if e = s.meta.entityByKey(p.entity.byName, p.entity.value); e == nil {
			s.entityNotFound(w, *p.entity)
			return nil, false
		}
	}
	var a *attrDef
	if p.attr != nil {
		if p.attr.byName {
			a = e.attrByName[p.attr.value]
		} else {
			a = e.attrByID(p.attr.value)
		}
		if a == nil {
			s.attributeNotFound(w, e, *p.attr)
			return nil, false
		}
		if p.cast != "" && p.cast != a.odataType {
			writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf(
				"The attribute '%s' of entity '%s' is of type '%s', not '%s'.", a.logicalName, e.logicalName, a.odataType, p.cast))
			return nil, false
		}
	}
	if !req.user.cfg.has(PrivReadEntity) {
		s.missingPrivilege(w, req.user, PrivReadEntity, entityTypeCode, entityTable)
		return nil, false
	}
	if (p.attributes || q.expandAttrs) && !req.user.cfg.has(PrivReadAttribute) {
		s.missingPrivilege(w, req.user, PrivReadAttribute, attributeTypeCode, attributeTable)
		return nil, false
	}

	switch {
	case p.entity == nil:
		items := []rawObject{}
		for _, name := range s.meta.names {
			ent := s.meta.entities[name]
			if q.filter.match(ent.props) {
				items = append(items, s.entityItem(ent, q))
			}
		}
		return object{
			{"@odata.context", s.metadataContext(entityDefinitionsSet + selectClause(q.sel, q.expandAttrs, q.attrSel))},
			{"value", items},
		}, true
	case !p.attributes:
		ctx := s.metadataContext(entityDefinitionsSet + selectClause(q.sel, q.expandAttrs, q.attrSel) + "/$entity")
		return append(object{{"@odata.context", ctx}}, rawMembers(s.entityItem(e, q))...), true
	case p.attr == nil:
		ctx := fmt.Sprintf("%s('%s')/Attributes", entityDefinitionsSet, e.metadataID)
		if p.cast != "" {
			ctx += "/" + p.cast
		}
		items := []rawObject{}
		for _, at := range e.attrs {
			if p.cast != "" && at.odataType != p.cast {
				continue
			}
			if q.filter.match(at.props) {
				items = append(items, attributeItem(at, q.sel, p.cast != ""))
			}
		}
		return object{
			{"@odata.context", s.metadataContext(ctx + selectClause(q.sel, false, nil))},
			{"value", items},
		}, true
	default:
		ctx := fmt.Sprintf("%s('%s')/Attributes", entityDefinitionsSet, e.metadataID)
		if p.cast != "" {
			ctx += "/" + p.cast
		}
		ctx += selectClause(q.sel, false, nil) + "/$entity"
		return append(object{{"@odata.context", s.metadataContext(ctx)}}, rawMembers(attributeItem(a, q.sel, p.cast != ""))...), true
	}
}

func rawMembers(o rawObject) object {
	out := make(object, len(o))
	for i, m := range o {
		out[i] = member{m.name, m.value}
	}
	return out
}

// --- PUT ---

func metadataPayloadError(inner string) string {
	return fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link %s  ----> InnerException : Microsoft.OData.ODataException: %s",
		entityDefinitionsSet, payloadErrorHelpLink, inner)
}

type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badPayload(inner string) *httpError {
	return &httpError{http.StatusBadRequest, codeBadPayload, metadataPayloadError(inner)}
}

// readMetadataBody reads and checks a full-definition PUT body. For a
// column (attribute true) the body must name its type in @odata.type. It
// returns the definition to store (annotations and navigation properties
// removed, in the order sent) and the OData type (no '#').
func readMetadataBody(w http.ResponseWriter, r *http.Request, attribute bool) (rawObject, string, *httpError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMetadataBody))
	if err != nil {
		return nil, "", &httpError{http.StatusRequestEntityTooLarge, codeBadPayload, metadataPayloadError("The request body is too large.")}
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil, "", badPayload("An empty request body is not valid for a PUT request.")
	}
	obj, err := parseRawObject(body)
	if err != nil {
		if errors.Is(err, errDuplicateProperty) {
			return nil, "", badPayload(fmt.Sprintf("Multiple properties with the name %s were detected in an entry; duplicate property names are not allowed.", strings.TrimPrefix(err.Error(), errDuplicateProperty.Error()+" ")))
		}
		return nil, "", badPayload("Invalid JSON. A JSON object was expected for the entity payload. " + err.Error())
	}
	schema, typeName := entitySchema, entityMetadataType
	odataType := ""
	if raw, ok := obj.get("@odata.type"); ok {
		var t string
		if json.Unmarshal(raw, &t) != nil {
			return nil, "", badPayload("The value of the 'odata.type' annotation must be a string.")
		}
		odataType = strings.TrimPrefix(t, "#")
	}
	if attribute {
		if odataType == "" {
			return nil, "", &httpError{http.StatusBadRequest, codeInvalidArgument,
				"The attribute definition has no '@odata.type' annotation: a column PUT must name the column's type, e.g. \"@odata.type\": \"Microsoft.Dynamics.CRM.StringAttributeMetadata\"."}
		}
		if _, known := attrTypeProps(odataType); !known {
			return nil, "", badPayload(fmt.Sprintf("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", odataType))
		}
		schema, typeName = attributeSchema(odataType), odataType
	} else if odataType != "" && odataType != entityMetadataType {
		return nil, "", badPayload(fmt.Sprintf("An entry with type '%s' was found, but it is not assignable to the expected type '%s'. The type specified in an entry must be equal to either the expected type or a derived type.", odataType, entityMetadataType))
	}
	out := make(rawObject, 0, len(obj))
	for _, m := range obj {
		switch {
		case m.name == "@odata.context":
			return nil, "", badPayload("The annotation 'odata.context' was found. This annotation is either not recognized or not expected at the current position.")
		case strings.HasPrefix(m.name, "@"), strings.Contains(m.name, "@"):
			continue // @odata.etag, @odata.type and other annotations are not stored
		case !attribute && slices.Contains(entityNavigationProperties, m.name):
			continue
		}
		p, ok := findProp(schema, m.name)
		if !ok {
			return nil, "", &httpError{http.StatusBadRequest, codeNone, notAProperty(m.name, typeName)}
		}
		if msg := checkProp(p, m.value); msg != "" {
			return nil, "", badPayload(msg)
		}
		out = append(out, m)
	}
	return out, odataType, nil
}

// identityError checks that the body describes the stored object.
func identityError(sent, stored rawObject, what string) *httpError {
	for _, name := range []string{"LogicalName", "SchemaName", "MetadataId", "EntityLogicalName"} {
		want, has := stored.get(name)
		if !has {
			continue
		}
		got, ok := sent.get(name)
		if !ok {
			if name == "EntityLogicalName" {
				continue
			}
			return &httpError{http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("The %s definition must include %s; a PUT replaces the whole definition.", what, name)}
		}
		var g, w string
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(want, &w)
		if name == "MetadataId" {
			g, w = strings.ToLower(g), strings.ToLower(w)
		}
		if g != w {
			return &httpError{http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("The %s %s '%s' in the request body does not match '%s' of the %s addressed by the URL; %s cannot be changed.", what, name, g, w, what, name)}
		}
	}
	return nil
}

// applyLabels replaces (or, with merge, merges) every Label-shaped member.
func applyLabels(sent, stored rawObject, merge bool) (rawObject, *httpError) {
	out := sent.clone()
	for i, m := range out {
		if !isLabel(m.value) {
			continue
		}
		old, _ := stored.get(m.name)
		v, err := rebuildLabel(m.value, old, merge)
		if err != nil {
			return nil, badPayload(err.Error())
		}
		out[i].value = v
	}
	return out, nil
}

// managedPropertyError refuses changes to managed properties that the stored
// definition does not allow: a new Value where CanBeChanged is false (for
// IsAuditEnabled, leaving it out counts as false), and, on a managed
// component, a different CanBeChanged.
func managedPropertyError(sent, stored rawObject, isManaged bool, what string) *httpError {
	for _, m := range stored {
		old := readManaged(stored, m.name)
		if !old.present || old.logicalName == "" {
			continue
		}
		cur := readManaged(sent, m.name)
		if !cur.present {
			if m.name == "IsAuditEnabled" && !old.canBeChanged && old.boolValue() {
				return lockedError(m.name, old.logicalName, what)
			}
			continue
		}
		if !old.canBeChanged && string(cur.value) != string(old.value) {
			return lockedError(m.name, old.logicalName, what)
		}
		if isManaged && cur.canBeChanged != old.canBeChanged {
			return &httpError{http.StatusBadRequest, codeMetadataLocked, fmt.Sprintf(
				"The CanBeChanged setting of managed property '%s' (%s) of %s cannot be changed because the component is managed.", old.logicalName, m.name, what)}
		}
	}
	return nil
}

func lockedError(prop, logicalName, what string) *httpError {
	return &httpError{http.StatusBadRequest, codeMetadataLocked, fmt.Sprintf(
		"The managed property '%s' does not allow %s of %s to be changed in this environment (CanBeChanged is false).", logicalName, prop, what)}
}

func (s *Server) putEntity(w http.ResponseWriter, r *http.Request, req apiRequest, p metaPath) {
	sent, _, herr := readMetadataBody(w, r, false)
	if herr != nil {
		writeODataError(w, herr.status, herr.code, herr.msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.meta.entityByKey(p.entity.byName, p.entity.value)
	if e == nil {
		s.entityNotFound(w, *p.entity)
		return
	}
	if !req.user.cfg.has(PrivWriteEntity) {
		s.missingPrivilege(w, req.user, PrivWriteEntity, entityTypeCode, entityTable)
		return
	}
	solution, herr := s.checkSolution(r)
	if herr == nil {
		herr = identityError(sent, e.props, "entity")
	}
	var next rawObject
	if herr == nil {
		next, herr = applyLabels(sent, e.props, mergeLabels(r))
	}
	if herr == nil {
		herr = managedPropertyError(next, e.props, readBool(e.props, "IsManaged"), "entity '"+e.logicalName+"'")
	}
	if herr != nil {
		writeODataError(w, herr.status, herr.code, herr.msg)
		return
	}
	tx := s.beginAudit(req.user, s.now())
	s.writeEntityAuditRows(tx, e, e.props, next)
	e.props = next
	e.revision++
	s.meta.addComponent(solution, "entity:"+e.logicalName)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) putAttribute(w http.ResponseWriter, r *http.Request, req apiRequest, p metaPath) {
	sent, odataType, herr := readMetadataBody(w, r, true)
	if herr != nil {
		writeODataError(w, herr.status, herr.code, herr.msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.meta.entityByKey(p.entity.byName, p.entity.value)
	if e == nil {
		s.entityNotFound(w, *p.entity)
		return
	}
	var a *attrDef
	if p.attr.byName {
		a = e.attrByName[p.attr.value]
	} else {
		a = e.attrByID(p.attr.value)
	}
	if a == nil {
		s.attributeNotFound(w, e, *p.attr)
		return
	}
	if !req.user.cfg.has(PrivWriteAttribute) {
		s.missingPrivilege(w, req.user, PrivWriteAttribute, attributeTypeCode, attributeTable)
		return
	}
	solution, herr := s.checkSolution(r)
	if herr == nil && odataType != a.odataType {
		herr = &httpError{http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf(
			"Cannot change attribute type: attribute '%s' of entity '%s' is of type '%s', the request body has '%s'.", a.logicalName, e.logicalName, a.odataType, odataType)}
	}
	if herr == nil {
		if got, ok := sent.get("AttributeType"); ok {
			if want, _ := a.props.get("AttributeType"); string(got) != string(want) {
				herr = &httpError{http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf(
					"Cannot change attribute type: attribute '%s' of entity '%s' has AttributeType %s, the request body has %s.", a.logicalName, e.logicalName, want, got)}
			}
		}
	}
	if herr == nil {
		herr = identityError(sent, a.props, "attribute")
	}
	var next rawObject
	if herr == nil {
		next, herr = applyLabels(sent, a.props, mergeLabels(r))
	}
	if herr == nil {
		herr = managedPropertyError(next, a.props, readBool(a.props, "IsManaged"), "attribute '"+e.logicalName+"."+a.logicalName+"'")
	}
	if herr != nil {
		writeODataError(w, herr.status, herr.code, herr.msg)
		return
	}
	tx := s.beginAudit(req.user, s.now())
	s.writeAttributeAuditRows(tx, e, a, a.props, next)
	a.props = next
	e.revision++
	s.meta.addComponent(solution, "attribute:"+e.logicalName+"."+a.logicalName)
	w.WriteHeader(http.StatusNoContent)
}

func mergeLabels(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(headerMergeLabels)), "true")
}

// checkSolution validates MSCRM.SolutionUniqueName. Caller holds s.mu.
func (s *Server) checkSolution(r *http.Request) (string, *httpError) {
	name, err := s.meta.solutionHeader(r.Header.Get(headerSolution))
	if err != nil {
		return "", &httpError{http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("solution With UniqueName = %s Does Not Exist", strings.TrimSpace(r.Header.Get(headerSolution)))}
	}
	return name, nil
}
