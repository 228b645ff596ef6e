package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// entityDef is a table definition: its EntityMetadata properties (without
// navigation properties) and its columns, as saved, and the copy last
// published. Guarded by metadataPart.mu.
type entityDef struct {
	logicalName string
	metadataID  string
	props       rawObject
	attrs       []*attrDef
	attrByName  map[string]*attrDef

	// revision counts successful metadata PUTs; the table has unpublished
	// changes while it differs from published.revision.
	revision  int64
	published publishedCopy
}

// publishedCopy is a table as last published, kept next to the saved
// definition. What decides what the service audits is the published audit
// state. Reads still serve the saved definition (entityDef.props,
// attrDef.props); the published definition slots are there so that serving
// published values where Dataverse does is a change to reads only. The
// slices are shared with the saved definition, which is safe because
// definitions are replaced, never edited in place.
type publishedCopy struct {
	revision  int64
	props     rawObject   // the table's properties
	attrProps []rawObject // each column's properties, by index in entityDef.attrs
	audit     EntityAuditState
}

// snapshot is the table as it is now, for publishing.
func (e *entityDef) snapshot() publishedCopy {
	attrProps := make([]rawObject, len(e.attrs))
	for i, a := range e.attrs {
		attrProps[i] = a.props
	}
	return publishedCopy{revision: e.revision, props: e.props, attrProps: attrProps, audit: e.auditState()}
}

// attrDef is a column definition. odataType has no leading '#'.
type attrDef struct {
	logicalName string
	metadataID  string
	odataType   string
	props       rawObject
	// optionSet is a Picklist's ComplexOptionSetMetadata, served inline by
	// RetrieveEntity and RetrieveAllEntities only (for EntityDefinitions
	// it is a navigation property); nil when the spec lists no options.
	// A PUT never changes it: options change through their own actions.
	optionSet json.RawMessage
}

// metaStore holds the metadata catalogue and the solutions. Guarded by
// metadataPart.mu.
type metaStore struct {
	entities  map[string]*entityDef
	byID      map[string]*entityDef
	names     []string
	solutions map[string][]string // unique name -> components, in order added
}

// metadataPart is the environment's metadata: table and column definitions
// (saved and published), solutions, and the EntityDefinitions routes
// (metadata.go, metadata_query.go, metadata_put.go).
type metadataPart struct {
	*shared
	mu    sync.Mutex
	store *metaStore
	// plainGetServesSaved: Options.PlainMetadataGetServesSaved.
	plainGetServesSaved bool
	// functionItemsUntyped: Options.FunctionAttributeItemsUntyped.
	functionItemsUntyped bool

	// cacheWindow is Options.MetadataCacheWindow; cached holds, by table,
	// the definition served to reads without Consistency: Strong
	// (metadata_cache.go). Guarded by mu.
	cacheWindow time.Duration
	cached      map[string]*cachedDefinition

	// readCost is Options.MetadataReadCost (metadata_cost.go).
	readCost MetadataReadCost

	// customizationLock asks the publishing part whether the solution
	// lock refuses a metadata write (import_lock.go); called without mu,
	// since the publishing part comes first in the lock order.
	customizationLock func() string
}

func newMetadataPart(sh *shared, shape catalogueShape) *metadataPart {
	return &metadataPart{shared: sh, store: newMetaStore(shape)}
}

// table finds a table by logical name; nil if there is none. Tables are
// never added, and DeleteTable only drops them from the maps, so the pointer
// stays valid, but its fields are guarded by md.mu.
func (md *metadataPart) table(logicalName string) *entityDef {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.store.entities[logicalName]
}

// defaultSolutions exist in every emulated environment.
var defaultSolutions = []string{"Default", "new_auditbaseline"}

func newMetaStore(shape catalogueShape) *metaStore {
	m := &metaStore{
		entities:  buildCatalogue(uuid.New(), shape),
		byID:      map[string]*entityDef{},
		solutions: map[string][]string{},
	}
	for name, e := range m.entities {
		m.byID[e.metadataID] = e
		m.names = append(m.names, name)
	}
	sort.Strings(m.names)
	for _, s := range defaultSolutions {
		m.solutions[s] = nil
	}
	return m
}

