package emulator

import (
	"encoding/json"
	"time"
)

// Writing OData answers. An answer is an object whose members may be
// definitions kept as raw JSON (rawObject), lists of them, or nested
// objects. json.Marshal on such a tree calls MarshalJSON at every level and
// compacts (and HTML-escapes) what each returns, so a column definition
// inside RetrieveAllEntities was copied and scanned four times over; with
// 374 tables and their columns (34 MB) that took more than a CPU second a
// request. appendJSONValue writes the tree once, values as stored, and
// marshalOData compacts the result only if it is not compact already:
// compacting and escaping are idempotent, so the bytes are those
// json.Marshal(body) wrote.

// complexDefinition is a table as the metadata functions answer it
// (ComplexEntityMetadata): its properties, then, with EntityFilters
// Attributes, its columns, each led by its complex @odata.type.
type complexDefinition struct {
	props          rawObject
	withAttributes bool
	columns        []complexColumn
}

type complexColumn struct {
	odataType string // with its leading '#'
	props     rawObject
}

// appendJSON appends d as rawObject{props..., "Attributes": [columns]}.
func (d complexDefinition) appendJSON(b []byte) []byte {
	b = d.props.appendMembers(append(b, '{'))
	if d.withAttributes {
		if len(d.props) > 0 {
			b = append(b, ',')
		}
		b = append(b, `"Attributes":[`...)
		for i, c := range d.columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if c.odataType != "" { // Options.FunctionAttributeItemsUntyped
				b = appendJSONString(append(b, `"@odata.type":`...), c.odataType)
				if len(c.props) > 0 {
					b = append(b, ',')
				}
			}
			b = append(c.props.appendMembers(b), '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// MarshalJSON lets encoding/json write d too (it compacts the result).
func (d complexDefinition) MarshalJSON() ([]byte, error) { return d.appendJSON(nil), nil }

// size is about the length of d as JSON, to size the answer's buffer.
func (d complexDefinition) size() int {
	n := d.props.size() + len(`"Attributes":[]`)
	for _, c := range d.columns {
		n += c.props.size() + len(`{"@odata.type":"",}`) + len(c.odataType)
	}
	return n
}

// appendJSONValue appends v as JSON, member values of rawObjects as stored,
// not yet compacted. The cases mirror what encoding/json does with them: a
// nil rawObject or object is {} (MarshalJSON on a nil slice), a nil list
// or json.RawMessage is null, a time.Time member of an object is a
// Dataverse timestamp. Anything else goes through json.Marshal.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case json.RawMessage:
		if x == nil {
			return append(b, "null"...), nil
		}
		return append(b, x...), nil
	case rawObject:
		return x.appendJSON(b), nil
	case complexDefinition:
		return x.appendJSON(b), nil
	case []rawObject:
		return appendList(b, x, rawObject.appendJSON), nil
	case []complexDefinition:
		return appendList(b, x, complexDefinition.appendJSON), nil
	case object:
		return appendObject(b, x, appendJSONString, func(b []byte, value any) ([]byte, error) {
			if t, ok := value.(time.Time); ok {
				value = t.UTC().Format(dataverseTimeFormat)
			}
			return appendJSONValue(b, value)
		})
	}
	m, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, m...), nil
}

// appendObject writes x as a JSON object: each name quoted by appendName,
// each value written by appendValue.
func appendObject(b []byte, x object, appendName func([]byte, string) []byte, appendValue func([]byte, any) ([]byte, error)) ([]byte, error) {
	b = append(b, '{')
	for i, m := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendName(b, m.name)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m.value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendList writes a JSON array, or null for a nil slice as json.Marshal
// does.
func appendList[T any](b []byte, items []T, appendItem func(T, []byte) []byte) []byte {
	if items == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendItem(it, b)
	}
	return append(b, ']')
}

// sizeHint is about the length of v as JSON where it is large (definitions),
// 0 where it is not known.
func sizeHint(v any) int {
	switch x := v.(type) {
	case json.RawMessage:
		return len(x)
	case rawObject:
		return x.size()
	case complexDefinition:
		return x.size()
	case []rawObject:
		n := 2
		for _, o := range x {
			n += o.size() + 1
		}
		return n
	case []complexDefinition:
		n := 2
		for _, d := range x {
			n += d.size() + 1
		}
		return n
	case object:
		n := 2
		for _, m := range x {
			n += len(m.name) + 4 + sizeHint(m.value)
		}
		return n
	}
	return 0
}

// appendJSON appends o with its members' values as stored (what
// MarshalJSON returns, before encoding/json compacts it).
func (o rawObject) appendJSON(b []byte) []byte {
	return append(o.appendMembers(append(b, '{')), '}')
}

// appendMembers appends o's members without the braces.
func (o rawObject) appendMembers(b []byte) []byte {
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, m.name)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return b
}

func (o rawObject) size() int {
	n := 2
	for _, m := range o {
		n += len(m.name) + len(m.value) + 4
	}
	return n
}

// rawList is items as one raw JSON array, for a member of a rendered
// definition (its Attributes). It may not be compact: only writeOData,
// which compacts the whole answer where needed, may write it.
func rawList(items []rawObject) json.RawMessage {
	b, _ := appendJSONValue(make([]byte, 0, sizeHint(items)), items)
	return b
}

// marshalOData is json.Marshal(body), in one pass over the values.
func marshalOData(body object) ([]byte, error) {
	raw, err := appendJSONValue(make([]byte, 0, sizeHint(body)), body)
	if err != nil {
		return nil, err
	}
	if compactAndEscaped(raw) {
		return raw, nil
	}
	// Marshalling a json.RawMessage compacts and HTML-escapes it, which
	// is what json.Marshal did to every MarshalJSON answer in the tree.
	return json.Marshal(json.RawMessage(raw))
}

// compactAndEscaped reports whether compacting and HTML-escaping the JSON
// text b, as json.Marshal does, would leave it unchanged: no whitespace
// outside strings and no <, >, &, U+2028 or U+2029. b is valid JSON: it
// is built from values that encoding/json wrote or compacted.
func compactAndEscaped(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if jsonSpecial[c] == 0 {
			continue
		}
		switch c {
		case '"':
			inString = !inString
		case '\\':
			i++ // in a string (valid JSON has none outside): skip what it escapes
		case ' ', '\t', '\n', '\r':
			if !inString {
				return false
			}
		case 0xE2: // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
			if i+2 < len(b) && b[i+1] == 0x80 && b[i+2]&^1 == 0xA8 {
				return false
			}
		default: // <, >, &
			return false
		}
	}
	return true
}

// jsonSpecial marks the bytes compactAndEscaped looks at.
var jsonSpecial = [256]uint8{'"': 1, '\\': 1, ' ': 1, '\t': 1, '\n': 1, '\r': 1, 0xE2: 1, '<': 1, '>': 1, '&': 1}
