package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Metadata PUT: reading and validating a full table or column definition and storing it.

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

func (e *httpError) write(w http.ResponseWriter) { writeODataError(w, e.status, e.code, e.msg) }

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
		case strings.HasPrefix(m.name, "@"), strings.Contains(m.name, "@"):
			// @odata.context (Microsoft's "update a table definition"
			// example sends the GET's), @odata.etag, @odata.type and
			// other annotations are accepted and not stored.
			continue
		case !attribute && slices.Contains(entityNavigationProperties, m.name):
			continue
		case attribute && hasOptionSet(odataType) && slices.Contains(attributeNavigationProperties, m.name):
			// A choice column's options change through their own actions
			// (InsertOptionValue, UpdateOptionValue, …), never by a PUT
			// of the column: the stored options stay.
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
// definition does not allow. Managed properties constrain managed components
// only ("Use managed properties"): on a managed component a new Value where
// CanBeChanged is false (for IsAuditEnabled, leaving it out counts as false)
// and a different CanBeChanged are refused; an unmanaged component, in the
// environment where it is unmanaged, can be changed.
func managedPropertyError(sent, stored rawObject, isManaged bool, what string) *httpError {
	if !isManaged {
		return nil
	}
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

// putTarget is what a metadata PUT sent and the definitions it replaces.
type putTarget struct {
	sent      rawObject
	odataType string // the body's "@odata.type", for a column
	e         *entityDef
	a         *attrDef // nil for a table PUT
}

// beginPut reads a PUT's body, takes md.mu and finds the table and, for a
// column PUT, the column. When it has answered the request itself (a bad
// body, an unknown table or column) it returns false with the lock
// released; otherwise the caller holds md.mu.
func (md *metadataPart) beginPut(w http.ResponseWriter, r *http.Request, p metaPath) (putTarget, bool) {
	var t putTarget
	var herr *httpError
	if t.sent, t.odataType, herr = readMetadataBody(w, r, p.attr != nil); herr == nil {
		// A running import (or other solution operation) refuses metadata
		// writes; asked before md.mu (the publishing part comes first in the
		// lock order).
		herr = md.customizationLockError()
	}
	if herr != nil {
		herr.write(w)
		return t, false
	}
	md.mu.Lock()
	if t.e = md.store.findEntity(w, *p.entity); t.e == nil {
		md.mu.Unlock()
		return t, false
	}
	if p.attr != nil {
		if t.a = findAttribute(w, t.e, *p.attr); t.a == nil {
			md.mu.Unlock()
			return t, false
		}
	}
	return t, true
}

func (md *metadataPart) putEntity(w http.ResponseWriter, r *http.Request, req apiRequest, p metaPath) {
	t, ok := md.beginPut(w, r, p)
	if !ok {
		return
	}
	defer md.mu.Unlock()
	sent, e := t.sent, t.e
	if !req.user.cfg.has(PrivWriteEntity) {
		missingPrivilege(w, req.user, PrivWriteEntity, entityTypeCode, entityTable)
		return
	}
	solution, herr := md.checkSolution(r)
	var next rawObject
	if herr == nil {
		next, herr = editedDefinition(r, sent, e.props, "entity", "entity '"+e.logicalName+"'")
	}
	if herr != nil {
		herr.write(w)
		return
	}
	tx := md.beginAudit(req.user, md.now())
	writeEntityAuditRows(tx, e, e.props, next)
	md.rememberBeforeWrite(e)
	e.props = next
	e.revision++
	md.store.addComponent(solution, "entity:"+e.logicalName)
	w.WriteHeader(http.StatusNoContent)
}

func (md *metadataPart) putAttribute(w http.ResponseWriter, r *http.Request, req apiRequest, p metaPath) {
	t, ok := md.beginPut(w, r, p)
	if !ok {
		return
	}
	defer md.mu.Unlock()
	sent, odataType, e, a := t.sent, t.odataType, t.e, t.a
	if !req.user.cfg.has(PrivWriteAttribute) {
		missingPrivilege(w, req.user, PrivWriteAttribute, attributeTypeCode, attributeTable)
		return
	}
	solution, herr := md.checkSolution(r)
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
	var next rawObject
	if herr == nil {
		next, herr = editedDefinition(r, sent, a.props, "attribute", "attribute '"+e.logicalName+"."+a.logicalName+"'")
	}
	if herr != nil {
		herr.write(w)
		return
	}
	tx := md.beginAudit(req.user, md.now())
	writeAttributeAuditRows(tx, e, a, a.props, next)
	md.rememberBeforeWrite(e)
	a.props = next
	e.revision++
	md.store.addComponent(solution, "attribute:"+e.logicalName+"."+a.logicalName)
	w.WriteHeader(http.StatusNoContent)
}

// editedDefinition is the definition a PUT of sent over stored leaves (the
// labels merged as MSCRM.MergeLabels asks), or the refusal of a changed
// identity (kind: "entity" or "attribute") or of a managed property that
// cannot be changed on what.
func editedDefinition(r *http.Request, sent, stored rawObject, kind, what string) (rawObject, *httpError) {
	if herr := identityError(sent, stored, kind); herr != nil {
		return nil, herr
	}
	next, herr := applyLabels(sent, stored, mergeLabels(r))
	if herr != nil {
		return nil, herr
	}
	if herr := managedPropertyError(next, stored, readBool(stored, "IsManaged"), what); herr != nil {
		return nil, herr
	}
	return next, nil
}

func mergeLabels(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(headerMergeLabels)), "true")
}

// checkSolution validates MSCRM.SolutionUniqueName. Caller holds md.mu.
func (md *metadataPart) checkSolution(r *http.Request) (string, *httpError) {
	name, err := md.store.solutionHeader(r.Header.Get(headerSolution))
	if err != nil {
		return "", &httpError{http.StatusNotFound, codeRecordNotFound, fmt.Sprintf("solution With UniqueName = %s Does Not Exist", strings.TrimSpace(r.Header.Get(headerSolution)))}
	}
	return name, nil
}
