# The compliance baseline of one Dataverse environment: organization audit
# switches and retention, table auditing, read auditing and column auditing,
# published once.

data "dynamics365_entities" "area" {
  count = var.area == null ? 0 : 1
  area  = var.area
}

locals {
  tables = sort(distinct(concat(
    var.tables,
    keys(var.columns),
    keys(var.read_auditing),
    try(data.dynamics365_entities.area[0].names, []),
  )))
}

resource "dynamics365_organization_audit_settings" "this" {
  audit_enabled             = var.audit_enabled
  user_access_audit_enabled = var.user_access_audit_enabled
  read_audit_enabled        = var.read_audit_enabled
  retention_period_days     = var.retention_period_days
  on_destroy                = var.on_destroy
}

resource "dynamics365_entity_audit_settings" "table" {
  for_each = toset(local.tables)

  entity_logical_name             = each.key
  audit_enabled                   = true
  retrieve_audit_enabled          = try(var.read_auditing[each.key].single_record, null)
  retrieve_multiple_audit_enabled = try(var.read_auditing[each.key].multiple_record, null)
  attributes                      = length(lookup(var.columns, each.key, [])) > 0 ? { for c in var.columns[each.key] : c => true } : null
  on_destroy                      = var.on_destroy
  publish                         = false # published once, below
}

# One PublishXml for every table of the baseline, again whenever a table's
# settings change.
resource "dynamics365_customizations_publish" "this" {
  count = length(local.tables) > 0 ? 1 : 0

  entity_logical_names = [for t in dynamics365_entity_audit_settings.table : t.entity_logical_name]
  triggers = {
    for k, t in dynamics365_entity_audit_settings.table : k => jsonencode([t.audit_enabled, t.retrieve_audit_enabled, t.retrieve_multiple_audit_enabled, t.attributes])
  }
}

# What the environment reports once the baseline is applied and published.
data "dynamics365_organization_audit_settings" "applied" {
  depends_on = [dynamics365_organization_audit_settings.this]
}

data "dynamics365_entities" "applied" {
  count         = length(local.tables) > 0 ? 1 : 0
  logical_names = local.tables
  depends_on    = [dynamics365_customizations_publish.this]
}
