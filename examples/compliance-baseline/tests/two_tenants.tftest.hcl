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
  # account, contact, lead and the nine tables of the security preset.
  assert {
    condition     = output.coverage.tenant_a.tables_in_baseline == 12 && output.coverage.tenant_a.tables_audited == 12 && output.coverage.tenant_a.columns_audited == 5
    error_message = "Tenant A coverage: ${jsonencode(output.coverage.tenant_a)}."
  }
  # The security and sales presets (the sales area adds no other table): 18.
  assert {
    condition     = output.coverage.tenant_b.tables_in_baseline == 18 && output.coverage.tenant_b.tables_audited == 18 && output.coverage.tenant_b.columns_audited == 6
    error_message = "Tenant B coverage: ${jsonencode(output.coverage.tenant_b)}."
  }
  assert {
    condition     = output.coverage.tenant_a.organization.retention_period_days == 2555 && output.coverage.tenant_b.organization.retention_period_days == -1
    error_message = "Retention: A ${jsonencode(output.coverage.tenant_a.organization.retention_period_days)}, B ${jsonencode(output.coverage.tenant_b.organization.retention_period_days)}."
  }
  # The evidence documents: every condition met, the security tables read
  # audited in tenant A, the apply's own changes listed.
  assert {
    condition     = alltrue(values(jsondecode(output.tenant_a_evidence).conditions)) && alltrue(values(jsondecode(output.tenant_b_evidence).conditions))
    error_message = "Conditions: A ${jsonencode(jsondecode(output.tenant_a_evidence).conditions)}, B ${jsonencode(jsondecode(output.tenant_b_evidence).conditions)}."
  }
  assert {
    condition     = jsondecode(output.tenant_a_evidence).tables["systemuser"].retrieve_multiple_audit_enabled && jsondecode(output.tenant_a_evidence).tables["systemuser"].read_auditing_required
    error_message = "Tenant A systemuser: ${jsonencode(jsondecode(output.tenant_a_evidence).tables["systemuser"])}."
  }
  assert {
    condition     = length(jsondecode(output.tenant_b_evidence).audit_settings_changes) > 0 && jsondecode(output.tenant_b_evidence).settings.retention_period_days == -1
    error_message = "Tenant B evidence: ${output.tenant_b_evidence}."
  }
  assert {
    condition     = length(split("\n", output.summary)) == 2 && strcontains(output.summary, "tenant_a ${var.tenant_a_environment_url}: COMPLIANT, 8/8 conditions met, 12/12 tables audited, retention 2555 days")
    error_message = "Summary: ${output.summary}."
  }
}
