package emulator

import (
	_ "embed"
	"strings"
)

// auditLogRecordTypes is Microsoft Graph's microsoft.graph.security.auditLogRecordType
// enumeration: the values "Create auditLogQuery" lists for recordTypeFilters
// (beta and the 2024 v1.0 page, in their wire spelling), then the members the
// v1.0 "auditLogRecordType enum type" page adds after mapgOnboard (spelled
// as that page spells them; matching ignores case). Dynamics 365 /
// Dataverse is crm; there is no "dataverse" member.
var auditLogRecordTypes = parseRecordTypes(auditLogRecordTypesText)

// auditLogRecordTypesText is the enumeration as data, one member a line.
//
//go:embed graph_record_types.txt
var auditLogRecordTypesText string

// parseRecordTypes reads the members from graph_record_types.txt: one a
// line, # starts a comment line.
func parseRecordTypes(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// knownRecordType says whether v is a member of auditLogRecordType.
func knownRecordType(v string) bool { return containsFoldAny(auditLogRecordTypes, v) }
