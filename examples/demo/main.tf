# The demo baseline, applied by `make demo` to an emulated environment.
# The provider block is empty: the demo exports DYNAMICS365_ENVIRONMENT_URL,
# AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST
# and DYNAMICS365_CA_CERTIFICATE_FILE from the emulator.
terraform {
  required_providers {
    dynamics365 = {
      source = "d365-audit/dynamics365"
    }
  }
}

provider "dynamics365" {}

resource "dynamics365_organization_audit_settings" "baseline" {
  audit_enabled                    = true
  user_access_audit_enabled        = true
  read_audit_enabled               = true
  retention_period_days            = 2555 # seven years
  user_access_audit_interval_hours = 4
  on_destroy                       = "restore"
}

output "organization_audit_settings" {
  value = {
    organization_id                  = dynamics365_organization_audit_settings.baseline.id
    audit_enabled                    = dynamics365_organization_audit_settings.baseline.audit_enabled
    user_access_audit_enabled        = dynamics365_organization_audit_settings.baseline.user_access_audit_enabled
    read_audit_enabled               = dynamics365_organization_audit_settings.baseline.read_audit_enabled
    retention_period_days            = dynamics365_organization_audit_settings.baseline.retention_period_days
    user_access_audit_interval_hours = dynamics365_organization_audit_settings.baseline.user_access_audit_interval_hours
  }
}
