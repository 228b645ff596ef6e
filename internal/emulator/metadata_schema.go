package emulator

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sync"

	"github.com/google/uuid"
)

// propKind is the Edm type of a metadata property, as far as the emulator
// checks payloads.
type propKind int

const (
	kBool         propKind = iota // Edm.Boolean (nullable)
	kBoolRequired                 // Edm.Boolean that must not be null
	kInt32                        // Edm.Int32 (nullable)
	kInt64                        // Edm.Int64 (nullable)
	kDecimal                      // Edm.Decimal (nullable)
	kDouble                       // Edm.Double (nullable)
	kString                       // Edm.String (nullable)
	kGuid                         // Edm.Guid (nullable)
	kDateTime                     // Edm.DateTimeOffset (nullable)
	kLabel                        // Microsoft.Dynamics.CRM.Label (nullable)
	kManaged                      // BooleanManagedProperty (nullable)
	kAuditManaged                 // IsAuditEnabled: BooleanManagedProperty, not null
	kComplex                      // another complex type (nullable)
	kCollection                   // a collection (nullable)
)

type propSpec struct {
	name string
	kind propKind
}

// Metadata type names.
const (
	crmNamespace       = "Microsoft.Dynamics.CRM."
	entityMetadataType = crmNamespace + "EntityMetadata"
	attrMetadataType   = crmNamespace + "AttributeMetadata"
)

// entityNavigationProperties are EntityMetadata navigation properties: not
// part of a definition unless expanded; ignored in a PUT body.
var entityNavigationProperties = []string{"Attributes", "Keys", "ManyToManyRelationships", "ManyToOneRelationships", "OneToManyRelationships", "Privileges"}

// attributeNavigationProperties are the choice columns' navigation
// properties (PicklistAttributeMetadata: OptionSet, GlobalOptionSet):
// ignored in a PUT body.
var attributeNavigationProperties = []string{"OptionSet", "GlobalOptionSet"}

// hasOptionSet reports whether columns of odataType (no '#') have the
// option set navigation properties (EnumAttributeMetadata and
// BooleanAttributeMetadata).
func hasOptionSet(odataType string) bool {
	switch odataType {
	case crmNamespace + "PicklistAttributeMetadata", crmNamespace + "StateAttributeMetadata",
		crmNamespace + "StatusAttributeMetadata", crmNamespace + "BooleanAttributeMetadata":
		return true
	}
	return false
}

