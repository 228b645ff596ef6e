package dataverse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// A column PUT must name the column's metadata type in "@odata.type". The
// column items of RetrieveEntity / RetrieveAllEntities usually carry it as
// a complex type (Complex<Type>AttributeMetadata); whether every item does is
// not documented, so the type is also derived from AttributeTypeName and, as
// a last resort, read from the column itself.

// attributeTypeNameWire is AttributeMetadata.AttributeTypeName.
type attributeTypeNameWire struct {
	Value string `json:"Value"`
}

// metadataTypeByTypeName maps AttributeTypeName values to the metadata entity
// type of the column, as the AttributeTypeDisplayName ComplexType page lists
// them ("Value" → "Attribute Type"). Values the page marks "for internal use
// only" (CustomerType, OwnerType, PartyListType, CalendarRulesType,
// ManagedPropertyType) and values it does not list (VirtualType, FileType,
// MultiSelectPicklistType, …) are not mapped: their type is read from the
// column.
var metadataTypeByTypeName = map[string]string{
	"BigIntType":           "BigIntAttributeMetadata",
	"BooleanType":          "BooleanAttributeMetadata",
	"DateTimeType":         "DateTimeAttributeMetadata",
	"DecimalType":          "DecimalAttributeMetadata",
	"DoubleType":           "DoubleAttributeMetadata",
	"EntityNameType":       "EntityNameAttributeMetadata",
	"ImageType":            "ImageAttributeMetadata",
	"IntegerType":          "IntegerAttributeMetadata",
	"LookupType":           "LookupAttributeMetadata",
	"MemoType":             "MemoAttributeMetadata",
	"MoneyType":            "MoneyAttributeMetadata",
	"PicklistType":         "PicklistAttributeMetadata",
	"StateType":            "StateAttributeMetadata",
	"StatusType":           "StatusAttributeMetadata",
	"StringType":           "StringAttributeMetadata",
	"UniqueidentifierType": "UniqueIdentifierAttributeMetadata",
}

// columnMetadataType is the metadata type a column PUT carries, from an
// item's "@odata.type" (a Complex… type mapped to its entity type) or, when
// the item has none, from its AttributeTypeName; "" when neither says.
func columnMetadataType(odataType string, typeName *attributeTypeNameWire) string {
	if odataType != "" {
		return metadataTypeOf(odataType)
	}
	if typeName != nil {
		if t, ok := metadataTypeByTypeName[typeName.Value]; ok {
			return "Microsoft.Dynamics.CRM." + t
		}
	}
	return ""
}

// readColumnType reads a column's metadata type from the column itself: an
// uncast GET of one column answers with its derived type in "@odata.type"
// (OData names the type of an item whose type derives from the declared
// AttributeMetadata). One request, only for a column whose audit read said
// neither.
func (c *Client) readColumnType(ctx context.Context, table, column string) (string, error) {
	path, err := attributePath(table, column)
	if err != nil {
		return "", err
	}
	path += "?$select=LogicalName"
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return "", err
	}
	var body struct {
		ODataType string `json:"@odata.type"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return "", fmt.Errorf("dataverse: GET %s: %w", path, err)
	}
	if t := strings.TrimPrefix(body.ODataType, "#"); t != "" {
		return metadataTypeOf(t), nil
	}
	return "", fmt.Errorf("dataverse: GET %s: the answer does not name the column's type (@odata.type), which a column update must send", path)
}

// columnPutType is the type for a column's PUT: the audit read's, else the
// saved definition's, else read from the column.
func (m *MetadataCache) columnPutType(ctx context.Context, table string, col *AttributeAuditInfo, saved *attributeAuditWire) (string, error) {
	if col.ODataType != "" {
		return col.ODataType, nil
	}
	if t := columnMetadataType(saved.ODataType, saved.AttributeTypeName); t != "" {
		return t, nil
	}
	return m.c.readColumnType(ctx, table, col.LogicalName)
}
