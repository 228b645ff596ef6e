// Package names suggests the known names nearest to a misspelt one, for the
// provider's unknown-table and unknown-column errors and the emulator
// command's refusals.
package names

import (
	"slices"
	"strings"
)

// Closest returns up to max names of known nearest to unknown by edit
// distance (insertions, deletions, substitutions and swaps of neighbouring
// letters), nearest first and alphabetically among equals. A name counts as
// near when at most a third of unknown's letters (at least one, at most
// three) must change: "acount" finds account, "xyz" finds nothing.
func Closest(unknown string, known []string, maxNames int) []string {
	limit := min(max(len(unknown)/3, 1), 3)
	type candidate struct {
		name     string
		distance int
	}
	var near []candidate
	for _, name := range known {
		if name == unknown || absInt(len(name)-len(unknown)) > limit {
			continue // the length difference alone exceeds the limit
		}
		if d := Distance(unknown, name); d <= limit {
			near = append(near, candidate{name, d})
		}
	}
	slices.SortFunc(near, func(a, b candidate) int {
		if a.distance != b.distance {
			return a.distance - b.distance
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range near[:min(len(near), maxNames)] {
		out = append(out, c.name)
	}
	return out
}

// Distance is the optimal string alignment distance of a and b (byte
// wise: logical names are ASCII).
func Distance(a, b string) int {
	// Three rows of the dynamic programming table: two back (for swaps),
	// one back and the current one.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func absInt(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