// entitySchema lists the EntityMetadata properties the emulator serves, in
// the order definitions are generated.
var entitySchema = []propSpec{
	{"ActivityTypeMask", kInt32},
	{"AutoCreateAccessTeams", kBool},
	{"AutoRouteToOwnerQueue", kBool},
	{"CanBeInCustomEntityAssociation", kManaged},
	{"CanBeInManyToMany", kManaged},
	{"CanBePrimaryEntityInRelationship", kManaged},
	{"CanBeRelatedEntityInRelationship", kManaged},
	{"CanChangeHierarchicalRelationship", kManaged},
	{"CanChangeTrackingBeEnabled", kManaged},
	{"CanCreateAttributes", kManaged},
	{"CanCreateCharts", kManaged},
	{"CanCreateForms", kManaged},
	{"CanCreateViews", kManaged},
	{"CanEnableSyncToExternalSearchIndex", kManaged},
	{"CanModifyAdditionalSettings", kManaged},
	{"CanTriggerWorkflow", kBool},
	{"ChangeTrackingEnabled", kBool},
	{"CollectionSchemaName", kString},
	{"CreatedOn", kDateTime},
	{"DataProviderId", kGuid},
	{"DataSourceId", kGuid},
	{"DaysSinceRecordLastModified", kInt32},
	{"Description", kLabel},
	{"DisplayCollectionName", kLabel},
	{"DisplayName", kLabel},
	{"EnforceStateTransitions", kBool},
	{"EntityColor", kString},
	{"EntityHelpUrl", kString},
	{"EntityHelpUrlEnabled", kBool},
	{"EntitySetName", kString},
	{"ExternalCollectionName", kString},
	{"ExternalName", kString},
	{"HasActivities", kBool},
	{"HasChanged", kBool},
	{"HasEmailAddresses", kBool},
	{"HasFeedback", kBool},
	{"HasNotes", kBool},
	{"IconLargeName", kString},
	{"IconMediumName", kString},
	{"IconSmallName", kString},
	{"IconVectorName", kString},
	{"IntroducedVersion", kString},
	{"IsActivity", kBool},
	{"IsActivityParty", kBool},
	{"IsAuditEnabled", kAuditManaged},
	{"IsAvailableOffline", kBool},
	{"IsBPFEntity", kBool},
	{"IsBusinessProcessEnabled", kBool},
	{"IsChildEntity", kBool},
	{"IsConnectionsEnabled", kManaged},
	{"IsCustomEntity", kBool},
	{"IsCustomizable", kManaged},
	{"IsDocumentManagementEnabled", kBool},
	{"IsDocumentRecommendationsEnabled", kBool},
	{"IsDuplicateDetectionEnabled", kManaged},
	{"IsEnabledForCharts", kBool},
	{"IsEnabledForExternalChannels", kBool},
	{"IsEnabledForTrace", kBool},
	{"IsImportable", kBool},
	{"IsInteractionCentricEnabled", kBool},
	{"IsIntersect", kBool},
	{"IsKnowledgeManagementEnabled", kBool},
	{"IsLogicalEntity", kBool},
	{"IsMailMergeEnabled", kManaged},
	{"IsManaged", kBool},
	{"IsMappable", kManaged},
	{"IsMSTeamsIntegrationEnabled", kBool},
	{"IsOfflineInMobileClient", kManaged},
	{"IsOneNoteIntegrationEnabled", kBool},
	{"IsOptimisticConcurrencyEnabled", kBool},
	{"IsPrivate", kBool},
	{"IsQuickCreateEnabled", kBool},
	{"IsReadingPaneEnabled", kBool},
	{"IsReadOnlyInMobileClient", kManaged},
	{"IsRenameable", kManaged},
	{"IsRetentionEnabled", kBool},
	{"IsRetrieveAuditEnabled", kBoolRequired},
	{"IsRetrieveMultipleAuditEnabled", kBoolRequired},
	{"IsSLAEnabled", kBool},
	{"IsSolutionAware", kBool},
	{"IsStateModelAware", kBool},
	{"IsValidForAdvancedFind", kBool},
	{"IsValidForQueue", kManaged},
	{"IsVisibleInMobile", kManaged},
	{"IsVisibleInMobileClient", kManaged},
	{"LogicalCollectionName", kString},
	{"LogicalName", kString},
	{"MetadataId", kGuid},
	{"MobileOfflineFilters", kString},
	{"ModifiedOn", kDateTime},
	{"ObjectTypeCode", kInt32},
	{"OwnershipType", kString},
	{"PrimaryIdAttribute", kString},
	{"PrimaryImageAttribute", kString},
	{"PrimaryNameAttribute", kString},
	{"RecurrenceBaseEntityLogicalName", kString},
	{"ReportViewName", kString},
	{"SchemaName", kString},
	{"Settings", kCollection},
	{"SyncToExternalSearchIndex", kBool},
	{"TableType", kString},
	{"UsesBusinessDataLabelTable", kBool},
}

