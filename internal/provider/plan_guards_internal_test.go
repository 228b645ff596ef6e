package provider

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// 5,000 unknown columns make one diagnostic that lists the first names,
// quickly (they once made 5,000 diagnostics and a 114 s plan).
func TestUnknownColumnsOneCappedDiagnostic(t *testing.T) {
	info := sampleAuditInfo()
	target := entityTarget{Attributes: map[string]bool{}}
	for i := range 5000 {
		target.Attributes[fmt.Sprintf("nosuch%04d", i)] = true
	}
	target.Attributes["nme"] = true
	start := time.Now()
	got := diagTexts(checkEntityTarget("https://org", info, target))
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("checking took %s", elapsed)
	}
	if len(got) != 1 {
		t.Fatalf("got %d diagnostics, want 1", len(got))
	}
	for _, want := range []string{`has no columns "nme", "nosuch0000",`, `"nosuch0018", and 4981 more in https://org`, `For "nme", did you mean name?`} {
		if !strings.Contains(got[0], want) {
			t.Errorf("diagnostic lacks %q: %.600s", want, got[0])
		}
	}
}

// The first resource to plan a table holds it; the same resource planned
// again (equal configuration) is not a conflict; another resource is, with
// the columns both set.
func TestPlanGuardsClaimTable(t *testing.T) {
	g := newPlanGuards()
	first := tftypes.NewValue(tftypes.String, "first")
	second := tftypes.NewValue(tftypes.String, "second")
	if ok, _ := g.claimTable("account", first, map[string]bool{"name": true, "fax": true}); !ok {
		t.Fatal("first claim refused")
	}
	if ok, _ := g.claimTable("account", first, map[string]bool{"name": true, "fax": true}); !ok {
		t.Error("the same resource planned again was refused")
	}
	if ok, _ := g.claimTable("contact", second, nil); !ok {
		t.Error("another table was refused")
	}
	ok, overlap := g.claimTable("account", second, map[string]bool{"fax": true, "name": true, "telephone1": true})
	if ok || strings.Join(overlap, ",") != "fax,name" {
		t.Errorf("second resource: ok=%t overlap=%v, want refused with fax,name", ok, overlap)
	}
	if ok, _ := newPlanGuards().claimTable("account", second, nil); !ok {
		t.Error("a new provider configuration starts with no claims")
	}
}
