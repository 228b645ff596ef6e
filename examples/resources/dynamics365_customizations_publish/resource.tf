resource "dynamics365_entity_audit_settings" "tables" {
  for_each            = toset(["account", "contact", "lead"])
  entity_logical_name = each.key
  audit_enabled       = true
  publish             = false # published once, below
}

# Publishes the three tables in one PublishXml after all of them changed, and
# again whenever one of their settings changes.
resource "dynamics365_customizations_publish" "tables" {
  entity_logical_names = [for t in dynamics365_entity_audit_settings.tables : t.entity_logical_name]
  triggers = {
    for k, t in dynamics365_entity_audit_settings.tables : k => jsonencode([t.audit_enabled, t.retrieve_audit_enabled, t.retrieve_multiple_audit_enabled, t.attributes])
  }
}
