data "dynamics365_organization_audit_settings" "current" {}

# Fail the plan's checks when someone switched auditing off in the portal.
check "auditing_is_on" {
  assert {
    condition     = data.dynamics365_organization_audit_settings.current.audit_enabled
    error_message = "Auditing is off in ${data.dynamics365_organization_audit_settings.current.environment_url}."
  }
}

# The organization's auditsettings JSON string (null where never set), decoded
# for a report: for example whether picklist audits also store the label.
output "audit_feature_settings" {
  value = try(jsondecode(data.dynamics365_organization_audit_settings.current.audit_settings_json), {})
}
