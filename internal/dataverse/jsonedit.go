package dataverse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Metadata cannot be PATCHed: a change is a PUT of the whole definition, and
// whatever the PUT leaves out or alters is lost on someone's table. So edits
// are made on the bytes the server sent: the changed value is spliced in and
// every other byte stays as it was — numbers are never parsed into float64,
// unknown properties and labels are never decoded into structs.

// errJSONPathNotFound is wrapped by setJSONValue and getJSONValue when a key
// along the path is missing.
var errJSONPathNotFound = errors.New("JSON path not found")

// jsonMember is one "key": value of a JSON object, with offsets into the
// object's bytes.
type jsonMember struct {
	key    string          // unescaped
	rawKey []byte          // as written, with its quotes
	value  json.RawMessage // as written
	// valStart and valEnd delimit value in the object's bytes.
	valStart, valEnd int
}

// parseJSONObject splits a JSON object into its members in order. data must
// be valid JSON (the scanner relies on it); a value that is not an object, or
// duplicate keys (whose meaning differs between parsers), are errors.
func parseJSONObject(data []byte) ([]jsonMember, error) {
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	i = skipJSONSpace(data, i+1)
	var members []jsonMember
	seen := map[string]bool{}
	if i < len(data) && data[i] == '}' {
		return members, nil
	}
	for i < len(data) {
		keyEnd := scanJSONValue(data, i)
		rawKey := data[i:keyEnd]
		var key string
		if err := json.Unmarshal(rawKey, &key); err != nil {
			return nil, fmt.Errorf("reading object key: %w", err)
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		i = skipJSONSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return nil, errors.New("malformed object")
		}
		vs := skipJSONSpace(data, i+1)
		ve := scanJSONValue(data, vs)
		members = append(members, jsonMember{key: key, rawKey: rawKey, value: data[vs:ve], valStart: vs, valEnd: ve})
		i = skipJSONSpace(data, ve)
		if i >= len(data) {
			break
		}
		if data[i] == '}' {
			return members, nil
		}
		if data[i] != ',' {
			return nil, errors.New("malformed object")
		}
		i = skipJSONSpace(data, i+1)
	}
	return nil, errors.New("unterminated object")
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanJSONValue returns the end of the (valid) JSON value starting at i.
func scanJSONValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return scanJSONString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = scanJSONString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(data) {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// scanJSONString returns the end of the string literal starting at data[i] == '"'.
func scanJSONString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// encodeJSONObject writes members in order, keys as they were written.
// Whitespace between members is not kept; keys and values are byte-identical.
func encodeJSONObject(members []jsonMember) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(m.rawKey)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// marshalJSONValue encodes v without HTML escaping (labels may contain < > &);
// a json.RawMessage is validated and compacted.
func marshalJSONValue(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func jsonPathString(path []string) string {
	return strings.Join(path, ".")
}

// findJSONMember returns the member named key of the object data.
func findJSONMember(data []byte, key string) (jsonMember, error) {
	members, err := parseJSONObject(data)
	if err != nil {
		return jsonMember{}, err
	}
	for _, m := range members {
		if m.key == key {
			return m, nil
		}
	}
	return jsonMember{}, errJSONPathNotFound
}

// setJSONValue returns a copy of def with the value at path (object keys,
// e.g. "IsAuditEnabled", "Value") replaced by value encoded as JSON. All
// other bytes of def are kept as they were, so numbers keep their exact text
// and unknown properties, key order and whitespace are untouched. It fails if
// def is not valid JSON, if a key along the path is missing (wrapping
// errJSONPathNotFound) or if a value along the path is not an object.
func setJSONValue(def json.RawMessage, value any, path ...string) (json.RawMessage, error) {
	if len(path) == 0 {
		return nil, errors.New("dataverse: setJSONValue: empty path")
	}
	if !json.Valid(def) {
		return nil, errors.New("dataverse: setJSONValue: the definition is not valid JSON")
	}
	encoded, err := marshalJSONValue(value)
	if err != nil {
		return nil, fmt.Errorf("dataverse: setJSONValue %s: encoding the value: %w", jsonPathString(path), err)
	}
	out, err := spliceJSONValue(def, encoded, path, 0)
	if err != nil {
		return nil, fmt.Errorf("dataverse: setJSONValue %s: %w", jsonPathString(path), err)
	}
	return out, nil
}

func spliceJSONValue(data, encoded []byte, path []string, depth int) ([]byte, error) {
	m, err := findJSONMember(data, path[depth])
	if err != nil {
		if errors.Is(err, errJSONPathNotFound) {
			return nil, fmt.Errorf("key %q: %w", jsonPathString(path[:depth+1]), err)
		}
		where := "the definition"
		if depth > 0 {
			where = fmt.Sprintf("%q", jsonPathString(path[:depth]))
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	replacement := encoded
	if depth+1 < len(path) {
		if replacement, err = spliceJSONValue(m.value, encoded, path, depth+1); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, len(data)-len(m.value)+len(replacement))
	out = append(out, data[:m.valStart]...)
	out = append(out, replacement...)
	out = append(out, data[m.valEnd:]...)
	return out, nil
}

// getJSONValue decodes the value at path of def into out; numbers decoded
// into interface{} values are json.Number. A missing key wraps
// errJSONPathNotFound.
func getJSONValue(def json.RawMessage, out any, path ...string) error {
	if !json.Valid(def) {
		return errors.New("dataverse: getJSONValue: the definition is not valid JSON")
	}
	data := []byte(def)
	for depth, key := range path {
		m, err := findJSONMember(data, key)
		if err != nil {
			if errors.Is(err, errJSONPathNotFound) {
				return fmt.Errorf("dataverse: getJSONValue: key %q: %w", jsonPathString(path[:depth+1]), err)
			}
			return fmt.Errorf("dataverse: getJSONValue %s: %w", jsonPathString(path), err)
		}
		data = m.value
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("dataverse: getJSONValue %s: %w", jsonPathString(path), err)
	}
	return nil
}

// canonicalJSON re-encodes def with object keys sorted, no insignificant
// whitespace, strings in one escaping, and numbers kept as their text (so
// 1.0 and 1 differ, as they would on the wire). Two definitions are equal
// property for property when their canonical forms are equal. Objects with
// duplicate keys are an error.
func canonicalJSON(def json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber()
	var b bytes.Buffer
	if err := writeCanonical(dec, &b); err != nil {
		return nil, fmt.Errorf("dataverse: canonicalJSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("dataverse: canonicalJSON: data after the JSON value")
	}
	return b.Bytes(), nil
}

func writeCanonical(dec *json.Decoder, b *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			b.WriteByte('[')
			for n := 0; dec.More(); n++ {
				if n > 0 {
					b.WriteByte(',')
				}
				if err := writeCanonical(dec, b); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return err
			}
			b.WriteByte(']')
		case '{':
			members := map[string][]byte{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				if _, dup := members[key]; dup {
					return fmt.Errorf("duplicate key %q", key)
				}
				var vb bytes.Buffer
				if err := writeCanonical(dec, &vb); err != nil {
					return err
				}
				members[key] = vb.Bytes()
			}
			if _, err := dec.Token(); err != nil { // '}'
				return err
			}
			keys := make([]string, 0, len(members))
			for k := range members {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				kb, err := marshalJSONValue(k)
				if err != nil {
					return err
				}
				b.Write(kb)
				b.WriteByte(':')
				b.Write(members[k])
			}
			b.WriteByte('}')
		default:
			return fmt.Errorf("unexpected %v", t)
		}
	case string:
		sb, err := marshalJSONValue(t)
		if err != nil {
			return err
		}
		b.Write(sb)
	case json.Number:
		b.WriteString(string(t))
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}

// prepareDefinitionForPut drops the OData control information a GET adds
// (@odata.context, @odata.etag, …) from the top level of def, keeping
// @odata.type. With odataType set, "@odata.type": "#<odataType>" becomes the
// first member (OData wants control information before the properties).
func prepareDefinitionForPut(def json.RawMessage, odataType string) (json.RawMessage, error) {
	if !json.Valid(def) {
		return nil, errors.New("the definition is not valid JSON")
	}
	members, err := parseJSONObject(def)
	if err != nil {
		return nil, fmt.Errorf("the definition: %w", err)
	}
	kept := make([]jsonMember, 0, len(members)+1)
	if odataType != "" {
		rawType, err := marshalJSONValue("#" + odataType)
		if err != nil {
			return nil, err
		}
		kept = append(kept, jsonMember{key: "@odata.type", rawKey: []byte(`"@odata.type"`), value: rawType})
	}
	for _, m := range members {
		if strings.HasPrefix(m.key, "@odata.") && (m.key != "@odata.type" || odataType != "") {
			continue
		}
		if odataType != "" && columnNavigationProperties[m.key] {
			continue
		}
		kept = append(kept, m)
	}
	return encodeJSONObject(kept), nil
}

// columnNavigationProperties are navigation properties of column types
// ("PicklistAttributeMetadata EntityType": OptionSet, GlobalOptionSet) that
// RetrieveEntity serves inline. Microsoft's update sample PUTs the column
// as a typed GET returns it, without them; options change through their own
// messages (InsertOptionValue, …). So a column PUT leaves them out rather
// than send the options back in an undocumented shape.
var columnNavigationProperties = map[string]bool{"OptionSet": true, "GlobalOptionSet": true}
