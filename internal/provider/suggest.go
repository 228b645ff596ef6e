package provider

import (
	"fmt"
	"strings"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/names"
)

// maxSuggestions is how many names an unknown-name error proposes.
const maxSuggestions = 3

// closestNames returns up to maxNames names of known nearest to unknown
// (names.Closest).
func closestNames(unknown string, known []string, maxNames int) []string {
	return names.Closest(unknown, known, maxNames)
}

// didYouMean is the sentence an unknown-name error ends with: "Did you mean
// account?" or "Did you mean contact or contract?", or "" when no known name
// is near.
func didYouMean(unknown string, known []string) string {
	names := closestNames(unknown, known, maxSuggestions)
	switch len(names) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("Did you mean %s?", names[0])
	}
	return fmt.Sprintf("Did you mean %s or %s?", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// maxSuggestedNames is how many unknown names of one error get suggestions:
// the error stays readable when a whole list is wrong.
const maxSuggestedNames = 10

// suggestionsFor is the sentence an error about several unknown names ends
// with: "Did you mean account?" for one, `For "acount", did you mean
// account? For "contcat", did you mean contact or contract?` for several
// (the first maxSuggestedNames of them), or "" when no known name is near.
func suggestionsFor(unknown, known []string) string {
	if len(unknown) == 1 {
		return didYouMean(unknown[0], known)
	}
	var parts []string
	for _, name := range unknown[:min(len(unknown), maxSuggestedNames)] {
		if hint := didYouMean(name, known); hint != "" {
			parts = append(parts, fmt.Sprintf("For %q, d%s", name, hint[1:]))
		}
	}
	return strings.Join(parts, " ")
}