// attributeCommonSchema lists the AttributeMetadata (base type) properties:
// all an uncast column query returns.
var attributeCommonSchema = []propSpec{
	{"AttributeOf", kString},
	{"AttributeType", kString},
	{"AttributeTypeName", kComplex},
	{"AutoNumberFormat", kString},
	{"CanBeSecuredForCreate", kBool},
	{"CanBeSecuredForRead", kBool},
	{"CanBeSecuredForUpdate", kBool},
	{"CanModifyAdditionalSettings", kManaged},
	{"ColumnNumber", kInt32},
	{"CreatedOn", kDateTime},
	{"DeprecatedVersion", kString},
	{"Description", kLabel},
	{"DisplayName", kLabel},
	{"EntityLogicalName", kString},
	{"ExternalName", kString},
	{"HasChanged", kBool},
	{"InheritsFrom", kString},
	{"IntroducedVersion", kString},
	{"IsAuditEnabled", kAuditManaged},
	{"IsCustomAttribute", kBool},
	{"IsCustomizable", kManaged},
	{"IsDataSourceSecret", kBool},
	{"IsFilterable", kBool},
	{"IsGlobalFilterEnabled", kManaged},
	{"IsLogical", kBool},
	{"IsManaged", kBool},
	{"IsPrimaryId", kBool},
	{"IsPrimaryName", kBool},
	{"IsRenameable", kManaged},
	{"IsRequiredForForm", kBool},
	{"IsRetrievable", kBool},
	{"IsSearchable", kBool},
	{"IsSecured", kBool},
	{"IsSortableEnabled", kManaged},
	{"IsValidForAdvancedFind", kManaged},
	{"IsValidForCreate", kBool},
	{"IsValidForForm", kBool},
	{"IsValidForGrid", kBool},
	{"IsValidForRead", kBool},
	{"IsValidForUpdate", kBool},
	{"IsValidODataAttribute", kBool},
	{"LinkedAttributeId", kGuid},
	{"LogicalName", kString},
	{"MetadataId", kGuid},
	{"ModifiedOn", kDateTime},
	{"RequiredLevel", kComplex},
	{"SchemaName", kString},
	{"Settings", kCollection},
	{"SourceType", kInt32},
	{"SourceTypeMask", kInt32},
}

// attrType describes one AttributeMetadata subtype.
type attrType struct {
	key           string // catalogue key, e.g. "Owner"
	odataType     string // without '#', e.g. Microsoft.Dynamics.CRM.LookupAttributeMetadata
	attributeType string // AttributeType value
	typeName      string // AttributeTypeName.Value
	props         []propSpec
}

var (
	stringProps = []propSpec{{"DatabaseLength", kInt32}, {"Format", kString}, {"FormatName", kComplex}, {"FormulaDefinition", kString}, {"ImeMode", kString}, {"IsLocalizable", kBool}, {"MaxLength", kInt32}, {"YomiOf", kString}}
	memoProps   = []propSpec{{"Format", kString}, {"FormatName", kComplex}, {"ImeMode", kString}, {"IsLocalizable", kBool}, {"MaxLength", kInt32}}
	intProps    = []propSpec{{"Format", kString}, {"FormulaDefinition", kString}, {"MaxValue", kInt32}, {"MinValue", kInt32}}
	bigIntProps = []propSpec{{"MaxValue", kInt64}, {"MinValue", kInt64}}
	decProps    = []propSpec{{"FormulaDefinition", kString}, {"ImeMode", kString}, {"MaxValue", kDecimal}, {"MinValue", kDecimal}, {"Precision", kInt32}}
	moneyProps  = []propSpec{{"CalculationOf", kString}, {"FormulaDefinition", kString}, {"ImeMode", kString}, {"IsBaseCurrency", kBool}, {"MaxValue", kDouble}, {"MinValue", kDouble}, {"Precision", kInt32}, {"PrecisionSource", kInt32}}
	boolProps   = []propSpec{{"DefaultValue", kBool}, {"FormulaDefinition", kString}}
	enumProps   = []propSpec{{"DefaultFormValue", kInt32}, {"FormulaDefinition", kString}, {"ParentPicklistLogicalName", kString}, {"ChildPicklistLogicalNames", kCollection}}
	dateProps   = []propSpec{{"CanChangeDateTimeBehavior", kManaged}, {"DateTimeBehavior", kComplex}, {"Format", kString}, {"FormulaDefinition", kString}, {"ImeMode", kString}, {"MaxSupportedValue", kDateTime}, {"MinSupportedValue", kDateTime}}
	lookupProps = []propSpec{{"Format", kString}, {"Targets", kCollection}}
)

