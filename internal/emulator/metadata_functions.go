package emulator

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Saved and published definitions, and the metadata functions that choose
// between them:
//
//	GET RetrieveEntity(EntityFilters=…,LogicalName='x',MetadataId=…,RetrieveAsIfPublished=…)
//	GET RetrieveAllEntities(EntityFilters=…,RetrieveAsIfPublished=…)
//
// RetrieveAsIfPublished false answers with the published definitions, true
// with the saved ones ("as it would look if you called publish"). A plain
// GET of EntityDefinitions answers with the published ones unless
// Options.PlainMetadataGetServesSaved is set.

const (
	retrieveEntityFunction      = "RetrieveEntity"
	retrieveAllEntitiesFunction = "RetrieveAllEntities"
)

// definitionView chooses which definition of a table a read serves.
type definitionView int

const (
	// savedView serves the definitions as saved, unpublished changes
	// included.
	savedView definitionView = iota
	// publishedView serves the definitions as last published.
	publishedView
)

// entityProps returns the table's properties in this view.
func (v definitionView) entityProps(e *entityDef) rawObject {
	if v == publishedView && e.published.props != nil {
		return e.published.props
	}
	return e.props
}

// attrProps returns the properties of column i (index in e.attrs).
func (v definitionView) attrProps(e *entityDef, i int) rawObject {
	if v == publishedView && i < len(e.published.attrProps) && e.published.attrProps[i] != nil {
		return e.published.attrProps[i]
	}
	return e.attrs[i].props
}

// plainGetView is what a GET of EntityDefinitions serves.
func (md *metadataPart) plainGetView() definitionView {
	if md.plainGetServesSaved {
		return savedView
	}
	return publishedView
}

func (e *entityDef) attrIndex(a *attrDef) int {
	for i, x := range e.attrs {
		if x == a {
			return i
		}
	}
	return -1
}

// metadataFunctionCall is a parsed RetrieveEntity / RetrieveAllEntities call.
type metadataFunctionCall struct {
	withAttributes bool
	asIfPublished  bool
	key            *metaKey // RetrieveEntity only
}

// parseMetadataFunction reads the parameters of fn, resolving @aliases from
// the query string. It returns an error message for a 400.
func parseMetadataFunction(r *http.Request, req apiRequest, fn string) (metadataFunctionCall, string) {
	var call metadataFunctionCall
	allowed := map[string]bool{"EntityFilters": true, "RetrieveAsIfPublished": true}
	if fn == retrieveEntityFunction {
		allowed["LogicalName"], allowed["MetadataId"] = true, true
	}
	params := map[string]string{}
	if req.hasKey {
		for _, p := range splitParams(req.key) {
			name, value, ok := strings.Cut(p, "=")
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			if !ok {
				return call, fmt.Sprintf("Syntax error in the parameters of '%s': '%s'.", fn, p)
			}
			if !allowed[name] {
				return call, fmt.Sprintf("The parameter '%s' is not a parameter of the function '%s'.", name, fn)
			}
			if strings.HasPrefix(value, "@") {
				alias, present := r.URL.Query()[value]
				if !present {
					return call, fmt.Sprintf("The parameter alias '%s' of parameter '%s' has no value in the query string.", value, name)
				}
				value = alias[0]
			}
			params[name] = value
		}
	}
	// EntityFilters and RetrieveAsIfPublished are not nullable.
	for _, name := range []string{"EntityFilters", "RetrieveAsIfPublished"} {
		if _, ok := params[name]; !ok {
			return call, fmt.Sprintf("The parameter '%s' of the function '%s' is required.", name, fn)
		}
	}
	filters := params["EntityFilters"]
	if rest, ok := strings.CutPrefix(filters, "Microsoft.Dynamics.CRM.EntityFilters"); ok {
		filters = rest
	}
	filters = strings.Trim(filters, "'")
	for _, f := range strings.Split(filters, ",") {
		switch strings.TrimSpace(f) {
		case "Attributes", "All":
			call.withAttributes = true
		case "Entity", "Default", "Privileges", "Relationships":
		default:
			return call, fmt.Sprintf("The value '%s' of parameter 'EntityFilters' is not a valid Microsoft.Dynamics.CRM.EntityFilters.", params["EntityFilters"])
		}
	}
	switch params["RetrieveAsIfPublished"] {
	case "true":
		call.asIfPublished = true
	case "false":
	default:
		return call, fmt.Sprintf("The value '%s' of parameter 'RetrieveAsIfPublished' is not a valid Edm.Boolean.", params["RetrieveAsIfPublished"])
	}
	if fn != retrieveEntityFunction {
		return call, ""
	}
	id, hasID := params["MetadataId"]
	if !hasID {
		return call, fmt.Sprintf("The parameter 'MetadataId' of the function '%s' is required.", fn)
	}
	parsed, err := uuid.Parse(id)
	if err != nil {
		return call, fmt.Sprintf("The value '%s' of parameter 'MetadataId' is not a valid Edm.Guid.", id)
	}
	if name, ok := params["LogicalName"]; ok && name != "null" && parsed == uuid.Nil {
		k, ok := parseMetaKey("LogicalName=" + name)
		if !ok {
			return call, fmt.Sprintf("The value %s of parameter 'LogicalName' is not a valid Edm.String.", name)
		}
		call.key = &k
	} else {
		call.key = &metaKey{value: parsed.String()}
	}
	return call, ""
}

