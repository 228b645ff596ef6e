locals {
  # Column auditing as the entity resources last read it from the
  # environment (refreshed on every plan); report mode manages no columns.
  column_coverage = {
    for k, t in dynamics365_entity_audit_settings.table : k => {
      audited     = sort([for c, on in coalesce(t.attributes, {}) : c if on])
      not_audited = sort([for c, on in coalesce(t.attributes, {}) : c if !on])
    } if length(coalesce(t.attributes, {})) > 0
  }
  audited_columns = { for k, c in local.column_coverage : k => c.audited }

  # The evidence: only values the environment reports, nothing that changes
  # from one plan to the next (no timestamp() or plantimestamp()), so an
  # unchanged tenant plans no change.
  evidence = {
    environment_url = local.org.environment_url
    organization_id = local.org.id
    compliant       = local.compliant
    conditions      = local.conditions
    policy = {
      presets                        = var.presets
      extra_tables                   = var.extra_tables
      read_auditing_presets          = var.read_auditing_presets
      min_retention_days             = var.min_retention_days
      max_user_access_interval_hours = var.max_user_access_interval_hours
      enforced                       = var.enforce
    }
    settings = {
      audit_enabled                    = local.org.audit_enabled
      user_access_audit_enabled        = local.org.user_access_audit_enabled
      read_audit_enabled               = local.org.read_audit_enabled
      retention_period_days            = local.org.retention_period_days
      user_access_audit_interval_hours = local.org.user_access_audit_interval_hours
      audit_settings_json              = local.org.audit_settings_json
    }
    tables = {
      for t in local.tables : t => {
        in_environment                  = contains(keys(local.by_table), t)
        audit_enabled                   = try(local.by_table[t].audit_enabled, null)
        retrieve_audit_enabled          = try(local.by_table[t].retrieve_audit_enabled, null)
        retrieve_multiple_audit_enabled = try(local.by_table[t].retrieve_multiple_audit_enabled, null)
        read_auditing_required          = contains(keys(local.read_auditing), t)
        has_unpublished_audit_changes   = try(local.by_table[t].has_unpublished_audit_changes, null)
        presets                         = sort([for p in var.presets : p if contains(local.presets[p], t)])
      }
    }
    columns = local.column_coverage
    audit_settings_changes = [
      for r in data.dynamics365_audit_records.audit_settings_changes.records : {
        when    = r.created_on
        who     = r.user_name
        user_id = r.user_id
        action  = r.action_name
        table   = r.entity_logical_name
        record  = r.record_id
      }
    ]
    audit_settings_changes_truncated = data.dynamics365_audit_records.audit_settings_changes.truncated
  }
}

output "tables" {
  description = "Logical names of the tables in the baseline."
  value       = local.tables
}

output "coverage" {
  description = "Coverage of the baseline as the environment reports it after the apply."
  value = {
    environment_url    = local.org.environment_url
    organization_id    = local.org.id
    tables_in_baseline = length(local.tables)
    tables_audited     = length(local.tables) - length(local.unaudited_tables)
    unaudited_tables   = local.unaudited_tables
    read_audited_tables = [
      for e in local.entities : e.logical_name if e.retrieve_audit_enabled || e.retrieve_multiple_audit_enabled
    ]
    columns_audited = sum(concat([0], [for k, cols in local.audited_columns : length(cols)]))
    columns         = { for k, cols in local.audited_columns : k => cols if length(cols) > 0 }
    organization = {
      audit_enabled             = local.org.audit_enabled
      user_access_audit_enabled = local.org.user_access_audit_enabled
      read_audit_enabled        = local.org.read_audit_enabled
      retention_period_days     = local.org.retention_period_days
    }
  }
}

output "conditions" {
  description = "Each policy condition's result (policy.tf), the same values the check blocks assert."
  value       = local.conditions
}

output "compliant" {
  description = "Whether every policy condition holds."
  value       = local.compliant
}

output "evidence" {
  description = "The evidence document of this environment as JSON: settings (with audit_settings_json), per-table and per-column coverage, each condition's result and the latest audit-settings changes. It changes only when the environment does."
  value       = jsonencode(local.evidence)
}

output "summary" {
  description = "One line: compliant or not, conditions met, tables audited, retention."
  value = format("%s: %s, %d/%d conditions met%s, %d/%d tables audited, retention %s, %d audit-settings changes listed",
    local.org.environment_url,
    local.compliant ? "COMPLIANT" : "NOT COMPLIANT",
    length([for k, ok in local.conditions : k if ok]), length(local.conditions),
    local.compliant ? "" : " (failing: ${join(", ", sort([for k, ok in local.conditions : k if !ok]))})",
    length(local.tables) - length(local.unaudited_tables), length(local.tables),
    local.retention_text,
    length(local.evidence.audit_settings_changes),
  )
}
