package emulator

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// legacyComplexEntity is complexEntity as it was before answers were
// written in one pass: a rawObject whose Attributes member is the
// json.Marshal of the columns.
func legacyComplexEntity(e *entityDef, v definitionView, withAttributes bool) rawObject {
	out := v.entityProps(e).clone()
	if !withAttributes {
		return out
	}
	items := make([]rawObject, 0, len(e.attrs))
	for i, a := range e.attrs {
		item := rawObject{{"@odata.type", mustRaw("#" + complexTypeName(a.odataType))}}
		items = append(items, append(item, v.attrProps(e, i)...))
	}
	return append(out, rawMember{"Attributes", mustRaw(items)})
}

// TestMarshalODataWritesWhatJSONMarshalWrote: the one-pass writer gives
// the bytes json.Marshal gave for the old answer trees, including values
// that json.Marshal compacts or HTML-escapes (a PUT stores them as sent,
// compacted by json.Compact, which does not escape).
func TestMarshalODataWritesWhatJSONMarshalWrote(t *testing.T) {
	store := newMetaStore(catalogueShape{extraCustomTables: 2})
	e := store.entities[store.names[0]]
	// Values as a PUT could leave them: <, >, & and U+2028 in a label, and
	// a value with whitespace (never stored today; the writer must still
	// compact it).
	e.attrs[0].props = e.attrs[0].props.with("Description", json.RawMessage("{\"Label\":\"a <b> & c\u2028d\"}"))
	e.props = e.props.with("DisplayName", json.RawMessage(`{ "Label" : "x" }`))
	for _, v := range []definitionView{savedView, publishedView} {
		var legacy []rawObject
		var items []complexDefinition
		for _, name := range store.names {
			ent := store.entities[name]
			legacy = append(legacy, legacyComplexEntity(ent, v, true))
			items = append(items, (&metadataPart{}).complexEntity(ent, v, true))
		}
		when := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		old := object{{"@odata.context", "https://x/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RetrieveAllEntitiesResponse"}, {"Timestamp", when}, {"EntityMetadata", legacy}}
		now := object{{"@odata.context", "https://x/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RetrieveAllEntitiesResponse"}, {"Timestamp", when}, {"EntityMetadata", items}}
		sameAsJSONMarshal(t, now, old)
		for _, withAttributes := range []bool{false, true} {
			want, _ := json.Marshal(object{{"EntityMetadata", legacyComplexEntity(e, v, withAttributes)}})
			got, _ := marshalOData(object{{"EntityMetadata", (&metadataPart{}).complexEntity(e, v, withAttributes)}})
			if !bytes.Equal(got, want) {
				t.Fatalf("one table, attributes %t:\n got %.300s\nwant %.300s", withAttributes, got, want)
			}
		}
	}
	// The answers of the other routes: errors, nested objects, lists of
	// definitions, nulls and other values json.Marshal writes.
	for _, body := range []object{
		{{"error", object{{"code", "0x80040217"}, {"message", `entity "x" <not> found & more`}}}},
		{{"value", []rawObject{e.props, nil, {}}}, {"n", 3}, {"none", nil}, {"list", []rawObject(nil)}, {"raw", json.RawMessage(nil)}},
		{{"value", []object{{{"a", 1}}}}, {"m", map[string]any{"k": "<v>"}}, {"t", time.Unix(0, 0)}, {"ü", "ünïcode\u2029"}},
		{},
	} {
		sameAsJSONMarshal(t, body, body)
	}
}

// sameAsJSONMarshal checks that marshalOData(now) writes what
// json.Marshal(old) wrote.
func sameAsJSONMarshal(t *testing.T, now, old object) {
	t.Helper()
	want, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	got, err := marshalOData(now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%d bytes differ from json.Marshal's %d:\n got %.300s\nwant %.300s", len(got), len(want), got, want)
	}
}

func TestCompactAndEscaped(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`{"a":"b c","d":[1,2]}`, true},
		{`{"a":"\" x"}`, true},
		{`{"a":"\\"}`, true},
		{`{"a": 1}`, false},
		{"{\"a\":1\n}", false},
		{`{"a":"<"}`, false},
		{`{"a":"&"}`, false},
		{"{\"a\":\"\u2028\"}", false},
		{"{\"a\":\"\u2027\u202a\"}", true},
	} {
		if got := compactAndEscaped([]byte(c.in)); got != c.want {
			t.Errorf("compactAndEscaped(%q) = %t, want %t", c.in, got, c.want)
		}
	}
}

// retrieveAllEntitiesBody is the RetrieveAllEntities answer with columns
// for the catalogue and extra generated tables, as built under the lock:
// the one-pass items and, for comparison, the rawObjects of before.
func retrieveAllEntitiesBody(extra int) (now, legacy object) {
	store := newMetaStore(catalogueShape{extraCustomTables: extra})
	var items []complexDefinition
	var old []rawObject
	for _, name := range store.names {
		items = append(items, (&metadataPart{}).complexEntity(store.entities[name], savedView, true))
		old = append(old, legacyComplexEntity(store.entities[name], savedView, true))
	}
	head := object{{"@odata.context", "https://x/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RetrieveAllEntitiesResponse"}}
	return append(head, member{"EntityMetadata", items}), append(head, member{"EntityMetadata", old})
}

// The answer of RetrieveAllEntities with columns for 374 tables (34 MB):
// one pass (marshalOData) against json.Marshal of the rawObject tree.
func BenchmarkMarshalRetrieveAllEntities_374Tables(b *testing.B) {
	now, legacy := retrieveAllEntitiesBody(300)
	b.Run("one-pass", func(b *testing.B) {
		for range b.N {
			if _, err := marshalOData(now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for range b.N {
			if _, err := json.Marshal(legacy); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCompactAndEscaped(b *testing.B) {
	now, _ := retrieveAllEntitiesBody(300)
	body, _ := appendJSONValue(nil, now)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for range b.N {
		if !compactAndEscaped(body) {
			b.Fatal("not compact")
		}
	}
}
