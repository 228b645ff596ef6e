# Turn on auditing, user-access logging and read auditing, keep logs for
# seven years. Settings left out (here the user-access interval) are reported
# but never changed.
resource "dynamics365_organization_audit_settings" "this" {
  audit_enabled             = true
  user_access_audit_enabled = true
  read_audit_enabled        = true
  retention_period_days     = 2555

  # On destroy, write back the values seen before Terraform changed them.
  on_destroy = "restore"
}
