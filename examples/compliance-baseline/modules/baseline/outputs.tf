locals {
  applied_entities = try(data.dynamics365_entities.applied[0].entities, [])
  audited_columns = {
    for k, t in dynamics365_entity_audit_settings.table : k => sort([for c, on in coalesce(t.attributes, {}) : c if on])
  }
}

output "tables" {
  description = "Logical names of the tables in the baseline."
  value       = local.tables
}

output "coverage" {
  description = "Coverage of the baseline as the environment reports it after the apply."
  value = {
    environment_url    = data.dynamics365_organization_audit_settings.applied.environment_url
    organization_id    = data.dynamics365_organization_audit_settings.applied.id
    tables_in_baseline = length(local.tables)
    tables_audited     = length([for e in local.applied_entities : e.logical_name if e.audit_enabled])
    unaudited_tables   = [for e in local.applied_entities : e.logical_name if !e.audit_enabled]
    read_audited_tables = [
      for e in local.applied_entities : e.logical_name if e.retrieve_audit_enabled || e.retrieve_multiple_audit_enabled
    ]
    columns_audited = sum(concat([0], [for k, cols in local.audited_columns : length(cols)]))
    columns         = { for k, cols in local.audited_columns : k => cols if length(cols) > 0 }
    organization = {
      audit_enabled             = data.dynamics365_organization_audit_settings.applied.audit_enabled
      user_access_audit_enabled = data.dynamics365_organization_audit_settings.applied.user_access_audit_enabled
      read_audit_enabled        = data.dynamics365_organization_audit_settings.applied.read_audit_enabled
      retention_period_days     = data.dynamics365_organization_audit_settings.applied.retention_period_days
    }
  }
}

output "compliant" {
  description = "Whether the environment matches the baseline: every switch as configured (retention only where the baseline sets one), every table audited."
  value = (
    data.dynamics365_organization_audit_settings.applied.audit_enabled == var.audit_enabled &&
    data.dynamics365_organization_audit_settings.applied.user_access_audit_enabled == var.user_access_audit_enabled &&
    data.dynamics365_organization_audit_settings.applied.read_audit_enabled == var.read_audit_enabled &&
    (var.retention_period_days == null || data.dynamics365_organization_audit_settings.applied.retention_period_days == var.retention_period_days) &&
    alltrue([for e in local.applied_entities : e.audit_enabled])
  )
}
