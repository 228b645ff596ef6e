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
// their Attributes). Reads go through RetrieveEntity / RetrieveAllEntities
// (metadata_published.go); writes read the saved full definition and PUT it
// back whole (metadata cannot be PATCHed).

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
	// Published is the table as last published; the fields above are the
	// saved values. Nil when not read.
	Published *PublishedAudit
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
	// IsManaged: the column comes from a managed solution, so a managed
	// property with CanBeChanged = false locks it.
	IsManaged bool
}

// Clone returns a deep copy of e.
func (e *EntityAuditInfo) Clone() *EntityAuditInfo {
	if e == nil {
		return nil
	}
	out := *e
	out.Published = e.Published.clone()
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

// Wire format of the audit reads.
type localizedLabelWire struct {
	Label string `json:"Label"`
}

type labelWire struct {
	UserLocalizedLabel *localizedLabelWire `json:"UserLocalizedLabel"`
}

type attributeAuditWire struct {
	ODataType         string                  `json:"@odata.type"`
	AttributeTypeName *attributeTypeNameWire  `json:"AttributeTypeName"`
	LogicalName       string                  `json:"LogicalName"`
	MetadataID        string                  `json:"MetadataId"`
	AttributeOf       *string                 `json:"AttributeOf"`
	IsAuditEnabled    *BooleanManagedProperty `json:"IsAuditEnabled"`
	IsManaged         *bool                   `json:"IsManaged"`
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
			ODataType:   columnMetadataType(a.ODataType, a.AttributeTypeName),
			IsManaged:   boolOf(a.IsManaged),
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

// ColumnsOption says whether an audit read includes every column's audit
// fields (one $expand per table) or only the table-level ones.
type ColumnsOption int

const (
	// WithoutColumns reads the table-level audit fields only.
	WithoutColumns ColumnsOption = iota
	// WithColumns also reads each column's audit fields, following paged
	// column collections.
	WithColumns
)

// auditReadScope says which tables an audit read covers: every table, or
// the one named.
type auditReadScope struct {
	everyTable bool
	table      string
}

var allTables = auditReadScope{everyTable: true}

func oneTable(logicalName string) auditReadScope { return auditReadScope{table: logicalName} }

// ReadConsistency says whether a metadata read may be served from
// Dataverse's metadata cache, which for about 30 s after a change can hold
// the definition as it was before (ServiceClient.ForceServerMetadataCacheConsistency;
// the Web API's HTTP headers: "Consistency: Strong"). Strong reads cost the
// server time: use them where the table was written recently.
type ReadConsistency int

const (
	// CachedRead may return a definition up to about 30 s old.
	CachedRead ReadConsistency = iota
	// StrongRead sends Consistency: Strong and returns the latest definition.
	StrongRead
)

// headers returns the request headers of the consistency level.
func (rc ReadConsistency) headers() http.Header {
	if rc == StrongRead {
		return http.Header{"Consistency": {"Strong"}}
	}
	return nil
}

// auditReadRequest builds the GET of the audit fields at path. Every audit
// read of table metadata is built here, so a header they all need (such as a
// read consistency level) is added in one place.
func auditReadRequest(path string, query url.Values, out any, consistency ReadConsistency) *Request {
	return &Request{Method: http.MethodGet, Path: path, Query: query, Out: out, Header: consistency.headers()}
}

// ListEntityAuditInfo reads the audit fields of every table (and of their
// columns WithColumns), with Consistency: Strong: its callers (the
// dynamics365_entities data source) feed compliance checks, often evaluated
// right after an apply changed the tables, when Dataverse's metadata cache
// would still serve the definitions from before it. The map is keyed by
// table logical name.
func (c *Client) ListEntityAuditInfo(ctx context.Context, columns ColumnsOption) (map[string]*EntityAuditInfo, error) {
	all, err := c.readEntityAudit(ctx, allTables, columns, StrongRead)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*EntityAuditInfo, len(all))
	for _, e := range all {
		out[e.LogicalName] = e
	}
	return out, nil
}

// GetEntityAuditInfo reads one table's audit fields (and its columns'
// WithColumns), possibly from Dataverse's metadata cache. An unknown table
// is an *Error for which IsNotFound is true.
func (c *Client) GetEntityAuditInfo(ctx context.Context, logicalName string, columns ColumnsOption) (*EntityAuditInfo, error) {
	all, err := c.readEntityAudit(ctx, oneTable(logicalName), columns, CachedRead)
	if err != nil {
		return nil, err
	}
	return all[0], nil
}

// definitionReadRequest builds the GET of a full metadata definition, the
// read that precedes every PUT. It always reads strongly: a definition
// served from Dataverse's metadata cache within ~30 s of an earlier change
// would, spliced and PUT back, silently revert that change. Should these
// reads ever go into a $batch, the header goes on each part and on the
// batch request alike (whether parts honour it is not documented).
func definitionReadRequest(path string) *Request {
	return &Request{Method: http.MethodGet, Path: path, Header: StrongRead.headers()}
}

func parseJSONObjectChecked(b []byte) ([]jsonMember, error) {
	if !json.Valid(b) {
		return nil, fmt.Errorf("invalid JSON")
	}
	return parseJSONObject(b)
}

// writeDefinition replaces a definition with def (as read by readDefinition
// and edited with setJSONValue), with MSCRM.MergeLabels: true so labels in
// other languages are kept. OData annotations of the GET (@odata.context,
// @odata.etag, …) are dropped; with odataType set, "@odata.type":
// "#<odataType>" is sent as the first property; everything else is sent byte
// for byte.
func (c *Client) writeDefinition(ctx context.Context, path string, def json.RawMessage, odataType, solution string) error {
	body, err := prepareDefinitionForPut(def, odataType)
	if err != nil {
		return fmt.Errorf("dataverse: PUT %s: %w", path, err)
	}
	h := http.Header{"MSCRM.MergeLabels": {"true"}}
	if solution != "" {
		h.Set("MSCRM.SolutionUniqueName", solution)
	}
	return c.solutionOps.put(func() error { // not while this client publishes
		_, err := c.Do(ctx, &Request{Method: http.MethodPut, Path: path, Body: body, Header: h})
		return err
	})
}

// putEntityDefinition replaces a table's definition with def.
func (c *Client) putEntityDefinition(ctx context.Context, logicalName string, def json.RawMessage, solution string) error {
	path, err := entityPath(logicalName)
	if err != nil {
		return err
	}
	return c.writeDefinition(ctx, path, def, "", solution)
}

// putAttributeDefinition replaces a column's definition with def, PUT to the
// uncast URL with "@odata.type": "#<odataType>" as its first property.
func (c *Client) putAttributeDefinition(ctx context.Context, entity, attribute, odataType string, def json.RawMessage, solution string) error {
	path, err := attributePath(entity, attribute)
	if err != nil {
		return err
	}
	t, err := normalizeODataType(odataType)
	if err != nil {
		return err
	}
	return c.writeDefinition(ctx, path, def, t, solution)
}
