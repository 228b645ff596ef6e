# The policy's conditions, each computed once here and used twice: by a
# check block (a warning on plan and apply, a failure in terraform test) and
# by the evidence output (a check's result cannot be referenced). Each reads
# what the environment reports (main.tf's data sources), not the
# configuration.

locals {
  org      = data.dynamics365_organization_audit_settings.applied
  entities = try(data.dynamics365_entities.applied[0].entities, [])
  by_table = { for e in local.entities : e.logical_name => e }

  unaudited_tables = sort([for t in local.tables : t if !try(local.by_table[t].audit_enabled, false)])
  read_auditing_short = sort([
    for t, want in local.read_auditing : t
    if(want.single_record && !try(local.by_table[t].retrieve_audit_enabled, false)) || (want.multiple_record && !try(local.by_table[t].retrieve_multiple_audit_enabled, false))
  ])
  unpublished_tables = sort([for e in local.entities : e.logical_name if e.has_unpublished_audit_changes])

  # Null-safe: the retention is null where nobody ever set one, and
  # comparing null is an error; a conditional keeps it away.
  retention_ok = (
    var.min_retention_days == null ? true :
    local.org.retention_period_days == null ? false :
    local.org.retention_period_days == -1 || local.org.retention_period_days >= var.min_retention_days
  )
  interval_ok = (
    var.max_user_access_interval_hours == null ? true :
    local.org.user_access_audit_interval_hours == null ? false :
    local.org.user_access_audit_interval_hours <= var.max_user_access_interval_hours
  )

  conditions = {
    auditing_on                  = local.org.audit_enabled
    user_access_auditing_on      = local.org.user_access_audit_enabled
    read_auditing_on             = local.org.read_audit_enabled
    retention                    = local.retention_ok
    user_access_interval         = local.interval_ok
    tables_audited               = length(local.unaudited_tables) == 0
    read_auditing_tables         = length(local.read_auditing_short) == 0
    no_unpublished_audit_changes = length(local.unpublished_tables) == 0
  }
  compliant = alltrue(values(local.conditions))

  retention_text = local.org.retention_period_days == null ? "never set (null)" : local.org.retention_period_days == -1 ? "forever" : "${local.org.retention_period_days} days"
}

check "auditing_on" {
  assert {
    condition     = local.conditions.auditing_on
    error_message = "Auditing is off in ${local.org.environment_url}."
  }
}

check "user_access_auditing_on" {
  assert {
    condition     = local.conditions.user_access_auditing_on
    error_message = "User access auditing (log access) is off in ${local.org.environment_url}."
  }
}

check "read_auditing_on" {
  assert {
    condition     = local.conditions.read_auditing_on
    error_message = "Read auditing (read logs to Microsoft Purview) is off in ${local.org.environment_url}."
  }
}

check "retention" {
  assert {
    condition     = local.conditions.retention
    error_message = "Audit logs of ${local.org.environment_url} are kept ${local.retention_text}; the policy asks for at least ${jsonencode(var.min_retention_days)} days or forever."
  }
}

check "user_access_interval" {
  assert {
    condition     = local.conditions.user_access_interval
    error_message = "User access is logged every ${jsonencode(local.org.user_access_audit_interval_hours)} hours in ${local.org.environment_url}; the policy asks for at most ${jsonencode(var.max_user_access_interval_hours)}."
  }
}

check "tables_audited" {
  assert {
    condition     = local.conditions.tables_audited
    error_message = "Tables of the baseline with auditing off in ${local.org.environment_url}: ${join(", ", local.unaudited_tables)}."
  }
}

check "read_auditing_tables" {
  assert {
    condition     = local.conditions.read_auditing_tables
    error_message = "Tables without the read auditing the policy asks for in ${local.org.environment_url}: ${join(", ", local.read_auditing_short)}."
  }
}

check "no_unpublished_audit_changes" {
  assert {
    condition     = local.conditions.no_unpublished_audit_changes
    error_message = "Tables with saved but unpublished audit changes in ${local.org.environment_url}: ${join(", ", local.unpublished_tables)}. Publish them (dynamics365_customizations_publish)."
  }
}
