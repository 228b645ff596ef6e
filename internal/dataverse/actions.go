package dataverse

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/auditlabels"
)

// AuditActions names the codes of the audit action choice in snake_case, as
// Terraform configurations write them: the snake_case forms of the service's
// labels. Codes missing here are still valid: ParseAuditAction accepts any
// non-negative code, and AuditActionName falls back to the server's label.
var AuditActions = snakeCaseNames(auditlabels.Action)

// snakeCaseNames maps each code of labels to its label's snakeCase form.
func snakeCaseNames(labels map[int]string) map[int]string {
	out := make(map[int]string, len(labels))
	for code, label := range labels {
		out[code] = snakeCase(label)
	}
	return out
}

// AuditOperations names the codes of the audit operation choice.
var AuditOperations = map[int]string{1: "create", 2: "update", 3: "delete", 4: "access"}

var (
	auditActionCodes    = invertNames(AuditActions)
	auditOperationCodes = invertNames(AuditOperations)
)

func invertNames(m map[int]string) map[string]int {
	out := make(map[string]int, len(m))
	for code, name := range m {
		out[name] = code
	}
	return out
}

// namesByCode lists "name (code)" in code order, for error messages.
func namesByCode(m map[int]string) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s (%d)", m[c], c)
	}
	return strings.Join(parts, ", ")
}

// normalizeName lower-cases s and writes spaces and hyphens as underscores,
// so "User Access via Web" finds user_access_via_web.
func normalizeName(s string) string {
	return strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// ParseAuditAction reads an action as a name of AuditActions (any case) or a
// non-negative integer code (any code, named or not).
func ParseAuditAction(s string) (int, error) {
	name := normalizeName(s)
	if code, ok := auditActionCodes[name]; ok {
		return code, nil
	}
	if code, err := strconv.Atoi(name); err == nil && code >= 0 {
		return code, nil
	}
	return 0, fmt.Errorf("unknown audit action %q: write a name in snake_case or a non-negative numeric code; the names are %s",
		s, namesByCode(AuditActions))
}

// AuditActionName returns the name of an action code: the AuditActions name,
// else the snake_case form of the server's label (the FormattedValue), else
// "action_<code>".
func AuditActionName(code int, label string) string {
	if name, ok := AuditActions[code]; ok {
		return name
	}
	if name := snakeCase(label); name != "" {
		return name
	}
	return "action_" + strconv.Itoa(code)
}

// snakeCase lower-cases letters and digits and joins the runs between them
// with single underscores: "Audit Change at Org Level" → audit_change_at_org_level.
func snakeCase(s string) string {
	var b strings.Builder
	pendingSep := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		pendingSep = true
	}
	return b.String()
}

// ParseAuditOperation reads an operation as a name of AuditOperations (any
// case) or its code 1 to 4.
func ParseAuditOperation(s string) (int, error) {
	name := normalizeName(s)
	if code, ok := auditOperationCodes[name]; ok {
		return code, nil
	}
	if code, err := strconv.Atoi(name); err == nil {
		if _, ok := AuditOperations[code]; ok {
			return code, nil
		}
	}
	return 0, fmt.Errorf("unknown audit operation %q: write one of %s", s, namesByCode(AuditOperations))
}
