package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// rawObject is a JSON object kept as its members' raw text, in order. Metadata
// definitions are stored this way so that what a client PUTs comes back
// byte for byte (numbers such as 9223372036854775807 or 0.0000000001 are
// never parsed) and a member a client leaves out is really gone.
//
// Member values are never modified in place: edits build new slices, so
// copies of a rawObject may share member values.
type rawObject []rawMember

type rawMember struct {
	name  string
	value json.RawMessage
}

func (o rawObject) MarshalJSON() ([]byte, error) {
	return marshalMembers(len(o), func(i int) (string, []byte, error) { return o[i].name, o[i].value, nil })
}

func (o rawObject) index(name string) int {
	for i, m := range o {
		if m.name == name {
			return i
		}
	}
	return -1
}

func (o rawObject) get(name string) (json.RawMessage, bool) {
	if i := o.index(name); i >= 0 {
		return o[i].value, true
	}
	return nil, false
}

// with returns a copy of o with name set to v (replaced in place, or
// appended).
func (o rawObject) with(name string, v json.RawMessage) rawObject {
	out := append(rawObject(nil), o...)
	if i := out.index(name); i >= 0 {
		out[i].value = v
		return out
	}
	return append(out, rawMember{name, v})
}

func (o rawObject) clone() rawObject { return append(rawObject(nil), o...) }

