package emulator

import (
	"net/http"
	"strings"
)

// Small helpers of the organization handlers.

func pick(cond bool, ifTrue, ifFalse int) int {
	if cond {
		return ifTrue
	}
	return ifFalse
}

func preferRepresentation(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "return=representation") {
				return true
			}
		}
	}
	return false
}
