# Drift from the baseline: someone changed a setting in the portal. The
# checks read the environment on every plan and apply (after the baseline's
# resources) and report drift as warnings; the next apply puts the baseline
# back. Terraform re-reads a check's data source during apply, so a plan of
# an unchanged baseline lists these reads ("Plan: 0 to add, 0 to change,
# 0 to destroy") and `plan -detailed-exitcode` exits 2.

check "organization_baseline" {
  data "dynamics365_organization_audit_settings" "current" {
    depends_on = [dynamics365_organization_audit_settings.this]
  }

  assert {
    condition = (
      data.dynamics365_organization_audit_settings.current.audit_enabled == var.audit_enabled &&
      data.dynamics365_organization_audit_settings.current.user_access_audit_enabled == var.user_access_audit_enabled &&
      data.dynamics365_organization_audit_settings.current.read_audit_enabled == var.read_audit_enabled
    )
    error_message = "The audit switches of ${data.dynamics365_organization_audit_settings.current.environment_url} differ from the baseline (auditing ${data.dynamics365_organization_audit_settings.current.audit_enabled}, user access ${data.dynamics365_organization_audit_settings.current.user_access_audit_enabled}, read ${data.dynamics365_organization_audit_settings.current.read_audit_enabled})."
  }

  # The environment's retention is null where nobody ever set one: == is
  # null-safe, a template is not.
  assert {
    condition     = var.retention_period_days == null || data.dynamics365_organization_audit_settings.current.retention_period_days == var.retention_period_days
    error_message = "Audit logs of ${data.dynamics365_organization_audit_settings.current.environment_url} are kept ${data.dynamics365_organization_audit_settings.current.retention_period_days == null ? "for a retention that was never set (null)" : "${data.dynamics365_organization_audit_settings.current.retention_period_days} days"}, the baseline says ${jsonencode(var.retention_period_days)} days."
  }
}

check "tables_audited" {
  data "dynamics365_entities" "unaudited" {
    logical_names = local.tables
    audit_enabled = false
    depends_on    = [dynamics365_customizations_publish.this]
  }

  assert {
    condition     = length(data.dynamics365_entities.unaudited.names) == 0
    error_message = "Tables of the baseline with auditing off: ${join(", ", data.dynamics365_entities.unaudited.names)}."
  }
}

check "read_auditing" {
  data "dynamics365_entities" "read_audited" {
    logical_names = keys(var.read_auditing)
    depends_on    = [dynamics365_customizations_publish.this]
  }

  assert {
    condition = alltrue([
      for e in data.dynamics365_entities.read_audited.entities :
      e.retrieve_audit_enabled == var.read_auditing[e.logical_name].single_record &&
      e.retrieve_multiple_audit_enabled == var.read_auditing[e.logical_name].multiple_record
    ])
    error_message = "Read auditing differs from the baseline on: ${join(", ", [for e in data.dynamics365_entities.read_audited.entities : e.logical_name if e.retrieve_audit_enabled != var.read_auditing[e.logical_name].single_record || e.retrieve_multiple_audit_enabled != var.read_auditing[e.logical_name].multiple_record])}."
  }
}