func mustRaw(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var errDuplicateProperty = errors.New("duplicate property")

// parseRawObject reads a JSON object keeping member order and raw values
// (compacted). Duplicate names are an error, as in the OData reader.
func parseRawObject(b []byte) (rawObject, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	obj := rawObject{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("%w '%s'", errDuplicateProperty, name)
		}
		seen[name] = true
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			return nil, err
		}
		obj = append(obj, rawMember{name, c.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("more than one value at the root")
	}
	return obj, nil
}

// jsonKind is the kind of a raw JSON value: "object", "array", "string",
// "number", "bool" or "null".
func jsonKind(v json.RawMessage) string {
	s := bytes.TrimSpace(v)
	if len(s) == 0 {
		return ""
	}
	switch s[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// managedValue reads a managed property {"Value":..,"CanBeChanged":..}.
type managedValue struct {
	present      bool
	value        json.RawMessage
	canBeChanged bool
	logicalName  string
}

func readManaged(o rawObject, name string) managedValue {
	raw, ok := o.get(name)
	if !ok || jsonKind(raw) != "object" {
		return managedValue{canBeChanged: true}
	}
	var m struct {
		Value                      json.RawMessage
		CanBeChanged               *bool
		ManagedPropertyLogicalName string
	}
	if json.Unmarshal(raw, &m) != nil {
		return managedValue{canBeChanged: true}
	}
	mv := managedValue{present: true, value: m.Value, canBeChanged: true, logicalName: m.ManagedPropertyLogicalName}
	if m.CanBeChanged != nil {
		mv.canBeChanged = *m.CanBeChanged
	}
	return mv
}

// boolValue reports whether a managed property's Value is JSON true.
func (m managedValue) boolValue() bool { return string(bytes.TrimSpace(m.value)) == "true" }

// readBool reads a plain boolean member (absent or null: false).
func readBool(o rawObject, name string) bool {
	raw, _ := o.get(name)
	return string(bytes.TrimSpace(raw)) == "true"
}

func readString(o rawObject, name string) string {
	raw, _ := o.get(name)
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// setManaged returns o with the managed property's Value and CanBeChanged
// set, keeping its other members (a missing property is created).
func setManaged(o rawObject, name string, value, canBeChanged bool, logicalName string) rawObject {
	var prop rawObject
	if raw, ok := o.get(name); ok && jsonKind(raw) == "object" {
		prop, _ = parseRawObject(raw)
	}
	if prop == nil {
		prop = rawObject{}
	}
	prop = prop.with("Value", mustRaw(value)).with("CanBeChanged", mustRaw(canBeChanged))
	if prop.index("ManagedPropertyLogicalName") < 0 {
		prop = prop.with("ManagedPropertyLogicalName", mustRaw(logicalName))
	}
	return o.with(name, mustRaw(prop))
}

// isLabel reports whether v is a Label: an object with LocalizedLabels.
func isLabel(v json.RawMessage) bool {
	if jsonKind(v) != "object" {
		return false
	}
	o, err := parseRawObject(v)
	return err == nil && o.index("LocalizedLabels") >= 0
}

// userLanguage is the language of UserLocalizedLabel for every caller.
const userLanguage = 1033

// rebuildLabel returns the Label for sent, merged with stored when merge is
// set: languages sent replace theirs, the others are kept. UserLocalizedLabel
// is recomputed from the result for the caller's language (1033), as the
// service derives it rather than storing it.
func rebuildLabel(sent, stored json.RawMessage, merge bool) (json.RawMessage, error) {
	sentObj, err := parseRawObject(sent)
	if err != nil {
		return nil, err
	}
	sentLabels, err := localizedLabels(sentObj)
	if err != nil {
		return nil, err
	}
	result := sentLabels
	if merge && isLabel(stored) {
		storedObj, _ := parseRawObject(stored)
		storedLabels, _ := localizedLabels(storedObj)
		bySent := map[int]json.RawMessage{}
		for _, l := range sentLabels {
			bySent[labelLanguage(l)] = l
		}
		result = nil
		used := map[int]bool{}
		for _, l := range storedLabels {
			lang := labelLanguage(l)
			if s, ok := bySent[lang]; ok {
				if !used[lang] {
					result = append(result, s)
					used[lang] = true
				}
				continue
			}
			result = append(result, l)
		}
		for _, l := range sentLabels {
			if lang := labelLanguage(l); !used[lang] {
				result = append(result, l)
				used[lang] = true
			}
		}
	}
	if result == nil {
		result = []json.RawMessage{}
	}
	user := json.RawMessage("null")
	for _, l := range result {
		if labelLanguage(l) == userLanguage {
			user = l
			break
		}
	}
	out := sentObj.with("LocalizedLabels", mustRaw(result))
	return mustRaw(out.with("UserLocalizedLabel", user)), nil
}

func localizedLabels(o rawObject) ([]json.RawMessage, error) {
	raw, _ := o.get("LocalizedLabels")
	if jsonKind(raw) == "null" {
		return nil, nil
	}
	var labels []json.RawMessage
	if err := json.Unmarshal(raw, &labels); err != nil {
		return nil, err
	}
	return labels, nil
}

func labelLanguage(l json.RawMessage) int {
	var v struct{ LanguageCode int }
	_ = json.Unmarshal(l, &v)
	return v.LanguageCode
}

// checkLabelShape validates a Label the way the OData reader would; it
// returns the reader's message or "".
func checkLabelShape(name string, v json.RawMessage) string {
	o, err := parseRawObject(v)
	if err != nil {
		return fmt.Sprintf("An unexpected 'PrimitiveValue' node was found when reading property '%s' from the JSON reader. A 'StartObject' node was expected.", name)
	}
	for _, m := range o {
		switch m.name {
		case "LocalizedLabels":
			k := jsonKind(m.value)
			if k == "null" {
				continue
			}
			if k != "array" {
				return fmt.Sprintf("An unexpected '%s' node was found when reading property 'LocalizedLabels' of '%s' from the JSON reader. A 'StartArray' node was expected.", nodeName(k), name)
			}
			var items []json.RawMessage
			_ = json.Unmarshal(m.value, &items)
			for _, it := range items {
				if msg := checkLocalizedLabel(it); msg != "" {
					return msg
				}
			}
		case "UserLocalizedLabel":
			if jsonKind(m.value) == "null" {
				continue
			}
			if msg := checkLocalizedLabel(m.value); msg != "" {
				return msg
			}
		default:
			if strings.HasPrefix(m.name, "@") {
				continue
			}
			return unknownPropertyMessage(m.name, "Label")
		}
	}
	return ""
}

// complexMember is one property of a complex type in a PUT body: the
// primitive type its value must have and whether null is accepted.
type complexMember struct {
	primitive string
	nullable  bool
}

// localizedLabelMembers are the properties of a LocalizedLabel; only
// LanguageCode may not be null.
var localizedLabelMembers = map[string]complexMember{
	"Label":        {"string", true},
	"LanguageCode": {"int32", false},
	"IsManaged":    {"bool", true},
	"HasChanged":   {"bool", true},
	"MetadataId":   {"guid", true},
}

// checkComplexMembers checks each property of o against the members of the
// complex type typeName: an unknown name (other than an @-annotation) or a
// value of the wrong type is the service's message for it.
func checkComplexMembers(o rawObject, typeName string, members map[string]complexMember) string {
	for _, m := range o {
		member, known := members[m.name]
		if !known {
			if strings.HasPrefix(m.name, "@") {
				continue
			}
			return unknownPropertyMessage(m.name, typeName)
		}
		if msg := checkPrimitive(member.primitive, m.value, member.nullable); msg != "" {
			return msg
		}
	}
	return ""
}

func unknownPropertyMessage(name, typeName string) string {
	return fmt.Sprintf("The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.%s'. Make sure to only use property names that are defined by the type.", name, typeName)
}

func checkLocalizedLabel(v json.RawMessage) string {
	o, err := parseRawObject(v)
	if err != nil {
		return "An unexpected 'PrimitiveValue' node was found when reading a LocalizedLabel from the JSON reader. A 'StartObject' node was expected."
	}
	if msg := checkComplexMembers(o, "LocalizedLabel", localizedLabelMembers); msg != "" {
		return msg
	}
	if _, ok := o.get("LanguageCode"); !ok {
		return "A LocalizedLabel must have a LanguageCode."
	}
	return ""
}

func nodeName(kind string) string {
	switch kind {
	case "object":
		return "StartObject"
	case "array":
		return "StartArray"
	}
	return "PrimitiveValue"
}
