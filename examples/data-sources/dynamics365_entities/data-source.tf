# The tables of the legacy "Sales" audit area.
data "dynamics365_entities" "sales" {
  area = "sales"
}

# Turn auditing on for each of them.
resource "dynamics365_entity_audit_settings" "sales" {
  for_each            = toset(data.dynamics365_entities.sales.names)
  entity_logical_name = each.key
  audit_enabled       = true
}

# Report custom tables that nobody audits.
data "dynamics365_entities" "unaudited_custom" {
  custom_only   = true
  audit_enabled = false
}

output "unaudited_custom_tables" {
  value = data.dynamics365_entities.unaudited_custom.names
}
