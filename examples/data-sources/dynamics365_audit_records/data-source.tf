# Who changed accounts in January, with old and new values.
data "dynamics365_audit_records" "account_changes" {
  from                = "2026-01-01T00:00:00Z"
  to                  = "2026-01-31T23:59:59Z"
  entity_logical_name = "account"
  operations          = ["update", "delete"]
  include_changes     = true
  limit               = 500
}

# Every change to the audit settings themselves.
data "dynamics365_audit_records" "settings_changes" {
  actions = ["audit_change_at_org_level", "audit_change_at_entity_level", "audit_change_at_attribute_level", "audit_disabled"]
}

output "settings_changed_by" {
  value = distinct([for r in data.dynamics365_audit_records.settings_changes.records : r.user_name])
}

# The whole history of one record, with old and new values.
data "dynamics365_audit_records" "one_account" {
  record_id       = "6a3f1e2d-1111-4222-8333-444455556666"
  include_changes = true
}
