# terraform test for the root example: both tenants from one configuration
# with aliased providers. The tenants' connections come from tenant_a.tfvars
# and tenant_b.tfvars (-var-file; the emulator writes them, see README.md),
# the same files and variables as the module's tests. Needs `terraform get`
# first for the local module.

run "both_tenants" {
  assert {
    condition     = module.tenant_a.coverage.environment_url == var.tenant_a_environment_url && module.tenant_b.coverage.environment_url == var.tenant_b_environment_url
    error_message = "The tenants' baselines went to the wrong environments: ${module.tenant_a.coverage.environment_url}, ${module.tenant_b.coverage.environment_url}."
  }
  assert {
    condition     = output.compliant.tenant_a && output.compliant.tenant_b
    error_message = "Not compliant: ${jsonencode(output.compliant)}."
  }
  assert {
    condition     = output.coverage.tenant_a.tables_in_baseline == 3 && output.coverage.tenant_a.tables_audited == 3 && output.coverage.tenant_a.columns_audited == 5
    error_message = "Tenant A coverage: ${jsonencode(output.coverage.tenant_a)}."
  }
  assert {
    condition     = output.coverage.tenant_b.tables_in_baseline == 8 && output.coverage.tenant_b.tables_audited == 8 && output.coverage.tenant_b.columns_audited == 6
    error_message = "Tenant B coverage: ${jsonencode(output.coverage.tenant_b)}."
  }
  assert {
    condition     = output.coverage.tenant_a.organization.retention_period_days == 2555 && output.coverage.tenant_b.organization.retention_period_days == -1
    error_message = "Retention: A ${jsonencode(output.coverage.tenant_a.organization.retention_period_days)}, B ${jsonencode(output.coverage.tenant_b.organization.retention_period_days)}."
  }
}