var attrTypes = []attrType{
	{"String", crmNamespace + "StringAttributeMetadata", "String", "StringType", stringProps},
	{"Memo", crmNamespace + "MemoAttributeMetadata", "Memo", "MemoType", memoProps},
	{"Integer", crmNamespace + "IntegerAttributeMetadata", "Integer", "IntegerType", intProps},
	{"BigInt", crmNamespace + "BigIntAttributeMetadata", "BigInt", "BigIntType", bigIntProps},
	{"Decimal", crmNamespace + "DecimalAttributeMetadata", "Decimal", "DecimalType", decProps},
	{"Money", crmNamespace + "MoneyAttributeMetadata", "Money", "MoneyType", moneyProps},
	{"Boolean", crmNamespace + "BooleanAttributeMetadata", "Boolean", "BooleanType", boolProps},
	{"Picklist", crmNamespace + "PicklistAttributeMetadata", "Picklist", "PicklistType", enumProps},
	{"State", crmNamespace + "StateAttributeMetadata", "State", "StateType", enumProps},
	{"Status", crmNamespace + "StatusAttributeMetadata", "Status", "StatusType", enumProps},
	{"DateTime", crmNamespace + "DateTimeAttributeMetadata", "DateTime", "DateTimeType", dateProps},
	{"Lookup", crmNamespace + "LookupAttributeMetadata", "Lookup", "LookupType", lookupProps},
	{"Owner", crmNamespace + "LookupAttributeMetadata", "Owner", "OwnerType", lookupProps},
	{"Customer", crmNamespace + "LookupAttributeMetadata", "Customer", "CustomerType", lookupProps},
	{"Uniqueidentifier", crmNamespace + "UniqueIdentifierAttributeMetadata", "Uniqueidentifier", "UniqueidentifierType", nil},
}

func attrTypeByKey(key string) attrType {
	for _, t := range attrTypes {
		if t.key == key {
			return t
		}
	}
	panic("unknown attribute type " + key)
}

// attrTypeProps returns the type-specific properties of an OData type name
// (without '#'), and whether the type is known.
func attrTypeProps(odataType string) ([]propSpec, bool) {
	for _, t := range attrTypes {
		if t.odataType == odataType {
			return t.props, true
		}
	}
	return nil, false
}

func findProp(schema []propSpec, name string) (propSpec, bool) {
	for _, p := range schema {
		if p.name == name {
			return p, true
		}
	}
	return propSpec{}, false
}

// attributeSchema is the full property list of a column of odataType.
func attributeSchema(odataType string) []propSpec {
	if schema, ok := attributeSchemas()[odataType]; ok {
		return schema
	}
	return attributeCommonSchema
}

// attributeSchemas holds every type's full property list, built once
// (callers only read it).
var attributeSchemas = sync.OnceValue(func() map[string][]propSpec {
	out := make(map[string][]propSpec, len(attrTypes))
	for _, t := range attrTypes {
		out[t.odataType] = append(append([]propSpec(nil), attributeCommonSchema...), t.props...)
	}
	return out
})

