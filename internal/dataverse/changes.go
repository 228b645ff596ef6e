package dataverse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The Web API exposes no change-data column on audits: old and new values
// come from the RetrieveAuditDetails message, as AttributeAuditDetail objects
// whose OldValue and NewValue are partial entity objects. (Through the Web
// API, RetrieveRecordChangeHistory returns details without AuditRecord, so
// they cannot be matched to audit rows; it is not used.)

// AuditChange is one changed column of an audit row, with values rendered by
// RenderAuditValue; a nil value was absent (or null).
type AuditChange struct {
	Attribute string
	OldValue  *string
	NewValue  *string
}

const attributeAuditDetailType = "Microsoft.Dynamics.CRM.AttributeAuditDetail"

// RenderAuditValue renders a raw JSON value as text: a number as its exact
// JSON text (88800, 1 for a choice, 12.50), true/false, a string as is (dates
// such as "1999-08-24T00:00:00Z" unchanged), null as nil. An object or array
// is kept as compact JSON.
func RenderAuditValue(raw json.RawMessage) (*string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty JSON value")
	}
	var s string
	switch raw[0] {
	case 'n':
		if string(raw) != "null" {
			return nil, fmt.Errorf("invalid JSON value %.40q", raw)
		}
		return nil, nil
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, err
		}
		s = b.String()
	default:
		// A number or a boolean: its text is the rendering, once checked.
		if !json.Valid(raw) {
			return nil, fmt.Errorf("invalid JSON value %.40q", raw)
		}
		s = string(raw)
	}
	return &s, nil
}

// auditAttributeName maps a key of an OldValue/NewValue object to a column
// name: lookups arrive as "_x_value" and are reported as "x"; annotations
// ("@odata.type", "x@OData.Community…") give "".
func auditAttributeName(key string) string {
	if strings.Contains(key, "@") {
		return ""
	}
	if len(key) > len("__value") && strings.HasPrefix(key, "_") && strings.HasSuffix(key, "_value") {
		return key[1 : len(key)-len("_value")]
	}
	return key
}

// auditDetailWire is the part of an audit detail that carries values.
type auditDetailWire struct {
	ODataType string          `json:"@odata.type"`
	OldValue  json.RawMessage `json:"OldValue"`
	NewValue  json.RawMessage `json:"NewValue"`
}

// ChangesFromDetail returns the changed columns of one AuditDetail object,
// sorted by attribute: the union of the OldValue and NewValue keys. Other
// detail types (relationship, role privilege, share, user access) and a null
// detail have no changes. A detail without @odata.type is read as an
// attribute detail when it has OldValue or NewValue.
func ChangesFromDetail(detail json.RawMessage) ([]AuditChange, error) {
	detail = bytes.TrimSpace(detail)
	if len(detail) == 0 || string(detail) == "null" {
		return nil, nil
	}
	var w auditDetailWire
	if err := json.Unmarshal(detail, &w); err != nil {
		return nil, fmt.Errorf("dataverse: audit detail: %w", err)
	}
	if t := strings.TrimPrefix(w.ODataType, "#"); t != "" && t != attributeAuditDetailType {
		return nil, nil
	}
	changes := map[string]*AuditChange{}
	for _, side := range []struct {
		name string
		raw  json.RawMessage
		new  bool
	}{{"OldValue", w.OldValue, false}, {"NewValue", w.NewValue, true}} {
		raw := bytes.TrimSpace(side.raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var values map[string]json.RawMessage
		if err := json.Unmarshal(raw, &values); err != nil {
			return nil, fmt.Errorf("dataverse: audit detail %s: %w", side.name, err)
		}
		for key, v := range values {
			attr := auditAttributeName(key)
			if attr == "" {
				continue
			}
			rendered, err := RenderAuditValue(v)
			if err != nil {
				return nil, fmt.Errorf("dataverse: audit detail %s.%s: %w", side.name, key, err)
			}
			ch := changes[attr]
			if ch == nil {
				ch = &AuditChange{Attribute: attr}
				changes[attr] = ch
			}
			if side.new {
				ch.NewValue = rendered
			} else {
				ch.OldValue = rendered
			}
		}
	}
	out := make([]AuditChange, 0, len(changes))
	for _, ch := range changes {
		out = append(out, *ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attribute < out[j].Attribute })
	return out, nil
}
