package emulator

// TEMPORARY: renders the whole catalogue so the old Go tables and the new
// embedded spec can be compared byte for byte. Deleted before the last commit.

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestZZDumpCatalogue(t *testing.T) {
	out := os.Getenv("CATALOGUE_DUMP")
	if out == "" {
		t.Skip("CATALOGUE_DUMP not set")
	}
	// 1. In-memory definitions with a fixed custom namespace.
	var mem bytes.Buffer
	cat := buildCatalogue(uuid.MustParse("11111111-2222-3333-4444-555555555555"), 5)
	names := make([]string, 0, len(cat))
	for n := range cat {
		names = append(names, n)
	}
	sort.Strings(names)
	cols := 0
	for _, n := range names {
		e := cat[n]
		fmt.Fprintf(&mem, "ENTITY %s %s published=%+v\n%s\n", e.logicalName, e.metadataID, e.published, mustRaw(e.props))
		if len(e.attrByName) != len(e.attrs) {
			t.Fatalf("%s: attrByName %d attrs %d", n, len(e.attrByName), len(e.attrs))
		}
		for _, a := range e.attrs {
			if e.attrByName[a.logicalName] != a {
				t.Fatalf("%s.%s not indexed", n, a.logicalName)
			}
			fmt.Fprintf(&mem, "ATTR %s %s %s\n%s\n", a.logicalName, a.metadataID, a.odataType, mustRaw(a.props))
			cols++
		}
	}
	t.Logf("%d tables, %d columns", len(names), cols)
	if err := os.WriteFile(out+".mem", mem.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// 2. What the server serves, custom ids renumbered by first appearance.
	s, token := metaServer(t, Options{ExtraCustomTables: 5})
	var served bytes.Buffer
	for _, n := range s.EntityNames() {
		path := "EntityDefinitions(LogicalName='" + n + "')"
		r := callAPI(t, s, http.MethodGet, path+"?$expand=Attributes", token, nil, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d", path, r.status)
		}
		fmt.Fprintf(&served, "GET %s\n%s\n", path, r.body)
		st, _ := s.EntityAudit(n)
		attrNames := make([]string, 0, len(st.Attributes))
		for a := range st.Attributes {
			attrNames = append(attrNames, a)
		}
		sort.Strings(attrNames)
		for _, a := range attrNames {
			cpath := path + "/Attributes(LogicalName='" + a + "')/" + strings.TrimPrefix(st.Attributes[a].ODataType, "#")
			r := callAPI(t, s, http.MethodGet, cpath, token, nil, nil)
			if r.status != 200 {
				t.Fatalf("%s: %d", cpath, r.status)
			}
			fmt.Fprintf(&served, "GET %s\n%s\n", cpath, r.body)
		}
	}
	ids := map[string]string{}
	re := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	host := regexp.MustCompile(`https://[^/"]+`)
	text := host.ReplaceAllString(served.String(), "https://HOST")
	text = re.ReplaceAllStringFunc(text, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("ID%06d", len(ids))
		}
		return ids[id]
	})
	if err := os.WriteFile(out+".served", []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
