# The compliance baseline of one Dataverse environment: organization audit
# switches and retention, table auditing, read auditing and column auditing,
# published once. With enforce = false nothing is changed and the module only
# reports (policy.tf, outputs.tf).

data "dynamics365_entities" "area" {
  count = var.area == null ? 0 : 1
  area  = var.area
}

locals {
  preset_tables = sort(distinct(flatten([for p in var.presets : local.presets[p]])))
  # Read auditing the policy asks for: the tables of read_auditing_presets,
  # single and multiple record, overridden per table by read_auditing.
  read_auditing = merge(
    { for t in flatten([for p in var.read_auditing_presets : local.presets[p]]) : t => { single_record = true, multiple_record = true } },
    var.read_auditing,
  )
  tables = sort(distinct(concat(
    local.preset_tables,
    var.extra_tables,
    var.tables,
    keys(var.columns),
    keys(local.read_auditing),
    try(data.dynamics365_entities.area[0].names, []),
  )))
}

resource "dynamics365_organization_audit_settings" "this" {
  count = var.enforce ? 1 : 0

  audit_enabled                    = var.audit_enabled
  user_access_audit_enabled        = var.user_access_audit_enabled
  read_audit_enabled               = var.read_audit_enabled
  retention_period_days            = var.retention_period_days
  user_access_audit_interval_hours = var.user_access_audit_interval_hours
  on_destroy                       = var.on_destroy
}

resource "dynamics365_entity_audit_settings" "table" {
  for_each = var.enforce ? toset(local.tables) : toset([])

  entity_logical_name             = each.key
  audit_enabled                   = true
  retrieve_audit_enabled          = try(local.read_auditing[each.key].single_record, null)
  retrieve_multiple_audit_enabled = try(local.read_auditing[each.key].multiple_record, null)
  attributes                      = length(lookup(var.columns, each.key, [])) > 0 ? { for c in var.columns[each.key] : c => true } : null
  on_destroy                      = var.on_destroy
  publish                         = false # published once, below
}

# One PublishXml for every table of the baseline, again whenever a table's
# settings change.
resource "dynamics365_customizations_publish" "this" {
  count = var.enforce && var.publish && length(local.tables) > 0 ? 1 : 0

  entity_logical_names = [for t in dynamics365_entity_audit_settings.table : t.entity_logical_name]
  triggers = {
    for k, t in dynamics365_entity_audit_settings.table : k => jsonencode([t.audit_enabled, t.retrieve_audit_enabled, t.retrieve_multiple_audit_enabled, t.attributes])
  }
}

# What the environment reports once the baseline is applied and published.
# Top-level data sources, not scoped ones in the check blocks: Terraform
# re-reads a check's scoped data source at every apply, which would make
# the plan of an unchanged tenant non-empty. These are read during the plan
# when nothing they depend on changes, and after the changes otherwise.
data "dynamics365_organization_audit_settings" "applied" {
  depends_on = [dynamics365_organization_audit_settings.this]
}

data "dynamics365_entities" "applied" {
  count         = length(local.tables) > 0 ? 1 : 0
  logical_names = local.tables
  depends_on    = [dynamics365_entity_audit_settings.table, dynamics365_customizations_publish.this]
}

# The latest changes of audit settings (actions 102-113: audit changes at
# table, column and organization level, auditing and user access auditing
# started or stopped, audit log deletions): who changed what, when.
data "dynamics365_audit_records" "audit_settings_changes" {
  actions    = [for code in range(102, 114) : tostring(code)]
  limit      = var.audit_settings_changes_limit
  depends_on = [dynamics365_organization_audit_settings.this, dynamics365_customizations_publish.this, dynamics365_entity_audit_settings.table]
}
