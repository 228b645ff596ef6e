package emulator

import "fmt"

// The retention column of the organization row: null where nobody ever set
// it (reported from real environments), and a documented range whose upper
// bound an option may lower.

// defaultMaxRetentionDays is the developer documentation's upper bound
// ("Configure auditing": 1 to 365,000 days, or -1).
const defaultMaxRetentionDays = 365000

// checkRetention is the valid range of auditretentionperiodv2.
func (org *orgPart) checkRetention(v int) (string, bool) {
	return fmt.Sprintf("-1 (keep forever) or 1 to %d", org.maxRetention), v == -1 || (v >= 1 && v <= org.maxRetention)
}

// retentionValue is the column value of a retention: nil when not set.
func retentionValue(o Organization) any {
	if o.RetentionNotSet {
		return nil
	}
	return o.AuditRetentionPeriodV2
}

// auditSettingsValue is the column value of the auditsettings JSON string:
// nil when empty.
func auditSettingsValue(o Organization) any {
	if o.AuditSettings == "" {
		return nil
	}
	return o.AuditSettings
}
