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
