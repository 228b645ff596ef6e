package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator/catalogue"
)

// The catalogue's tables (package catalogue, embedded JSON) are expanded here
// into full EntityMetadata / AttributeMetadata definitions (about 100
// properties a table, 50–60 a column), each property in the same JSON shape
// the Web API serves. Everything a table does not list is derived from what
// it does, so the same table always gives the same bytes.

// plural forms an English plural the way Dataverse entity set names are.
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "s") || strings.HasSuffix(s, "x"):
		return s + "es"
	}
	return s + "s"
}

// catalogueBuilder turns specs into definitions. Ids of standard tables and
// columns are derived from their names, so they are the same in every
// emulator (as in every real environment); custom ones come from a
// per-environment namespace.
type catalogueBuilder struct {
	standardNS uuid.UUID
	customNS   uuid.UUID
}

var standardMetadataNamespace = uuid.MustParse("5b0d6a1e-7c2f-4f43-9d57-d365a0d1e7a0")

func (b catalogueBuilder) id(t catalogue.Table, parts ...string) string {
	ns := b.standardNS
	if t.Custom {
		ns = b.customNS
	}
	return uuid.NewSHA1(ns, []byte(strings.Join(parts, "/"))).String()
}

// managed renders a BooleanManagedProperty. There are a few dozen distinct
// ones, so each is encoded once and its bytes shared by every definition.
func managed(value bool, canBeChanged bool, logicalName string) json.RawMessage {
	key := managedKey{value, canBeChanged, logicalName}
	if raw, ok := managedCache.Load(key); ok {
		return raw.(json.RawMessage)
	}
	raw := catalogueValue(object{{"Value", value}, {"CanBeChanged", canBeChanged}, {"ManagedPropertyLogicalName", logicalName}})
	managedCache.Store(key, raw)
	return raw
}

type managedKey struct {
	value, canBeChanged bool
	logicalName         string
}

var managedCache sync.Map // managedKey -> json.RawMessage

// label builds a Label in English and German; empty en gives an empty Label.
func (b catalogueBuilder) label(t catalogue.Table, owner, en, de string) object {
	if en == "" {
		return object{{"LocalizedLabels", []any{}}, {"UserLocalizedLabel", nil}}
	}
	isManaged := !t.Custom
	ll := func(text string, lang int) object {
		return object{
			{"Label", text},
			{"LanguageCode", lang},
			{"IsManaged", isManaged},
			{"MetadataId", b.id(t, "label", owner, fmt.Sprint(lang))},
			{"HasChanged", nil},
		}
	}
	return object{
		{"LocalizedLabels", []any{ll(en, 1033), ll(de, 1031)}},
		{"UserLocalizedLabel", ll(en, 1033)},
	}
}

