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
		buf, _ = appendObject(buf, x, appendMarshalString, func(b []byte, v any) ([]byte, error) {
			return appendCatalogueValue(b, v), nil
		})
		return buf
	case []any:
		return appendList(buf, x, func(v any, b []byte) []byte { return appendCatalogueValue(b, v) })
	case []object:
		return appendList(buf, x, func(o object, b []byte) []byte { return appendCatalogueValue(b, o) })
	case []string:
		return appendList(buf, x, func(s string, b []byte) []byte { return appendMarshalString(b, s) })
	case []int:
		return appendList(buf, x, func(n int, b []byte) []byte { return strconv.AppendInt(b, int64(n), 10) })
	}
	return append(buf, mustRaw(v)...)
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
