package emulator

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// catalogueValue encodes a catalogue value exactly as json.Marshal does, for
// the kinds definitions are built from (nil, bool, int, string, raw JSON,
// object and slices of those), without reflection and sharing the bytes of
// null, true and false. The large catalogue expands 80,000 columns of about
// 55 members each: through json.Marshal that took over 15 seconds and
// twice the memory. Anything else goes to json.Marshal.
func catalogueValue(v any) json.RawMessage {
	switch x := v.(type) {
	case nil:
		return rawNull
	case bool:
		if x {
			return rawTrue
		}
		return rawFalse
	case int:
		return strconv.AppendInt(nil, int64(x), 10)
	case string:
		return appendMarshalString(nil, x)
	case json.RawMessage:
		return x
	}
	return appendCatalogueValue(nil, v)
}

var (
	rawNull  = json.RawMessage("null")
	rawTrue  = json.RawMessage("true")
	rawFalse = json.RawMessage("false")
)

func appendCatalogueValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil, bool:
		return append(buf, catalogueValue(x)...)
	case int:
		return strconv.AppendInt(buf, int64(x), 10)
	case string:
		return appendMarshalString(buf, x)
	case json.RawMessage:
		if x == nil {
			return append(buf, rawNull...)
		}
		return append(buf, x...)
	case object:
		for _, m := range x {
			if _, isTime := m.value.(time.Time); isTime {
				// object.MarshalJSON writes times in Dataverse's format.
				return append(buf, mustRaw(x)...)
			}
		}
		buf = append(buf, '{')
		for i, m := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendMarshalString(buf, m.name)
			buf = append(buf, ':')
			buf = appendCatalogueValue(buf, m.value)
		}
		return append(buf, '}')
	case []any:
		return appendSlice(buf, x == nil, len(x), func(b []byte, i int) []byte { return appendCatalogueValue(b, x[i]) })
	case []object:
		return appendSlice(buf, x == nil, len(x), func(b []byte, i int) []byte { return appendCatalogueValue(b, x[i]) })
	case []string:
		return appendSlice(buf, x == nil, len(x), func(b []byte, i int) []byte { return appendMarshalString(b, x[i]) })
	case []int:
		return appendSlice(buf, x == nil, len(x), func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(x[i]), 10) })
	}
	return append(buf, mustRaw(v)...)
}

// appendSlice writes a JSON array, or null for a nil slice as json.Marshal
// does.
func appendSlice(buf []byte, isNil bool, n int, elem func([]byte, int) []byte) []byte {
	if isNil {
		return append(buf, rawNull...)
	}
	buf = append(buf, '[')
	for i := range n {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = elem(buf, i)
	}
	return append(buf, ']')
}

// appendMarshalString quotes s byte for byte as json.Marshal does (unlike
// audit_json.go's appendJSONString, it escapes <, > and &). Strings it would escape
// (quotes, backslashes, control characters, <, >, &, invalid UTF-8,
// U+2028/U+2029) go through json.Marshal; catalogue text has none.
func appendMarshalString(buf []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return append(buf, mustRaw(s)...)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return append(buf, mustRaw(s)...)
		}
		i += size
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
