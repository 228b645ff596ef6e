package emulator

import (
	"encoding/json"
	"fmt"
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

func (md *metadataPart) serveEntityDefinitions(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if r.Method == http.MethodPatch {
		// Decided before the URL is resolved, as the service's router does.
		writeODataError(w, http.StatusMethodNotAllowed, codeQuerySyntax,
			"PATCH is not supported for metadata entities: metadata supports only full updates with PUT. Retrieve the full definition, change it and PUT it back.")
		return
	}
	p, ok := md.parseMetaPath(w, req)
	if !ok {
		return
	}
	switch r.Method {
	case http.MethodGet:
		md.getMetadata(w, r, req, p)
	case http.MethodPut:
		switch {
		case p.entity != nil && !p.attributes && p.cast == "":
			md.putEntity(w, r, req, p)
		case p.attr != nil && p.cast == "":
			md.putAttribute(w, r, req, p)
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

func (md *metadataPart) parseMetaPath(w http.ResponseWriter, req apiRequest) (metaPath, bool) {
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

// --- GET ---

func (md *metadataPart) metadataContext(rest string) string {
	return md.environment + apiPrefix + "$metadata#" + rest
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
func attributeItem(a *attrDef, props rawObject, sel []string, cast bool) rawObject {
	var out rawObject
	if !cast {
		out = rawObject{{"@odata.type", mustRaw("#" + a.odataType)}}
	}
	if sel != nil {
		return append(out, selected(props, sel)...)
	}
	for _, m := range props {
		if cast {
			out = append(out, m)
		} else if _, common := findProp(attributeCommonSchema, m.name); common {
			out = append(out, m)
		}
	}
	return out
}

func (md *metadataPart) entityItem(e *entityDef, v definitionView, q metaQuery) rawObject {
	var out rawObject
	if q.sel != nil {
		out = selected(v.entityProps(e), q.sel)
	} else {
		out = v.entityProps(e).clone()
	}
	if q.expandAttrs {
		items := make([]rawObject, 0, len(e.attrs))
		for i, a := range e.attrs {
			items = append(items, attributeItem(a, v.attrProps(e, i), q.attrSel, false))
		}
		out = append(out, rawMember{"Attributes", rawList(items)})
	}
	return out
}

func entityNotFound(w http.ResponseWriter, k metaKey) {
	if k.byName {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find entity with name '%s'.", k.value))
		return
	}
	writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find entity with MetadataId '%s'.", k.value))
}

// findEntity finds the table a key names, or writes the 404 and returns
// nil. Caller holds metadataPart.mu.
func (m *metaStore) findEntity(w http.ResponseWriter, k metaKey) *entityDef {
	e := m.entityByKey(k.byName, k.value)
	if e == nil {
		entityNotFound(w, k)
	}
	return e
}

// findAttribute finds the column of e a key names, or writes the 404 and
// returns nil. Caller holds metadataPart.mu.
func findAttribute(w http.ResponseWriter, e *entityDef, k metaKey) *attrDef {
	var a *attrDef
	if k.byName {
		a = e.attrByName[k.value]
	} else {
		a = e.attrByID(k.value)
	}
	if a == nil {
		attributeNotFound(w, e, k)
	}
	return a
}

func attributeNotFound(w http.ResponseWriter, e *entityDef, k metaKey) {
	if k.byName {
		writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find attribute with name '%s' on entity '%s'.", k.value, e.logicalName))
		return
	}
	writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("Could not find attribute with MetadataId '%s' on entity '%s'.", k.value, e.logicalName))
}

func (md *metadataPart) getMetadata(w http.ResponseWriter, r *http.Request, req apiRequest, p metaPath) {
	q, msg := parseMetaQuery(r, p)
	if msg != "" {
		writeODataError(w, http.StatusBadRequest, codeNone, msg)
		return
	}
	q.strong = strongConsistency(r)
	// The answer is built under the lock and written after it: member values
	// are immutable, so the built object stays valid.
	md.mu.Lock()
	body, returned, ok := md.buildMetadataResponse(w, req, p, q)
	md.mu.Unlock()
	if ok {
		md.chargeRead(r, returned)
		writeOData(w, http.StatusOK, body)
	}
}

// buildMetadataResponse returns the GET answer and the definitions it
// holds, or writes the error and returns false. Caller holds md.mu.
func (md *metadataPart) buildMetadataResponse(w http.ResponseWriter, req apiRequest, p metaPath, q metaQuery) (object, definitionCount, bool) {
	var n definitionCount
	var e *entityDef
	if p.entity != nil {
		if e = md.store.findEntity(w, *p.entity); e == nil {
			return nil, n, false
		}
		e = md.servedDefinition(e, q)
	}
	var a *attrDef
	if p.attr != nil {
		if a = findAttribute(w, e, *p.attr); a == nil {
			return nil, n, false
		}
		if p.cast != "" && p.cast != a.odataType {
			writeODataError(w, http.StatusNotFound, codeRecordNotFound, fmt.Sprintf(
				"The attribute '%s' of entity '%s' is of type '%s', not '%s'.", a.logicalName, e.logicalName, a.odataType, p.cast))
			return nil, n, false
		}
	}
	if !req.user.cfg.has(PrivReadEntity) {
		missingPrivilege(w, req.user, PrivReadEntity, entityTypeCode, entityTable)
		return nil, n, false
	}
	if (p.attributes || q.expandAttrs) && !req.user.cfg.has(PrivReadAttribute) {
		missingPrivilege(w, req.user, PrivReadAttribute, attributeTypeCode, attributeTable)
		return nil, n, false
	}

	v := md.plainGetView()
	switch {
	case p.entity == nil:
		items := []rawObject{}
		for _, name := range md.store.names {
			ent := md.servedDefinition(md.store.entities[name], q)
			if matchFilter(q.filter, v.entityProps(ent)) {
				items = append(items, md.entityItem(ent, v, q))
				n.add(expandedColumns(ent, q))
			}
		}
		return object{
			{"@odata.context", md.metadataContext(entityDefinitionsSet + selectClause(q.sel, q.expandAttrs, q.attrSel))},
			{"value", items},
		}, n, true
	case !p.attributes:
		ctx := md.metadataContext(entityDefinitionsSet + selectClause(q.sel, q.expandAttrs, q.attrSel) + "/$entity")
		n.add(expandedColumns(e, q))
		return append(object{{"@odata.context", ctx}}, rawMembers(md.entityItem(e, v, q))...), n, true
	case p.attr == nil:
		ctx := fmt.Sprintf("%s('%s')/Attributes", entityDefinitionsSet, e.metadataID)
		if p.cast != "" {
			ctx += "/" + p.cast
		}
		items := []rawObject{}
		for i, at := range e.attrs {
			if p.cast != "" && at.odataType != p.cast {
				continue
			}
			if props := v.attrProps(e, i); matchFilter(q.filter, props) {
				items = append(items, attributeItem(at, props, q.sel, p.cast != ""))
			}
		}
		n.columns = len(items)
		return object{
			{"@odata.context", md.metadataContext(ctx + selectClause(q.sel, false, nil))},
			{"value", items},
		}, n, true
	default:
		ctx := fmt.Sprintf("%s('%s')/Attributes", entityDefinitionsSet, e.metadataID)
		if p.cast != "" {
			ctx += "/" + p.cast
		}
		ctx += selectClause(q.sel, false, nil) + "/$entity"
		n.columns = 1
		return append(object{{"@odata.context", md.metadataContext(ctx)}}, rawMembers(attributeItem(a, v.attrProps(e, e.attrIndex(a)), q.sel, p.cast != ""))...), n, true
	}
}

// expandedColumns is how many column definitions an entity item of q
// carries.
func expandedColumns(e *entityDef, q metaQuery) int {
	if q.expandAttrs {
		return len(e.attrs)
	}
	return 0
}

func rawMembers(o rawObject) object {
	out := make(object, len(o))
	for i, m := range o {
		out[i] = member{m.name, m.value}
	}
	return out
}
