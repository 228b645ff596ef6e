package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Table and column audit settings live in the metadata (EntityDefinitions and
// their Attributes). Reads select only the audit fields; writes GET the full
// definition and PUT it back whole (metadata cannot be PATCHed).

const (
	entityAuditSelect    = "LogicalName,MetadataId,DisplayName,IsCustomEntity,IsManaged,IsAuditEnabled,IsRetrieveAuditEnabled,IsRetrieveMultipleAuditEnabled"
	attributeAuditExpand = "Attributes($select=LogicalName,MetadataId,AttributeOf,IsAuditEnabled)"
)

// BooleanManagedProperty is a metadata flag that a managed solution can lock:
// when CanBeChanged is false, Value cannot be changed in this environment.
type BooleanManagedProperty struct {
	Value                      bool   `json:"Value"`
	CanBeChanged               bool   `json:"CanBeChanged"`
	ManagedPropertyLogicalName string `json:"ManagedPropertyLogicalName,omitempty"`
}

// EntityAuditInfo is the audit view of one table's metadata.
type EntityAuditInfo struct {
	LogicalName                    string
	MetadataID                     string
	DisplayName                    string // UserLocalizedLabel.Label of DisplayName, "" if none
	IsCustomEntity                 bool
	IsManaged                      bool
	IsAuditEnabled                 BooleanManagedProperty
	IsRetrieveAuditEnabled         bool
	IsRetrieveMultipleAuditEnabled bool
	// Attributes by column logical name; nil when columns were not read.
	Attributes map[string]*AttributeAuditInfo
}

// AttributeAuditInfo is the audit view of one column's metadata.
type AttributeAuditInfo struct {
	LogicalName string
	MetadataID  string
	// ODataType is the column's metadata type without '#', e.g.
	// "Microsoft.Dynamics.CRM.StringAttributeMetadata": needed for the cast GET
	// of its full definition.
	ODataType string
	// AttributeOf is set for virtual columns derived from another column
	// (e.g. a lookup's name); such columns cannot be audited.
	AttributeOf    string
	IsAuditEnabled BooleanManagedProperty
}

// Clone returns a deep copy of e.
func (e *EntityAuditInfo) Clone() *EntityAuditInfo {
	if e == nil {
		return nil
	}
	out := *e
	if e.Attributes != nil {
		out.Attributes = make(map[string]*AttributeAuditInfo, len(e.Attributes))
		for k, a := range e.Attributes {
			if a == nil {
				out.Attributes[k] = nil
				continue
			}
			ac := *a
			out.Attributes[k] = &ac
		}
	}
	return &out
}

// PutOptions are options of a metadata PUT.
type PutOptions struct {
	// SolutionUniqueName, when set, is sent as MSCRM.SolutionUniqueName so the
	// change is recorded in that unmanaged solution.
	SolutionUniqueName string
}

// Wire format of the audit reads.
type localizedLabelWire struct {
	Label string `json:"Label"`
}

type labelWire struct {
	UserLocalizedLabel *localizedLabelWire `json:"UserLocalizedLabel"`
}

type attributeAuditWire struct {
	ODataType      string                  `json:"@odata.type"`
	LogicalName    string                  `json:"LogicalName"`
	MetadataID     string                  `json:"MetadataId"`
	AttributeOf    *string                 `json:"AttributeOf"`
	IsAuditEnabled *BooleanManagedProperty `json:"IsAuditEnabled"`
}

type entityAuditWire struct {
	LogicalName                    string                  `json:"LogicalName"`
	MetadataID                     string                  `json:"MetadataId"`
	DisplayName                    *labelWire              `json:"DisplayName"`
	IsCustomEntity                 *bool                   `json:"IsCustomEntity"`
	IsManaged                      *bool                   `json:"IsManaged"`
	IsAuditEnabled                 *BooleanManagedProperty `json:"IsAuditEnabled"`
	IsRetrieveAuditEnabled         *bool                   `json:"IsRetrieveAuditEnabled"`
	IsRetrieveMultipleAuditEnabled *bool                   `json:"IsRetrieveMultipleAuditEnabled"`
	Attributes                     []attributeAuditWire    `json:"Attributes"`
	AttributesNextLink             string                  `json:"Attributes@odata.nextLink"`
}

func boolOf(p *bool) bool { return p != nil && *p }

func (w *entityAuditWire) info(withAttributes bool) *EntityAuditInfo {
	e := &EntityAuditInfo{
		LogicalName:                    w.LogicalName,
		MetadataID:                     w.MetadataID,
		IsCustomEntity:                 boolOf(w.IsCustomEntity),
		IsManaged:                      boolOf(w.IsManaged),
		IsRetrieveAuditEnabled:         boolOf(w.IsRetrieveAuditEnabled),
		IsRetrieveMultipleAuditEnabled: boolOf(w.IsRetrieveMultipleAuditEnabled),
	}
	if w.DisplayName != nil && w.DisplayName.UserLocalizedLabel != nil {
		e.DisplayName = w.DisplayName.UserLocalizedLabel.Label
	}
	if w.IsAuditEnabled != nil {
		e.IsAuditEnabled = *w.IsAuditEnabled
	}
	if withAttributes {
		e.Attributes = make(map[string]*AttributeAuditInfo, len(w.Attributes))
		addAttributes(e, w.Attributes)
	}
	return e
}

func addAttributes(e *EntityAuditInfo, attrs []attributeAuditWire) {
	for _, a := range attrs {
		ai := &AttributeAuditInfo{
			LogicalName: a.LogicalName,
			MetadataID:  a.MetadataID,
			ODataType:   strings.TrimPrefix(a.ODataType, "#"),
		}
		if a.AttributeOf != nil {
			ai.AttributeOf = *a.AttributeOf
		}
		if a.IsAuditEnabled != nil {
			ai.IsAuditEnabled = *a.IsAuditEnabled
		}
		e.Attributes[a.LogicalName] = ai
	}
}

var logicalNameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// ValidateLogicalName checks that name looks like a Dataverse table or column
// logical name (lower-case letters, digits and underscores).
func ValidateLogicalName(name string) error {
	if !logicalNameRE.MatchString(name) {
		return fmt.Errorf("dataverse: %q is not a valid logical name (expected lower-case letters, digits and underscores, e.g. account or new_amount)", name)
	}
	return nil
}

var odataTypeRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// normalizeODataType strips a leading '#' and checks the qualified type name.
func normalizeODataType(t string) (string, error) {
	t = strings.TrimPrefix(t, "#")
	if !odataTypeRE.MatchString(t) {
		return "", fmt.Errorf("dataverse: %q is not a metadata type name (expected e.g. Microsoft.Dynamics.CRM.StringAttributeMetadata)", t)
	}
	return t, nil
}

// keyLiteral is an OData string literal for an alternate key: quotes doubled.
func keyLiteral(s string) string {
	return "'" + url.PathEscape(strings.ReplaceAll(s, "'", "''")) + "'"
}

func entityPath(logicalName string) (string, error) {
	if err := ValidateLogicalName(logicalName); err != nil {
		return "", err
	}
	return "EntityDefinitions(LogicalName=" + keyLiteral(logicalName) + ")", nil
}

func attributePath(entity, attribute string) (string, error) {
	ep, err := entityPath(entity)
	if err != nil {
		return "", err
	}
	if err := ValidateLogicalName(attribute); err != nil {
		return "", err
	}
	return ep + "/Attributes(LogicalName=" + keyLiteral(attribute) + ")", nil
}

func entityAuditQuery(withAttributes bool) url.Values {
	q := url.Values{"$select": {entityAuditSelect}}
	if withAttributes {
		q.Set("$expand", attributeAuditExpand)
	}
	return q
}

// followAttributePages reads the remaining pages of an expanded Attributes
// collection, should the server page it.
func (c *Client) followAttributePages(ctx context.Context, e *EntityAuditInfo, next string) error {
	for next != "" {
		var page struct {
			Value    []attributeAuditWire `json:"value"`
			NextLink string               `json:"@odata.nextLink"`
		}
		if err := c.getJSON(ctx, next, nil, &page); err != nil {
			return err
		}
		addAttributes(e, page.Value)
		next = page.NextLink
	}
	return nil
}

// ListEntityAuditInfo reads the audit fields of every table, and with
// withAttributes those of every column too, following @odata.nextLink. The
// map is keyed by table logical name.
func (c *Client) ListEntityAuditInfo(ctx context.Context, withAttributes bool) (map[string]*EntityAuditInfo, error) {
	out := map[string]*EntityAuditInfo{}
	path, query := "EntityDefinitions", entityAuditQuery(withAttributes)
	for {
		var page struct {
			Value    []entityAuditWire `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := c.getJSON(ctx, path, query, &page); err != nil {
			return nil, err
		}
		for i := range page.Value {
			w := &page.Value[i]
			e := w.info(withAttributes)
			if withAttributes {
				if err := c.followAttributePages(ctx, e, w.AttributesNextLink); err != nil {
					return nil, err
				}
			}
			out[e.LogicalName] = e
		}
		if page.NextLink == "" {
			return out, nil
		}
		// The next link carries the whole query, $skiptoken included.
		path, query = page.NextLink, nil
	}
}

// GetEntityAuditInfo reads one table's audit fields (and its columns' with
// withAttributes). An unknown table is an *Error for which IsNotFound is true.
func (c *Client) GetEntityAuditInfo(ctx context.Context, logicalName string, withAttributes bool) (*EntityAuditInfo, error) {
	path, err := entityPath(logicalName)
	if err != nil {
		return nil, err
	}
	var w entityAuditWire
	if err := c.getJSON(ctx, path, entityAuditQuery(withAttributes), &w); err != nil {
		return nil, err
	}
	e := w.info(withAttributes)
	if withAttributes {
		if err := c.followAttributePages(ctx, e, w.AttributesNextLink); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// getDefinition GETs a full metadata definition, checked to be a JSON object.
func (c *Client) getDefinition(ctx context.Context, path string) (json.RawMessage, error) {
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return nil, err
	}
	if _, err := parseJSONObjectChecked(resp.Body); err != nil {
		return nil, fmt.Errorf("dataverse: GET %s: the answer is not a metadata definition: %w", path, err)
	}
	return json.RawMessage(resp.Body), nil
}

func parseJSONObjectChecked(b []byte) ([]jsonMember, error) {
	if !json.Valid(b) {
		return nil, fmt.Errorf("invalid JSON")
	}
	return parseJSONObject(b)
}

func (c *Client) putDefinition(ctx context.Context, path string, def json.RawMessage, odataType string, opts PutOptions) error {
	body, err := prepareDefinitionForPut(def, odataType)
	if err != nil {
		return fmt.Errorf("dataverse: PUT %s: %w", path, err)
	}
	h := http.Header{"MSCRM.MergeLabels": {"true"}}
	if opts.SolutionUniqueName != "" {
		h.Set("MSCRM.SolutionUniqueName", opts.SolutionUniqueName)
	}
	_, err = c.Do(ctx, &Request{Method: http.MethodPut, Path: path, Body: body, Header: h})
	return err
}

// GetEntityDefinition returns a table's full definition exactly as the server
// sent it (every property, numbers as written).
func (c *Client) GetEntityDefinition(ctx context.Context, logicalName string) (json.RawMessage, error) {
	path, err := entityPath(logicalName)
	if err != nil {
		return nil, err
	}
	return c.getDefinition(ctx, path)
}

// PutEntityDefinition replaces a table's definition with def (as read by
// GetEntityDefinition and edited with SetJSONValue), with
// MSCRM.MergeLabels: true so labels in other languages are kept. OData
// annotations of the GET (@odata.context, @odata.etag, …) are dropped;
// @odata.type is kept; everything else is sent byte for byte.
func (c *Client) PutEntityDefinition(ctx context.Context, logicalName string, def json.RawMessage, opts PutOptions) error {
	path, err := entityPath(logicalName)
	if err != nil {
		return err
	}
	return c.putDefinition(ctx, path, def, "", opts)
}

// GetAttributeDefinition returns a column's full definition, read with its
// type cast (…/Attributes(LogicalName='a')/<odataType>) as Microsoft's update
// sample does: without the cast only the common AttributeMetadata properties
// come back, and a PUT of those would reset the others.
func (c *Client) GetAttributeDefinition(ctx context.Context, entity, attribute, odataType string) (json.RawMessage, error) {
	path, err := attributePath(entity, attribute)
	if err != nil {
		return nil, err
	}
	t, err := normalizeODataType(odataType)
	if err != nil {
		return nil, err
	}
	return c.getDefinition(ctx, path+"/"+t)
}

// PutAttributeDefinition replaces a column's definition with def, PUT to the
// uncast URL with "@odata.type": "#<odataType>" as its first property.
func (c *Client) PutAttributeDefinition(ctx context.Context, entity, attribute, odataType string, def json.RawMessage, opts PutOptions) error {
	path, err := attributePath(entity, attribute)
	if err != nil {
		return err
	}
	t, err := normalizeODataType(odataType)
	if err != nil {
		return err
	}
	return c.putDefinition(ctx, path, def, t, opts)
}