func (m *metaStore) entityByKey(byName bool, key string) *entityDef {
	if byName {
		return m.entities[key]
	}
	return m.byID[strings.ToLower(key)]
}

func (e *entityDef) unpublished() bool { return e.revision != e.published.revision }

func (e *entityDef) attrByID(id string) *attrDef {
	id = strings.ToLower(id)
	for _, a := range e.attrs {
		if a.metadataID == id {
			return a
		}
	}
	return nil
}

// EntityAuditState is the audit part of a table definition.
type EntityAuditState struct {
	IsAuditEnabled, CanBeChanged                           bool
	IsRetrieveAuditEnabled, IsRetrieveMultipleAuditEnabled bool
	Attributes                                             map[string]AttributeAuditState // by column logical name
}

// AttributeAuditState is the audit part of a column definition. ODataType
// is the column's "@odata.type", e.g. "#Microsoft.Dynamics.CRM.StringAttributeMetadata".
type AttributeAuditState struct {
	IsAuditEnabled, CanBeChanged bool
	AttributeOf, ODataType       string
}

func (e *entityDef) auditState() EntityAuditState {
	m := readManaged(e.props, "IsAuditEnabled")
	st := EntityAuditState{
		IsAuditEnabled:                 m.boolValue(),
		CanBeChanged:                   m.canBeChanged,
		IsRetrieveAuditEnabled:         readBool(e.props, "IsRetrieveAuditEnabled"),
		IsRetrieveMultipleAuditEnabled: readBool(e.props, "IsRetrieveMultipleAuditEnabled"),
		Attributes:                     make(map[string]AttributeAuditState, len(e.attrs)),
	}
	for _, a := range e.attrs {
		st.Attributes[a.logicalName] = a.auditState()
	}
	return st
}

func (a *attrDef) auditState() AttributeAuditState {
	m := readManaged(a.props, "IsAuditEnabled")
	return AttributeAuditState{
		IsAuditEnabled: m.boolValue(),
		CanBeChanged:   m.canBeChanged,
		AttributeOf:    readString(a.props, "AttributeOf"),
		ODataType:      "#" + a.odataType,
	}
}

func (s EntityAuditState) clone() EntityAuditState {
	out := s
	out.Attributes = make(map[string]AttributeAuditState, len(s.Attributes))
	for k, v := range s.Attributes {
		out.Attributes[k] = v
	}
	return out
}

// writeEntityAuditRows writes 102 (+105/108) when the table's audit settings
// changed between before and after.
func writeEntityAuditRows(tx *auditWriter, e *entityDef, before, after rawObject) {
	oldV, newV := map[string]any{}, map[string]any{}
	oa, na := readManaged(before, "IsAuditEnabled").boolValue(), readManaged(after, "IsAuditEnabled").boolValue()
	if oa != na {
		oldV["isauditenabled"], newV["isauditenabled"] = oa, na
	}
	for _, p := range []string{"IsRetrieveAuditEnabled", "IsRetrieveMultipleAuditEnabled"} {
		if o, n := readBool(before, p), readBool(after, p); o != n {
			oldV[strings.ToLower(p)], newV[strings.ToLower(p)] = o, n
		}
	}
	if len(newV) == 0 {
		return
	}
	tx.add(ActionAuditChangeAtEntityLevel, OperationUpdate, e.logicalName, e.metadataID, oldV, newV)
	if oa != na {
		tx.add(pick(na, ActionEntityAuditStarted, ActionEntityAuditStopped), OperationUpdate, e.logicalName, e.metadataID, nil, nil)
	}
}