// emit orders values by schema; a value with no schema entry is a
// programming error.
//
// The members' text is written into one buffer per definition (values are
// never edited in place, so they may share it); shared values (nil, bools,
// managed properties) are not copied. 80,000 columns allocate that way in
// a fraction of the time.
func emit(schema []propSpec, values map[string]any) rawObject {
	out := make(rawObject, 0, len(values))
	buf := make([]byte, 0, 2048)
	ends := make([]int, 0, len(values))
	for _, p := range schema {
		v, ok := values[p.name]
		if !ok {
			continue
		}
		delete(values, p.name)
		switch v.(type) {
		case nil, bool, json.RawMessage:
			out = append(out, rawMember{p.name, catalogueValue(v)})
			ends = append(ends, -1)
		default:
			buf = appendCatalogueValue(buf, v)
			out = append(out, rawMember{name: p.name})
			ends = append(ends, len(buf))
		}
	}
	start := 0
	for i, end := range ends {
		if end >= 0 {
			out[i].value = buf[start:end:end]
			start = end
		}
	}
	if len(values) > 0 {
		names := make([]string, 0, len(values))
		for n := range values {
			names = append(names, n)
		}
		sort.Strings(names)
		panic("catalogue: properties without schema: " + strings.Join(names, ", "))
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// releaseOf gives the IntroducedVersion and CreatedOn of a table and its
// columns: standard ones ship with the platform (5.0.0.0 unless the spec says
// when they came), custom ones with the environment's first solution.
func releaseOf(t catalogue.Table) (version, created string) {
	if t.Custom {
		return "1.0.0.0", "2024-03-11T09:41:27Z"
	}
	if t.IntroducedVersion != "" {
		return t.IntroducedVersion, "1900-01-01T00:00:00Z"
	}
	return "5.0.0.0", "1900-01-01T00:00:00Z"
}

func (b catalogueBuilder) entity(t catalogue.Table) *entityDef {
	custom := t.Custom
	version, created := releaseOf(t)
	set := t.EntitySetName
	if set == "" {
		set = plural(t.LogicalName)
	}
	ownership := t.Ownership
	if ownership == "" {
		ownership = "None"
	}
	cols := t.Columns()
	pk := t.PrimaryIDName()
	sysLocked := !custom // managed properties of system tables that customizers cannot change
	activityMask := 0
	if t.Activity {
		activityMask = 1
	}
	entityID := b.id(t, "entity", t.LogicalName)
	values := map[string]any{
		"ActivityTypeMask":                   activityMask,
		"AutoCreateAccessTeams":              false,
		"AutoRouteToOwnerQueue":              false,
		"CanBeInCustomEntityAssociation":     managed(true, !sysLocked, "canbeincustomentityassociation"),
		"CanBeInManyToMany":                  managed(true, !sysLocked, "canbeinmanytomany"),
		"CanBePrimaryEntityInRelationship":   managed(true, !sysLocked, "canbeprimaryentityinrelationship"),
		"CanBeRelatedEntityInRelationship":   managed(true, !sysLocked, "canberelatedentityinrelationship"),
		"CanChangeHierarchicalRelationship":  managed(true, !sysLocked, "canchangehierarchicalrelationship"),
		"CanChangeTrackingBeEnabled":         managed(true, true, "canchangetrackingbeenabled"),
		"CanCreateAttributes":                managed(true, !sysLocked, "cancreateattributes"),
		"CanCreateCharts":                    managed(true, !sysLocked, "cancreatecharts"),
		"CanCreateForms":                     managed(true, !sysLocked, "cancreateforms"),
		"CanCreateViews":                     managed(true, !sysLocked, "cancreateviews"),
		"CanEnableSyncToExternalSearchIndex": managed(true, true, "canenablesynctoexternalsearchindex"),
		"CanModifyAdditionalSettings":        managed(true, true, "canmodifyadditionalsettings"),
		"CanTriggerWorkflow":                 true,
		"ChangeTrackingEnabled":              !t.Activity && !custom,
		"CollectionSchemaName":               plural(t.SchemaName),
		"CreatedOn":                          created,
		"DataProviderId":                     nil,
		"DataSourceId":                       nil,
		"DaysSinceRecordLastModified":        0,
		"Description":                        b.label(t, "entity/"+t.LogicalName+"/Description", "Information about the "+lowerFirst(t.English[0])+" table.", "Informationen zur Tabelle „"+t.German[0]+"“."),
		"DisplayCollectionName":              b.label(t, "entity/"+t.LogicalName+"/DisplayCollectionName", t.English[1], t.German[1]),
		"DisplayName":                        b.label(t, "entity/"+t.LogicalName+"/DisplayName", t.English[0], t.German[0]),
		"EnforceStateTransitions":            false,
		"EntityColor":                        "#0078D4",
		"EntityHelpUrl":                      nil,
		"EntityHelpUrlEnabled":               false,
		"EntitySetName":                      set,
		"ExternalCollectionName":             nil,
		"ExternalName":                       nil,
		"HasActivities":                      !t.Activity && (t.Ownership == "UserOwned"),
		"HasChanged":                         nil,
		"HasEmailAddresses":                  t.LogicalName == "account" || t.LogicalName == "contact" || t.LogicalName == "lead",
		"HasFeedback":                        (t.Ownership == "UserOwned") && !t.Activity,
		"HasNotes":                           !t.Stateless || t.LogicalName == "systemuser",
		"IconLargeName":                      nil,
		"IconMediumName":                     nil,
		"IconSmallName":                      nil,
		"IconVectorName":                     nil,
		"IntroducedVersion":                  version,
		"IsActivity":                         t.Activity,
		"IsActivityParty":                    t.LogicalName == "account" || t.LogicalName == "contact" || t.LogicalName == "lead" || t.LogicalName == "systemuser",
		"IsAuditEnabled":                     managed(t.AuditEnabled, !t.AuditLocked, "canmodifyauditsettings"),
		"IsAvailableOffline":                 true,
		"IsBPFEntity":                        false,
		"IsBusinessProcessEnabled":           !t.Stateless,
		"IsChildEntity":                      false,
		"IsConnectionsEnabled":               managed(!t.Stateless, true, "canmodifyconnectionsettings"),
		"IsCustomEntity":                     custom,
		"IsCustomizable":                     managed(true, !sysLocked, "iscustomizable"),
		"IsDocumentManagementEnabled":        false,
		"IsDocumentRecommendationsEnabled":   false,
		"IsDuplicateDetectionEnabled":        managed((t.Ownership == "UserOwned") && !t.Activity, true, "canmodifyduplicatedetectionsettings"),
		"IsEnabledForCharts":                 true,
		"IsEnabledForExternalChannels":       false,
		"IsEnabledForTrace":                  false,
		"IsImportable":                       true,
		"IsInteractionCentricEnabled":        false,
		"IsIntersect":                        false,
		"IsKnowledgeManagementEnabled":       false,
		"IsLogicalEntity":                    false,
		"IsMailMergeEnabled":                 managed((t.Ownership == "UserOwned") && !t.Activity, true, "canmodifymailmergesettings"),
		"IsManaged":                          !custom,
		"IsMappable":                         managed(true, !sysLocked, "ismappable"),
		"IsMSTeamsIntegrationEnabled":        false,
		"IsOfflineInMobileClient":            managed(false, true, "canmodifymobileclientoffline"),
		"IsOneNoteIntegrationEnabled":        false,
		"IsOptimisticConcurrencyEnabled":     true,
		"IsPrivate":                          false,
		"IsQuickCreateEnabled":               (t.Ownership == "UserOwned"),
		"IsReadingPaneEnabled":               true,
		"IsReadOnlyInMobileClient":           managed(false, true, "canmodifymobileclientreadonly"),
		"IsRenameable":                       managed(true, !sysLocked, "isrenameable"),
		"IsRetentionEnabled":                 false,
		"IsRetrieveAuditEnabled":             false,
		"IsRetrieveMultipleAuditEnabled":     false,
		"IsSLAEnabled":                       t.LogicalName == "incident",
		"IsSolutionAware":                    false,
		"IsStateModelAware":                  !t.Stateless,
		"IsValidForAdvancedFind":             true,
		"IsValidForQueue":                    managed(t.LogicalName == "incident" || t.Activity, true, "canmodifyqueuesettings"),
		"IsVisibleInMobile":                  managed(true, true, "canmodifymobilevisibility"),
		"IsVisibleInMobileClient":            managed(true, true, "canmodifymobileclientvisibility"),
		"LogicalCollectionName":              set,
		"LogicalName":                        t.LogicalName,
		"MetadataId":                         entityID,
		"MobileOfflineFilters":               "",
		"ModifiedOn":                         created,
		"ObjectTypeCode":                     t.ObjectTypeCode,
		"OwnershipType":                      ownership,
		"PrimaryIdAttribute":                 pk,
		"PrimaryImageAttribute":              nil,
		"PrimaryNameAttribute":               t.PrimaryName,
		"RecurrenceBaseEntityLogicalName":    nil,
		"ReportViewName":                     "Filtered" + t.SchemaName,
		"SchemaName":                         t.SchemaName,
		"Settings":                           []any{},
		"SyncToExternalSearchIndex":          t.AuditEnabled,
		"TableType":                          "Standard",
		"UsesBusinessDataLabelTable":         false,
	}
	e := &entityDef{
		logicalName: t.LogicalName,
		metadataID:  entityID,
		props:       emit(entitySchema, values),
		attrByName:  map[string]*attrDef{},
	}
	for i, c := range cols {
		a := b.attribute(t, c, i+1)
		e.attrs = append(e.attrs, a)
		e.attrByName[a.logicalName] = a
	}
	return e
}

func (b catalogueBuilder) attribute(t catalogue.Table, c catalogue.Column, number int) *attrDef {
	custom := t.Custom
	at := attrTypeByKey(c.Type)
	version, created := releaseOf(t)
	auditValue, auditChangeable := true, true
	switch {
	case !c.CanBeAudited():
		auditValue, auditChangeable = false, false
	case custom:
		auditValue = c.PrimaryName
	case c.Type == "Memo":
		auditValue = false
	}
	required := c.RequiredLevel
	if required == "" {
		required = "None"
	}
	id := b.id(t, "attribute", t.LogicalName, c.LogicalName)
	en, de := c.English, c.German
	descEn, descDe := "", ""
	switch {
	case c.PrimaryID:
		descEn = "Unique identifier of the " + strings.ToLower(t.English[0]) + "."
		descDe = "Eindeutige ID des Datensatzes „" + t.German[0] + "“."
	case en != "":
		descEn = "Shows the " + strings.ToLower(en) + " of the " + strings.ToLower(t.English[0]) + "."
		descDe = "Zeigt „" + de + "“ des Datensatzes an."
	}
	var attributeOf any
	if c.AttributeOf != "" {
		attributeOf = c.AttributeOf
	}
	var sourceType any = 0
	if c.Virtual() {
		sourceType = nil
	}
	values := map[string]any{
		"AttributeOf":                 attributeOf,
		"AttributeType":               at.attributeType,
		"AttributeTypeName":           object{{"Value", at.typeName}},
		"AutoNumberFormat":            nil,
		"CanBeSecuredForCreate":       custom,
		"CanBeSecuredForRead":         custom,
		"CanBeSecuredForUpdate":       custom,
		"CanModifyAdditionalSettings": managed(true, true, "canmodifyadditionalsettings"),
		"ColumnNumber":                number,
		"CreatedOn":                   created,
		"DeprecatedVersion":           nil,
		"Description":                 b.label(t, "attribute/"+t.LogicalName+"/"+c.LogicalName+"/Description", descEn, descDe),
		"DisplayName":                 b.label(t, "attribute/"+t.LogicalName+"/"+c.LogicalName+"/DisplayName", en, de),
		"EntityLogicalName":           t.LogicalName,
		"ExternalName":                nil,
		"HasChanged":                  nil,
		"InheritsFrom":                nil,
		"IntroducedVersion":           version,
		"IsAuditEnabled":              managed(auditValue, auditChangeable, "canmodifyauditsettings"),
		"IsCustomAttribute":           custom,
		"IsCustomizable":              managed(true, custom, "iscustomizable"),
		"IsDataSourceSecret":          false,
		"IsFilterable":                !c.Virtual(),
		"IsGlobalFilterEnabled":       managed(false, true, "canmodifyglobalfiltersettings"),
		"IsLogical":                   c.Virtual(),
		"IsManaged":                   !custom,
		"IsPrimaryId":                 c.PrimaryID,
		"IsPrimaryName":               c.PrimaryName,
		"IsRenameable":                managed(!c.Virtual(), !c.Virtual(), "isrenameable"),
		"IsRequiredForForm":           c.PrimaryName,
		"IsRetrievable":               !c.Virtual(),
		"IsSearchable":                !c.Virtual() && c.Type != "Memo",
		"IsSecured":                   false,
		"IsSortableEnabled":           managed(false, true, "canmodifyissortablesettings"),
		"IsValidForAdvancedFind":      managed(!c.Virtual(), !c.Virtual(), "canmodifysearchsettings"),
		"IsValidForCreate":            !c.ReadOnly,
		"IsValidForForm":              !c.Virtual(),
		"IsValidForGrid":              !c.Virtual(),
		"IsValidForRead":              true,
		"IsValidForUpdate":            !c.ReadOnly && !c.PrimaryID,
		"IsValidODataAttribute":       !c.Virtual(),
		"LinkedAttributeId":           nil,
		"LogicalName":                 c.LogicalName,
		"MetadataId":                  id,
		"ModifiedOn":                  created,
		"RequiredLevel":               object{{"Value", required}, {"CanBeChanged", !c.PrimaryID}, {"ManagedPropertyLogicalName", "canmodifyrequirementlevelsettings"}},
		"SchemaName":                  c.SchemaName,
		"Settings":                    []any{},
		"SourceType":                  sourceType,
		"SourceTypeMask":              0,
	}
	switch c.Type {
	case "String":
		format := c.Format
		if format == "" {
			format = "Text"
		}
		values["DatabaseLength"] = c.MaxLength * 2
		values["Format"] = format
		values["FormatName"] = object{{"Value", format}}
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Auto"
		values["IsLocalizable"] = false
		values["MaxLength"] = c.MaxLength
		values["YomiOf"] = nil
	case "Memo":
		values["Format"] = "TextArea"
		values["FormatName"] = object{{"Value", "TextArea"}}
		values["ImeMode"] = "Auto"
		values["IsLocalizable"] = false
		values["MaxLength"] = c.MaxLength
	case "Integer":
		format := c.Format
		if format == "" {
			format = "None"
		}
		values["Format"] = format
		values["FormulaDefinition"] = nil
		values["MaxValue"] = c.Max
		values["MinValue"] = c.Min
	case "BigInt":
		values["MaxValue"] = json.RawMessage("9223372036854775807")
		values["MinValue"] = json.RawMessage("-9223372036854775808")
	case "Decimal":
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Auto"
		values["MaxValue"] = c.Max
		values["MinValue"] = c.Min
		values["Precision"] = c.Precision
	case "Money":
		values["CalculationOf"] = nil
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Auto"
		values["IsBaseCurrency"] = false
		values["MaxValue"] = c.Max
		values["MinValue"] = c.Min
		values["Precision"] = c.Precision
		values["PrecisionSource"] = 2
	case "Boolean":
		values["DefaultValue"] = false
		values["FormulaDefinition"] = nil
	case "Picklist", "State", "Status":
		var def any = -1
		if c.Type == "State" {
			def = nil
		}
		values["DefaultFormValue"] = def
		values["FormulaDefinition"] = nil
		values["ParentPicklistLogicalName"] = nil
		values["ChildPicklistLogicalNames"] = []string{}
	case "DateTime":
		format, behavior := "DateAndTime", "UserLocal"
		if c.Format == "DateOnly" {
			format = "DateOnly"
		}
		values["CanChangeDateTimeBehavior"] = managed(custom, custom, "canchangedatetimebehavior")
		values["DateTimeBehavior"] = object{{"Value", behavior}}
		values["Format"] = format
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Inactive"
		values["MaxSupportedValue"] = "9999-12-30T23:59:59Z"
		values["MinSupportedValue"] = "1753-01-01T00:00:00Z"
	case "Lookup", "Owner", "Customer":
		values["Format"] = "None"
		values["Targets"] = c.Targets
	}
	return &attrDef{
		logicalName: c.LogicalName,
		metadataID:  id,
		odataType:   at.odataType,
		props:       emit(attributeSchema(at.odataType), values),
		optionSet:   b.optionSet(t, c),
	}
}

// standardCatalogue is generated once per process: standard definitions are
// the same in every environment. Environments copy the structs and share the
// immutable member values.
var standardCatalogue = sync.OnceValue(func() map[string]*entityDef {
	b := catalogueBuilder{standardNS: standardMetadataNamespace}
	out := map[string]*entityDef{}
	b.addTables(out, catalogue.Standard())
	return out
})

// copyDef copies the structs; the props slices are shared, which is safe
// because definitions are only ever replaced, never edited in place.
func (e *entityDef) copyDef() *entityDef {
	c := *e
	c.attrs = make([]*attrDef, len(e.attrs))
	c.attrByName = make(map[string]*attrDef, len(e.attrs))
	for i, a := range e.attrs {
		ac := *a
		c.attrs[i] = &ac
		c.attrByName[ac.logicalName] = &ac
	}
	return &c
}

// buildCatalogue returns an environment's tables: copies of the standard
// ones (fixed ids) and custom ones with ids from customNS.
func buildCatalogue(customNS uuid.UUID, shape catalogueShape) map[string]*entityDef {
	b := catalogueBuilder{standardNS: standardMetadataNamespace, customNS: customNS}
	out := map[string]*entityDef{}
	for name, e := range standardCatalogue() {
		out[name] = e.copyDef()
	}
	if shape.large {
		for name, e := range largeCatalogue() {
			out[name] = e.copyDef()
		}
	}
	specs := catalogue.Custom()
	if shape.extraCustomTables > 0 {
		specs = append(slices.Clone(specs), catalogue.Generated(shape.extraCustomTables)...)
	}
	b.addTables(out, specs)
	return out
}

// addTables expands tables into out, published as shipped. A name already in
// out is a spec error.
func (b catalogueBuilder) addTables(out map[string]*entityDef, tables []catalogue.Table) {
	for _, t := range tables {
		if _, dup := out[t.LogicalName]; dup {
			panic("catalogue: duplicate table " + t.LogicalName)
		}
		e := b.entity(t)
		e.published = e.snapshot()
		out[t.LogicalName] = e
	}
}
