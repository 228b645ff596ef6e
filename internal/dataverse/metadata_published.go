package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Saved and published definitions. Audit settings take effect when their
// table is published; until then the saved definition differs from the
// published one. Unpublished definitions are read only by asking for them
// ("Publish customizations", Retrieving unpublished metadata: the
// RetrieveAsIfPublished parameter of RetrieveEntity, RetrieveAllEntities,
// RetrieveAttribute…; "Retrieve published metadata": by default, retrieving
// metadata gets only published customizations). So:
//   - the saved view (the values shown, and every definition written back)
//     is RetrieveEntity / RetrieveAllEntities with RetrieveAsIfPublished=true,
//     which cannot $select and carries every property;
//   - the published view (what the service audits now) is a plain GET of
//     EntityDefinitions with $select of the audit fields only, and, for the
//     columns a caller manages, a GET of the table's Attributes with $select
//     and a $filter on their logical names: a few hundred bytes a table
//     instead of a whole definition.

// PublishedAudit is the audit part of a table as last published: what the
// service audits now.
type PublishedAudit struct {
	IsAuditEnabled                 bool
	IsRetrieveAuditEnabled         bool
	IsRetrieveMultipleAuditEnabled bool
	// Attributes maps column logical name to its published IsAuditEnabled.
	Attributes map[string]bool
}

// HasUnpublishedAuditChanges reports whether the saved audit settings of
// the table or of a column differ from the published ones. False when the
// published state was not read.
func (e *EntityAuditInfo) HasUnpublishedAuditChanges() bool {
	return len(e.UnpublishedAuditChanges()) > 0
}

// UnpublishedAuditChanges names the settings whose saved value differs from
// the published one: table fields by property name, columns by logical
// name, sorted as read.
func (e *EntityAuditInfo) UnpublishedAuditChanges() []string {
	p := e.Published
	if p == nil {
		return nil
	}
	var out []string
	for _, f := range TableAuditFields {
		if f.In(e).Value != f.publishedIn(p) {
			out = append(out, string(f))
		}
	}
	for _, name := range sortedNames(e.Attributes) {
		if pub, ok := p.Attributes[name]; ok && pub != e.Attributes[name].IsAuditEnabled.Value {
			out = append(out, name)
		}
	}
	return out
}