// serveMetadataFunction answers RetrieveEntity and RetrieveAllEntities with
// every property of the table (ComplexEntityMetadata) and, with
// EntityFilters Attributes, of its columns (each item typed
// #Microsoft.Dynamics.CRM.Complex<Type>AttributeMetadata).
func (md *metadataPart) serveMetadataFunction(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if !functionGetOnly(w, r, req) {
		return
	}
	call, msg := parseMetadataFunction(r, req, req.name)
	if msg != "" {
		writeODataError(w, http.StatusBadRequest, codeNone, msg)
		return
	}
	if !req.user.cfg.has(PrivReadEntity) {
		missingPrivilege(w, req.user, PrivReadEntity, entityTypeCode, entityTable)
		return
	}
	if call.withAttributes && !req.user.cfg.has(PrivReadAttribute) {
		missingPrivilege(w, req.user, PrivReadAttribute, attributeTypeCode, attributeTable)
		return
	}
	v := publishedView
	if call.asIfPublished {
		v = savedView
	}
	// Dataverse's metadata cache serves these functions too: without
	// Consistency: Strong a table written in the last window reads as before.
	cache := metaQuery{strong: strongConsistency(r)}
	var returned definitionCount
	count := func(e *entityDef) *entityDef {
		if call.withAttributes {
			returned.add(len(e.attrs))
		} else {
			returned.add(0)
		}
		return e
	}
	md.mu.Lock()
	var body object
	if req.name == retrieveEntityFunction {
		e := md.store.entityByKey(call.key.byName, call.key.value)
		if e == nil {
			md.mu.Unlock()
			entityNotFound(w, *call.key)
			return
		}
		body = object{
			{"@odata.context", md.metadataContext("Microsoft.Dynamics.CRM.RetrieveEntityResponse")},
			{"EntityMetadata", md.complexEntity(count(md.servedDefinition(e, cache)), v, call.withAttributes)},
		}
	} else {
		items := make([]complexDefinition, 0, len(md.store.names))
		for _, name := range md.store.names {
			items = append(items, md.complexEntity(count(md.servedDefinition(md.store.entities[name], cache)), v, call.withAttributes))
		}
		body = object{
			{"@odata.context", md.metadataContext("Microsoft.Dynamics.CRM.RetrieveAllEntitiesResponse")},
			{"Timestamp", md.now().Format("2006-01-02T15:04:05Z")},
			{"EntityMetadata", items},
		}
	}
	md.mu.Unlock()
	md.chargeRead(r, returned)
	writeOData(w, http.StatusOK, body)
}

// complexEntity captures a table as ComplexEntityMetadata, for writeOData
// to render. Caller holds md.mu; what it captures is immutable. Column
// items carry "@odata.type" unless Options.FunctionAttributeItemsUntyped.
func (md *metadataPart) complexEntity(e *entityDef, v definitionView, withAttributes bool) complexDefinition {
	out := complexDefinition{props: v.entityProps(e), withAttributes: withAttributes}
	if !withAttributes {
		return out
	}
	out.columns = make([]complexColumn, len(e.attrs))
	for i, a := range e.attrs {
		props := v.attrProps(e, i)
		if a.optionSet != nil {
			// ComplexEnumAttributeMetadata carries OptionSet inline.
			props = append(props[:len(props):len(props)], rawMember{"OptionSet", a.optionSet})
		}
		odataType := "#" + complexTypeName(a.odataType)
		if md.functionItemsUntyped {
			odataType = ""
		}
		out.columns[i] = complexColumn{odataType: odataType, props: props}
	}
	return out
}

// complexTypeName maps a metadata entity type to its complex type:
// Microsoft.Dynamics.CRM.StringAttributeMetadata ->
// Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata.
func complexTypeName(odataType string) string {
	ns, name, ok := strings.Cut(odataType, "CRM.")
	if !ok {
		return odataType
	}
	return ns + "CRM.Complex" + name
}
