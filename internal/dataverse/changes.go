package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// The Web API exposes no change-data column on audits: old and new values
// come from the RetrieveAuditDetails and RetrieveRecordChangeHistory
// messages, as AttributeAuditDetail objects whose OldValue and NewValue are
// partial entity objects.

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

// recordChangeHistoryPageSize is the Count of each RetrieveRecordChangeHistory page.
const recordChangeHistoryPageSize = 5000

var entitySetNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// EntitySetName returns the Web API entity set name of a table (accounts for
// account), read from its metadata. An unknown table is an *Error for which
// IsNotFound is true.
func (c *Client) EntitySetName(ctx context.Context, logicalName string) (string, error) {
	path, err := entityPath(logicalName)
	if err != nil {
		return "", err
	}
	var out struct {
		EntitySetName string `json:"EntitySetName"`
	}
	if err := c.getJSON(ctx, path, url.Values{"$select": {"EntitySetName"}}, &out); err != nil {
		return "", err
	}
	if out.EntitySetName == "" {
		return "", fmt.Errorf("dataverse: table %s has no entity set name (it cannot be reached through the Web API)", logicalName)
	}
	return out.EntitySetName, nil
}

// pagingInfo is the PagingInfo parameter of RetrieveRecordChangeHistory.
type pagingInfo struct {
	PageNumber             int    `json:"PageNumber"`
	Count                  int    `json:"Count"`
	ReturnTotalRecordCount bool   `json:"ReturnTotalRecordCount"`
	PagingCookie           string `json:"PagingCookie,omitempty"`
}

// RetrieveRecordChangeHistory returns the changes of every audit row of one
// record, keyed by auditid, through the RetrieveRecordChangeHistory function
// (pages of 5000 details, following MoreRecords; the server's PagingCookie is
// passed back when it sends one). entitySetName is e.g. "accounts" (see
// EntitySetName). Rows that are not column changes (shares, associations)
// have a key with no changes. Needs the prvReadRecordAuditHistory privilege.
func (c *Client) RetrieveRecordChangeHistory(ctx context.Context, entitySetName, recordID string) (map[string][]AuditChange, error) {
	if !entitySetNameRE.MatchString(entitySetName) {
		return nil, fmt.Errorf("dataverse: %q is not an entity set name (expected e.g. accounts)", entitySetName)
	}
	if !IsGUID(recordID) {
		return nil, fmt.Errorf("dataverse: record id %q is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", recordID)
	}
	target := "{'@odata.id':'" + entitySetName + "(" + strings.ToLower(recordID) + ")'}"
	out := map[string][]AuditChange{}
	paging := pagingInfo{PageNumber: 1, Count: recordChangeHistoryPageSize}
	for {
		p, err := json.Marshal(paging)
		if err != nil {
			return nil, err
		}
		var page struct {
			AuditDetailCollection struct {
				MoreRecords  bool              `json:"MoreRecords"`
				PagingCookie string            `json:"PagingCookie"`
				AuditDetails []json.RawMessage `json:"AuditDetails"`
			} `json:"AuditDetailCollection"`
		}
		const path = "RetrieveRecordChangeHistory(Target=@target,PagingInfo=@p)"
		if err := c.getJSON(ctx, path, url.Values{"@target": {target}, "@p": {string(p)}}, &page); err != nil {
			return nil, err
		}
		coll := &page.AuditDetailCollection
		for i, d := range coll.AuditDetails {
			var ref struct {
				AuditRecord struct {
					AuditID string `json:"auditid"`
				} `json:"AuditRecord"`
			}
			if err := json.Unmarshal(d, &ref); err != nil || ref.AuditRecord.AuditID == "" {
				return nil, fmt.Errorf("dataverse: GET %s: page %d, detail %d has no AuditRecord.auditid", path, paging.PageNumber, i+1)
			}
			changes, err := ChangesFromDetail(d)
			if err != nil {
				return nil, fmt.Errorf("dataverse: GET %s: audit %s: %w", path, ref.AuditRecord.AuditID, err)
			}
			out[ref.AuditRecord.AuditID] = changes
		}
		if !coll.MoreRecords {
			return out, nil
		}
		if len(coll.AuditDetails) == 0 {
			return nil, fmt.Errorf("dataverse: GET %s: page %d is empty but says more records follow", path, paging.PageNumber)
		}
		paging.PageNumber++
		paging.PagingCookie = coll.PagingCookie
	}
}