// checkProp checks a payload value against its property's kind and returns
// the OData reader's message ("" when valid).
func checkProp(p propSpec, v json.RawMessage) string {
	k := jsonKind(v)
	switch p.kind {
	case kLabel:
		if k == "null" {
			return ""
		}
		if k != "object" {
			return unexpectedNode(k, "StartObject")
		}
		return checkLabelShape(p.name, v)
	case kManaged, kAuditManaged:
		if k == "null" && p.kind == kManaged {
			return ""
		}
		if k == "null" {
			return fmt.Sprintf("A null value was found for the property named '%s', which has the expected type 'Microsoft.Dynamics.CRM.BooleanManagedProperty[Nullable=False]'. The expected type 'Microsoft.Dynamics.CRM.BooleanManagedProperty[Nullable=False]' does not allow null values.", p.name)
		}
		if k != "object" {
			return unexpectedNode(k, "StartObject")
		}
		o, err := parseRawObject(v)
		if err != nil {
			return "Invalid JSON. " + err.Error()
		}
		if msg := checkComplexMembers(o, "BooleanManagedProperty", booleanManagedPropertyMembers); msg != "" {
			return msg
		}
		for _, req := range []string{"Value", "CanBeChanged"} {
			if o.index(req) < 0 {
				return fmt.Sprintf("The property '%s' of '%s' is missing: a BooleanManagedProperty needs Value and CanBeChanged.", req, p.name)
			}
		}
		return ""
	case kComplex:
		if k == "null" || k == "object" {
			return ""
		}
		return unexpectedNode(k, "StartObject")
	case kCollection:
		if k == "null" || k == "array" {
			return ""
		}
		return unexpectedNode(k, "StartArray")
	}
	if prim, ok := primitiveKinds[p.kind]; ok {
		return checkPrimitive(prim.primitive, v, prim.nullable)
	}
	return ""
}

// primitiveKinds are the property kinds of one primitive type.
var primitiveKinds = map[propKind]complexMember{
	kBool: {"bool", true}, kBoolRequired: {"bool", false}, kInt32: {"int32", true}, kInt64: {"int64", true},
	kDecimal: {"decimal", true}, kDouble: {"double", true}, kString: {"string", true}, kGuid: {"guid", true},
	kDateTime: {"datetime", true},
}

// unexpectedNode is the OData reader's message for a value of JSON kind k
// where the node named expected (StartObject, StartArray) must start.
func unexpectedNode(k, expected string) string {
	return fmt.Sprintf("An unexpected '%s' node was found when reading from the JSON reader. A '%s' node was expected.", nodeName(k), expected)
}

// booleanManagedPropertyMembers are the properties of a
// BooleanManagedProperty; Value and CanBeChanged may not be null.
var booleanManagedPropertyMembers = map[string]complexMember{
	"Value":                      {"bool", false},
	"CanBeChanged":               {"bool", false},
	"ManagedPropertyLogicalName": {"string", true},
}

var edmNames = map[string]string{
	"bool": "Edm.Boolean", "int32": "Edm.Int32", "int64": "Edm.Int64", "decimal": "Edm.Decimal",
	"double": "Edm.Double", "string": "Edm.String", "guid": "Edm.Guid", "datetime": "Edm.DateTimeOffset",
}

// checkPrimitive checks a primitive JSON value against an Edm type.
func checkPrimitive(want string, v json.RawMessage, nullable bool) string {
	k := jsonKind(v)
	edm := edmNames[want]
	if k == "null" {
		if nullable {
			return ""
		}
		return fmt.Sprintf("A null value was found with the expected type '%s[Nullable=False]'. The expected type '%s[Nullable=False]' does not allow null values.", edm, edm)
	}
	if k == "object" || k == "array" {
		return unexpectedNode(k, "PrimitiveValue")
	}
	text := string(v)
	literal := text
	var str string
	switch k {
	case "string":
		_ = json.Unmarshal(v, &str)
		literal = str
	case "bool":
		literal = map[string]string{"true": "True", "false": "False"}[text]
	}
	ok := false
	switch want {
	case "bool":
		ok = k == "bool"
	case "string":
		ok = k == "string"
	case "guid":
		_, err := uuid.Parse(str)
		ok = k == "string" && err == nil && len(str) == 36
	case "datetime":
		ok = k == "string" && len(str) >= 10
	case "int32", "int64":
		if k == "number" {
			n, good := new(big.Int).SetString(text, 10)
			bits := 31
			if want == "int64" {
				bits = 63
			}
			limit := new(big.Int).Lsh(big.NewInt(1), uint(bits))
			ok = good && n.Cmp(limit) < 0 && n.Cmp(new(big.Int).Neg(limit)) >= 0
		}
	case "decimal", "double":
		ok = k == "number"
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", literal, edm)
}
