data "dynamics365_organization_audit_settings" "current" {}

# Fail the plan's checks when someone switched auditing off in the portal.
check "auditing_is_on" {
  assert {
    condition     = data.dynamics365_organization_audit_settings.current.audit_enabled
    error_message = "Auditing is off in ${data.dynamics365_organization_audit_settings.current.environment_url}."
  }
}
