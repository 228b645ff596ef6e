package provider

import (
	"slices"
	"strings"
	"testing"
)

var someTables = []string{"account", "contact", "contract", "incident", "lead", "new_project", "opportunity", "systemuser"}

func TestClosestNames(t *testing.T) {
	cases := []struct {
		unknown string
		max     int
		want    []string
	}{
		{"acount", 3, []string{"account"}},              // a deleted letter
		{"accuont", 3, []string{"account"}},             // swapped neighbours count once
		{"contcat", 3, []string{"contact", "contract"}}, // nearest first
		{"contrat", 1, []string{"contract"}},            // at most max names
		{"new_projet", 3, []string{"new_project"}},      // underscores are letters too
		{"lea", 3, []string{"lead"}},                    // short names allow one change
		{"xyz", 3, nil},                                 // nothing near
		{"account", 3, nil},                             // a known name suggests nothing
		{"opportunityproduct", 3, nil},                  // too far for a suggestion
		{"Account", 3, []string{"account"}},             // a capital letter is one change
		{"systemusers", 3, []string{"systemuser"}},      // an added letter
		{"", 3, nil},         // nothing to compare
		{"incidnet", 0, nil}, // max 0 asks for none
	}
	for _, c := range cases {
		if got := closestNames(c.unknown, someTables, c.max); !slices.Equal(got, c.want) {
			t.Errorf("closestNames(%q, %d) = %q, want %q", c.unknown, c.max, got, c.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	cases := map[string]string{
		"acount":  "Did you mean account?",
		"contcat": "Did you mean contact or contract?",
		"xyz":     "",
	}
	for unknown, want := range cases {
		if got := didYouMean(unknown, someTables); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", unknown, got, want)
		}
	}
	three := []string{"abcd", "abce", "abcf", "abcg"}
	if got, want := didYouMean("abc", three), "Did you mean abcd, abce or abcf?"; got != want {
		t.Errorf("didYouMean(abc) = %q, want %q", got, want)
	}
}

func TestSuggestionsFor(t *testing.T) {
	cases := []struct {
		unknown []string
		want    string
	}{
		{[]string{"acount"}, "Did you mean account?"},
		{[]string{"acount", "xyz", "contcat"}, `For "acount", did you mean account? For "contcat", did you mean contact or contract?`},
		{[]string{"xyz", "qqq"}, ""},
	}
	for _, c := range cases {
		if got := suggestionsFor(c.unknown, someTables); got != c.want {
			t.Errorf("suggestionsFor(%q) = %q, want %q", c.unknown, got, c.want)
		}
	}
	many := make([]string, 0, 2*maxSuggestedNames)
	for range 2 * maxSuggestedNames {
		many = append(many, "acount")
	}
	if got := strings.Count(suggestionsFor(many, someTables), "did you mean"); got != maxSuggestedNames {
		t.Errorf("suggestions for %d unknown names: %d, want %d", len(many), got, maxSuggestedNames)
	}
}