// writeAttributeAuditRows writes 103 (+106/109) when the column's audit
// setting changed.
func writeAttributeAuditRows(tx *auditWriter, e *entityDef, a *attrDef, before, after rawObject) {
	oa, na := readManaged(before, "IsAuditEnabled").boolValue(), readManaged(after, "IsAuditEnabled").boolValue()
	if oa == na {
		return
	}
	tx.add(ActionAuditChangeAtAttributeLevel, OperationUpdate, e.logicalName, a.metadataID,
		map[string]any{"isauditenabled": oa}, map[string]any{"isauditenabled": na})
	tx.add(pick(na, ActionAttributeAuditStarted, ActionAttributeAuditStopped), OperationUpdate, e.logicalName, a.metadataID, nil, nil)
}

// EntityNames returns the logical names of all tables, sorted.
func (s *Server) EntityNames() []string { return s.meta.names() }

func (md *metadataPart) names() []string {
	md.mu.Lock()
	defer md.mu.Unlock()
	return slices.Clone(md.store.names)
}

// EntityAudit returns a table's latest (possibly unpublished) audit settings.
func (s *Server) EntityAudit(logicalName string) (EntityAuditState, bool) {
	return s.meta.audit(logicalName, savedDefinition)
}

// definitionVersion says which definition of a table to read.
type definitionVersion int

const (
	savedDefinition     definitionVersion = iota // the latest, possibly unpublished
	publishedDefinition                          // as last published
)

// audit returns a table's audit settings in the version asked for.
func (md *metadataPart) audit(logicalName string, version definitionVersion) (EntityAuditState, bool) {
	md.mu.Lock()
	defer md.mu.Unlock()
	e := md.store.entities[logicalName]
	switch {
	case e == nil:
		return EntityAuditState{}, false
	case version == publishedDefinition:
		return e.published.audit.clone(), true
	}
	return e.auditState(), true
}

// PublishedEntityAudit returns a table's audit settings as last published:
// the ones that decide what the service audits.
func (s *Server) PublishedEntityAudit(logicalName string) (EntityAuditState, bool) {
	return s.meta.audit(logicalName, publishedDefinition)
}

// UpdateEntityAudit changes a table's audit settings "outside Terraform", as
// an administrator would in the maker portal with Save and Publish: fn edits
// a copy of the latest state; changed IsAuditEnabled, IsRetrieve*Enabled,
// CanBeChanged and Attributes[..].IsAuditEnabled / CanBeChanged are applied
// without the CanBeChanged check, audit rows are written for real changes
// (attributed to AdminUserID), and the table is left published. Other
// fields, and attributes fn adds, are ignored; an unknown table is an error.
// Reads see the change at once: it drops the table's cached definition
// (Options.MetadataCacheWindow), so tests of drift need not wait.
func (s *Server) UpdateEntityAudit(logicalName string, fn func(*EntityAuditState)) error {
	return s.meta.updateAudit(logicalName, fn, saveAndPublish)
}

// SaveEntityAudit is UpdateEntityAudit with Save but without Publish, as a
// portal user who forgets to publish (or an apply killed between its write
// and its publish): the saved definition changes, the published one — which
// decides what is audited — does not.
func (s *Server) SaveEntityAudit(logicalName string, fn func(*EntityAuditState)) error {
	return s.meta.updateAudit(logicalName, fn, saveOnly)
}

// auditSaveMode says whether an out-of-band audit change is published.
type auditSaveMode int

const (
	saveAndPublish auditSaveMode = iota
	saveOnly
)