func (f TableAuditField) publishedIn(p *PublishedAudit) bool {
	switch f {
	case TableAuditEnabled:
		return p.IsAuditEnabled
	case TableRetrieveAuditEnabled:
		return p.IsRetrieveAuditEnabled
	case TableRetrieveMultipleAuditEnabled:
		return p.IsRetrieveMultipleAuditEnabled
	}
	return false
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (p *PublishedAudit) clone() *PublishedAudit {
	if p == nil {
		return nil
	}
	out := *p
	out.Attributes = make(map[string]bool, len(p.Attributes))
	for k, v := range p.Attributes {
		out.Attributes[k] = v
	}
	return &out
}

// metadataFunctionPath is the RetrieveEntity (one table) or
// RetrieveAllEntities (every table) call of the saved definitions of scope
// (RetrieveAsIfPublished=true). Logical names are validated before they get
// here.
func metadataFunctionPath(scope auditReadScope, columns ColumnsOption) string {
	filters := "Microsoft.Dynamics.CRM.EntityFilters'Entity'"
	if columns == WithColumns {
		filters = "Microsoft.Dynamics.CRM.EntityFilters'Attributes'"
	}
	if scope.everyTable {
		return "RetrieveAllEntities(EntityFilters=" + filters + ",RetrieveAsIfPublished=true)"
	}
	return "RetrieveEntity(EntityFilters=" + filters + ",LogicalName='" + scope.table +
		"',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=true)"
}

// The published view's $select lists: the table-level audit fields, and a
// column's.
const (
	publishedTableSelect  = "LogicalName,IsAuditEnabled,IsRetrieveAuditEnabled,IsRetrieveMultipleAuditEnabled"
	publishedColumnSelect = "LogicalName,IsAuditEnabled"
)

// publishedAuditPath is the plain GET of the published audit fields of
// scope; WithColumns adds every column's ($expand=Attributes with $select).
func publishedAuditPath(scope auditReadScope, columns ColumnsOption) string {
	p := "EntityDefinitions"
	if !scope.everyTable {
		p += "(LogicalName='" + scope.table + "')"
	}
	p += "?$select=" + publishedTableSelect
	if columns == WithColumns {
		p += "&$expand=Attributes($select=" + publishedColumnSelect + ")"
	}
	return p
}

// publishedColumnsPath is the GET of the published audit field of the named
// columns of one table (at least one name; names validated).
func publishedColumnsPath(table string, columns []string) string {
	terms := make([]string, len(columns))
	for i, c := range columns {
		terms[i] = "LogicalName%20eq%20'" + c + "'"
	}
	return "EntityDefinitions(LogicalName='" + table + "')/Attributes?$select=" + publishedColumnSelect +
		"&$filter=" + strings.Join(terms, "%20or%20")
}

// readSavedAudit reads the saved definitions of scope. Reading one unknown
// table is an *Error for which IsNotFound is true.
func (c *Client) readSavedAudit(ctx context.Context, scope auditReadScope, columns ColumnsOption, consistency ReadConsistency) ([]entityAuditWire, error) {
	if !scope.everyTable {
		if err := ValidateLogicalName(scope.table); err != nil {
			return nil, err
		}
		var one struct {
			EntityMetadata entityAuditWire `json:"EntityMetadata"`
		}
		if _, err := c.Do(ctx, auditReadRequest(metadataFunctionPath(scope, columns), nil, &one, consistency)); err != nil {
			return nil, err
		}
		return []entityAuditWire{one.EntityMetadata}, nil
	}
	var all struct {
		EntityMetadata []entityAuditWire `json:"EntityMetadata"`
	}
	if _, err := c.Do(ctx, auditReadRequest(metadataFunctionPath(scope, columns), nil, &all, consistency)); err != nil {
		return nil, err
	}
	return all.EntityMetadata, nil
}

// readPublishedAudit reads the published audit fields of scope (and of
// every column WithColumns). Reading one unknown table is an *Error for
// which IsNotFound is true.
func (c *Client) readPublishedAudit(ctx context.Context, scope auditReadScope, columns ColumnsOption, consistency ReadConsistency) ([]entityAuditWire, error) {
	if !scope.everyTable {
		if err := ValidateLogicalName(scope.table); err != nil {
			return nil, err
		}
		var one entityAuditWire
		if _, err := c.Do(ctx, auditReadRequest(publishedAuditPath(scope, columns), nil, &one, consistency)); err != nil {
			return nil, err
		}
		return []entityAuditWire{one}, nil
	}
	var all struct {
		Value []entityAuditWire `json:"value"`
	}
	if _, err := c.Do(ctx, auditReadRequest(publishedAuditPath(scope, columns), nil, &all, consistency)); err != nil {
		return nil, err
	}
	return all.Value, nil
}

// readEntityAudit is the one entry point for reading audit metadata: the
// public reads and the MetadataCache go through it. It reads the saved
// definitions (the values shown and written) and the published audit
// fields (what is audited now) — two requests for any scope — and returns
// the tables read; reading one unknown table is an *Error for which
// IsNotFound is true.
func (c *Client) readEntityAudit(ctx context.Context, scope auditReadScope, columns ColumnsOption, consistency ReadConsistency) ([]*EntityAuditInfo, error) {
	// The two views are independent reads: sent side by side, a read of
	// every table costs one round trip, not two.
	var saved, published []entityAuditWire
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		saved, err = c.readSavedAudit(gctx, scope, columns, consistency)
		return err
	})
	g.Go(func() (err error) {
		published, err = c.readPublishedAudit(gctx, scope, columns, consistency)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	byName := make(map[string]*entityAuditWire, len(published))
	for i := range published {
		byName[published[i].LogicalName] = &published[i]
	}
	out := make([]*EntityAuditInfo, 0, len(saved))
	for i := range saved {
		e := saved[i].info(columns == WithColumns)
		if p := byName[e.LogicalName]; p != nil {
			e.Published = p.publishedAudit()
		}
		out = append(out, e)
	}
	return out, nil
}

// auditInfoOf decodes one table's saved definition and its published audit
// fields (a plain GET's answer), with publishedColumns, when not nil, the
// answer of the GET of some columns' published field ("value" list).
func auditInfoOf(table string, saved, published, publishedColumns json.RawMessage, columns ColumnsOption) (*EntityAuditInfo, error) {
	var sw, pw entityAuditWire
	if err := json.Unmarshal(saved, &sw); err != nil {
		return nil, fmt.Errorf("dataverse: reading the definition of table %q: %w", table, err)
	}
	if err := json.Unmarshal(published, &pw); err != nil {
		return nil, fmt.Errorf("dataverse: reading the published definition of table %q: %w", table, err)
	}
	if publishedColumns != nil {
		var cols struct {
			Value []attributeAuditWire `json:"value"`
		}
		if err := json.Unmarshal(publishedColumns, &cols); err != nil {
			return nil, fmt.Errorf("dataverse: reading the published columns of table %q: %w", table, err)
		}
		pw.Attributes = cols.Value
	}
	info := sw.info(columns == WithColumns)
	info.Published = pw.publishedAudit()
	return info, nil
}

func (w *entityAuditWire) publishedAudit() *PublishedAudit {
	p := &PublishedAudit{
		IsRetrieveAuditEnabled:         boolOf(w.IsRetrieveAuditEnabled),
		IsRetrieveMultipleAuditEnabled: boolOf(w.IsRetrieveMultipleAuditEnabled),
		Attributes:                     make(map[string]bool, len(w.Attributes)),
	}
	if w.IsAuditEnabled != nil {
		p.IsAuditEnabled = w.IsAuditEnabled.Value
	}
	for _, a := range w.Attributes {
		p.Attributes[a.LogicalName] = a.IsAuditEnabled != nil && a.IsAuditEnabled.Value
	}
	return p
}

// readSavedDefinition returns the saved definition of a table (columns
// WithoutColumns) or of the table with all its columns (WithColumns), as
// RetrieveEntity(RetrieveAsIfPublished=true) sends it: a definition written
// back must carry the changes saved but not yet published, or the PUT
// would undo them.
func (c *Client) readSavedDefinition(ctx context.Context, table string, columns ColumnsOption) (json.RawMessage, error) {
	if err := ValidateLogicalName(table); err != nil {
		return nil, err
	}
	path := metadataFunctionPath(oneTable(table), columns)
	resp, err := c.Do(ctx, definitionReadRequest(path))
	if err != nil {
		return nil, err
	}
	var body struct {
		EntityMetadata json.RawMessage `json:"EntityMetadata"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || len(body.EntityMetadata) == 0 {
		return nil, fmt.Errorf("dataverse: GET %s: the answer has no EntityMetadata", path)
	}
	if _, err := parseJSONObjectChecked(body.EntityMetadata); err != nil {
		return nil, fmt.Errorf("dataverse: GET %s: the answer is not a metadata definition: %w", path, err)
	}
	return body.EntityMetadata, nil
}

// savedColumnDefinitions splits the columns out of a table definition read
// WithColumns: each column's definition by logical name.
func savedColumnDefinitions(def json.RawMessage) (map[string]json.RawMessage, error) {
	var body struct {
		Attributes []json.RawMessage `json:"Attributes"`
	}
	if err := json.Unmarshal(def, &body); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(body.Attributes))
	for _, a := range body.Attributes {
		var id struct {
			LogicalName string `json:"LogicalName"`
		}
		if err := json.Unmarshal(a, &id); err != nil {
			return nil, err
		}
		out[id.LogicalName] = a
	}
	return out, nil
}

// metadataTypeOf maps a complex type in a RetrieveEntity answer
// (Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata) to the metadata
// entity type a PUT carries (Microsoft.Dynamics.CRM.StringAttributeMetadata);
// other names are returned unchanged.
func metadataTypeOf(odataType string) string {
	t := strings.TrimPrefix(odataType, "#")
	if ns, name, ok := strings.Cut(t, ".Complex"); ok && strings.HasSuffix(name, "AttributeMetadata") {
		return ns + "." + name
	}
	return t
}

// ColumnReadTables is how many tables EntitiesWithColumns reads in one
// $batch (two parts a table): the saved definitions of 50 tables of a large
// organization are a few tens of MB, well within the answer limit.
const ColumnReadTables = 50

// EntitiesWithColumns reads, strongly, the named tables with every column:
// the saved definitions (RetrieveEntity) and the published audit fields of
// the table and its columns (GET with $select), in $batch requests of
// ColumnReadTables tables. It is for callers that report unpublished column
// changes of many tables: what it reads grows with the tables named, not
// with the organization, and no answer holds the whole catalogue. A name
// that is no table (deleted since it was listed) is left out.
func (c *Client) EntitiesWithColumns(ctx context.Context, tables []string) (map[string]*EntityAuditInfo, error) {
	out := make(map[string]*EntityAuditInfo, len(tables))
	for start := 0; start < len(tables); start += ColumnReadTables {
		chunk := tables[start:min(start+ColumnReadTables, len(tables))]
		gets := make([]batchGet, 0, 2*len(chunk))
		for _, t := range chunk {
			if err := ValidateLogicalName(t); err != nil {
				return nil, err
			}
			gets = append(gets,
				batchGet{path: metadataFunctionPath(oneTable(t), WithColumns), header: StrongRead.headers()},
				batchGet{path: publishedAuditPath(oneTable(t), WithColumns), header: StrongRead.headers()})
		}
		answers, err := c.sendBatchGets(ctx, gets, StrongRead.headers(), "table definitions")
		if err != nil {
			return nil, err
		}
		for i, t := range chunk {
			saved, pub := answers[2*i], answers[2*i+1]
			switch {
			case IsNotFound(saved.err) || IsNotFound(pub.err):
				continue
			case saved.err != nil:
				return nil, saved.err
			case pub.err != nil:
				return nil, pub.err
			}
			def, err := entityMetadataOf(saved.body, gets[2*i].path)
			if err != nil {
				return nil, err
			}
			info, err := auditInfoOf(t, def, pub.body, nil, WithColumns)
			if err != nil {
				return nil, err
			}
			out[t] = info
		}
	}
	return out, nil
}
