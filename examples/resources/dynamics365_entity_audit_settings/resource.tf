# Audit changes to accounts, log single and multiple record reads (sent to
# Microsoft Purview while organization read auditing is on), and audit the
# columns an auditor asks about. Columns not listed are left as they are.
resource "dynamics365_entity_audit_settings" "account" {
  entity_logical_name             = "account"
  audit_enabled                   = true
  retrieve_audit_enabled          = true
  retrieve_multiple_audit_enabled = true

  attributes = {
    name          = true
    creditlimit   = true
    accountnumber = true
    telephone1    = false
  }

  on_destroy = "restore"
}

# A large rollout: change many tables without publishing each one, then
# publish them all at once.
locals {
  sales_tables = toset(["opportunity", "quote", "salesorder", "invoice", "competitor"])
}

resource "dynamics365_entity_audit_settings" "sales" {
  for_each            = local.sales_tables
  entity_logical_name = each.key
  audit_enabled       = true
  publish             = false
}

resource "dynamics365_customizations_publish" "sales" {
  entity_logical_names = [for t in dynamics365_entity_audit_settings.sales : t.entity_logical_name]
  triggers = {
    for k, t in dynamics365_entity_audit_settings.sales : k => jsonencode([t.audit_enabled, t.attributes])
  }
}