func (md *metadataPart) updateAudit(logicalName string, fn func(*EntityAuditState), mode auditSaveMode) error {
	md.mu.Lock()
	defer md.mu.Unlock()
	e := md.store.entities[logicalName]
	if e == nil {
		return fmt.Errorf("emulator: no table %q", logicalName)
	}
	before := e.auditState()
	next := before.clone()
	fn(&next)
	tx := md.beginAudit(md.entra.admin, md.now())
	md.forgetCached(logicalName)

	props := e.props
	if next.IsAuditEnabled != before.IsAuditEnabled || next.CanBeChanged != before.CanBeChanged {
		props = setManaged(props, "IsAuditEnabled", next.IsAuditEnabled, next.CanBeChanged, "canmodifyauditsettings")
	}
	if next.IsRetrieveAuditEnabled != before.IsRetrieveAuditEnabled {
		props = props.with("IsRetrieveAuditEnabled", mustRaw(next.IsRetrieveAuditEnabled))
	}
	if next.IsRetrieveMultipleAuditEnabled != before.IsRetrieveMultipleAuditEnabled {
		props = props.with("IsRetrieveMultipleAuditEnabled", mustRaw(next.IsRetrieveMultipleAuditEnabled))
	}
	writeEntityAuditRows(tx, e, e.props, props)
	e.props = props
	for _, a := range e.attrs {
		want, ok := next.Attributes[a.logicalName]
		cur := before.Attributes[a.logicalName]
		if !ok || (want.IsAuditEnabled == cur.IsAuditEnabled && want.CanBeChanged == cur.CanBeChanged) {
			continue
		}
		ap := setManaged(a.props, "IsAuditEnabled", want.IsAuditEnabled, want.CanBeChanged, "canmodifyauditsettings")
		writeAttributeAuditRows(tx, e, a, a.props, ap)
		a.props = ap
	}
	e.revision++
	if mode == saveAndPublish {
		e.published = e.snapshot()
	}
	return nil
}

// EntityDefinitionJSON returns a table's stored definition exactly as a full
// GET returns it, without "@odata.context".
func (s *Server) EntityDefinitionJSON(logicalName string) (json.RawMessage, bool) {
	return s.meta.entityJSON(logicalName)
}

func (md *metadataPart) entityJSON(logicalName string) (json.RawMessage, bool) {
	md.mu.Lock()
	defer md.mu.Unlock()
	e := md.store.entities[logicalName]
	if e == nil {
		return nil, false
	}
	return mustRaw(e.props), true
}

// AttributeDefinitionJSON returns a column's stored full definition,
// starting with its "@odata.type".
func (s *Server) AttributeDefinitionJSON(entity, attribute string) (json.RawMessage, bool) {
	return s.meta.attributeJSON(entity, attribute)
}

func (md *metadataPart) attributeJSON(entity, attribute string) (json.RawMessage, bool) {
	md.mu.Lock()
	defer md.mu.Unlock()
	e := md.store.entities[entity]
	if e == nil {
		return nil, false
	}
	a := e.attrByName[attribute]
	if a == nil {
		return nil, false
	}
	return mustRaw(append(rawObject{{"@odata.type", mustRaw("#" + a.odataType)}}, a.props...)), true
}

// AddSolution creates an (empty) unmanaged solution that metadata PUTs can
// name in MSCRM.SolutionUniqueName. "Default" and "new_auditbaseline" exist
// from the start.
func (s *Server) AddSolution(uniqueName string) { s.meta.addSolution(uniqueName) }

func (md *metadataPart) addSolution(uniqueName string) {
	md.mu.Lock()
	defer md.mu.Unlock()
	if _, ok := md.store.solutions[uniqueName]; !ok {
		md.store.solutions[uniqueName] = nil
	}
}

// SolutionComponents lists what metadata PUTs added to a solution through
// MSCRM.SolutionUniqueName, in the order first added: "entity:account",
// "attribute:account.name".
func (s *Server) SolutionComponents(solution string) []string {
	return s.meta.solutionComponents(solution)
}

func (md *metadataPart) solutionComponents(solution string) []string {
	md.mu.Lock()
	defer md.mu.Unlock()
	return slices.Clone(md.store.solutions[solution])
}

func (m *metaStore) addComponent(solution, component string) {
	if solution == "" || slices.Contains(m.solutions[solution], component) {
		return
	}
	m.solutions[solution] = append(m.solutions[solution], component)
}

var errNoSolution = errors.New("no such solution")

// solutionHeader returns the MSCRM.SolutionUniqueName of r, checked against
// the environment's solutions. Caller holds md.mu.
func (m *metaStore) solutionHeader(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil
	}
	if _, ok := m.solutions[name]; !ok {
		return "", errNoSolution
	}
	return name, nil
}
