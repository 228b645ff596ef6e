output "coverage" {
  description = "Baseline coverage per tenant."
  value = {
    tenant_a = module.tenant_a.coverage
    tenant_b = module.tenant_b.coverage
  }
}

output "compliant" {
  description = "Whether each tenant matches the baseline."
  value = {
    tenant_a = module.tenant_a.compliant
    tenant_b = module.tenant_b.compliant
  }
}

# The evidence of each tenant, a JSON document (see the module's outputs.tf):
# terraform output -raw tenant_a_evidence > tenant_a_evidence.json
output "tenant_a_evidence" {
  description = "Tenant A's evidence document (JSON)."
  value       = module.tenant_a.evidence
}

output "tenant_b_evidence" {
  description = "Tenant B's evidence document (JSON)."
  value       = module.tenant_b.evidence
}

output "summary" {
  description = "One line per tenant: compliant or not, conditions met, tables audited, retention."
  value       = join("\n", ["tenant_a ${module.tenant_a.summary}", "tenant_b ${module.tenant_b.summary}"])
}
