# The demo baseline, applied by `make demo` to an emulated environment.
# The provider block is empty: the demo exports DYNAMICS365_ENVIRONMENT_URL,
# AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST
# and DYNAMICS365_CA_CERTIFICATE_FILE from the emulator.
terraform {
  required_providers {
    dynamics365 = {
      source = "d365-audit/dynamics365"
    }
  }
}

provider "dynamics365" {}

resource "dynamics365_organization_audit_settings" "baseline" {
  audit_enabled                    = true
  user_access_audit_enabled        = true
  read_audit_enabled               = true
  retention_period_days            = 2555 # seven years
  user_access_audit_interval_hours = 4
  on_destroy                       = "restore"
}

# Table, read and column auditing for the tables an auditor asks about.
locals {
  audited_tables = {
    account = {
      accountnumber = true
      revenue       = true
      telephone1    = true
    }
    contact = {
      emailaddress1 = true
      telephone1    = true
    }
    new_project = {
      new_budget = true
      new_rating = true
    }
  }
}

resource "dynamics365_entity_audit_settings" "table" {
  for_each = local.audited_tables

  entity_logical_name             = each.key
  audit_enabled                   = true
  retrieve_audit_enabled          = true
  retrieve_multiple_audit_enabled = true
  attributes                      = each.value
  on_destroy                      = "restore"
}

output "entity_audit_settings" {
  value = {
    for name, t in dynamics365_entity_audit_settings.table : name => {
      audit_enabled                   = t.audit_enabled
      retrieve_audit_enabled          = t.retrieve_audit_enabled
      retrieve_multiple_audit_enabled = t.retrieve_multiple_audit_enabled
      audited_columns                 = sort([for c, on in t.attributes : c if on])
    }
  }
}

output "organization_audit_settings" {
  value = {
    organization_id                  = dynamics365_organization_audit_settings.baseline.id
    audit_enabled                    = dynamics365_organization_audit_settings.baseline.audit_enabled
    user_access_audit_enabled        = dynamics365_organization_audit_settings.baseline.user_access_audit_enabled
    read_audit_enabled               = dynamics365_organization_audit_settings.baseline.read_audit_enabled
    retention_period_days            = dynamics365_organization_audit_settings.baseline.retention_period_days
    user_access_audit_interval_hours = dynamics365_organization_audit_settings.baseline.user_access_audit_interval_hours
  }
}

# The audit trail: who changed the audit settings, and the latest changes to
# accounts with old and new values. depends_on makes Terraform read them
# after the settings are applied.
data "dynamics365_audit_records" "settings_changes" {
  actions    = ["audit_change_at_org_level", "audit_change_at_entity_level", "audit_change_at_attribute_level"]
  depends_on = [dynamics365_organization_audit_settings.baseline, dynamics365_entity_audit_settings.table]
}

data "dynamics365_audit_records" "recent_account_changes" {
  entity_logical_name = "account"
  actions             = ["create", "update", "delete"]
  include_changes     = true
  limit               = 3
  depends_on          = [dynamics365_entity_audit_settings.table]
}

output "audit_trail" {
  value = {
    settings_changes = length(data.dynamics365_audit_records.settings_changes.records)
    recent_account_changes = [
      for r in data.dynamics365_audit_records.recent_account_changes.records : {
        when    = r.created_on
        action  = r.action_name
        record  = r.record_id
        user    = r.user_name
        changes = { for c in r.changes : c.attribute => "${coalesce(c.old_value, "(none)")} -> ${coalesce(c.new_value, "(none)")}" }
      }
    ]
  }
}

# Read activity (opened records, grids, exports) lands in Microsoft Purview,
# searched here through the Graph audit log query API.
data "dynamics365_audit_log_search" "reads" {
  lookback   = "24h"
  operations = ["Retrieve", "RetrieveMultiple", "ExportToExcel"]
  limit      = 500
  depends_on = [dynamics365_organization_audit_settings.baseline, dynamics365_entity_audit_settings.table]
}

output "purview_read_activity" {
  value = {
    records = length(data.dynamics365_audit_log_search.reads.records)
    by_operation = {
      for op in distinct([for r in data.dynamics365_audit_log_search.reads.records : r.operation]) :
      op => length([for r in data.dynamics365_audit_log_search.reads.records : r if r.operation == op])
    }
    latest = try({
      when   = data.dynamics365_audit_log_search.reads.records[length(data.dynamics365_audit_log_search.reads.records) - 1].created_on
      who    = data.dynamics365_audit_log_search.reads.records[length(data.dynamics365_audit_log_search.reads.records) - 1].user_principal_name
      what   = data.dynamics365_audit_log_search.reads.records[length(data.dynamics365_audit_log_search.reads.records) - 1].operation
      table  = data.dynamics365_audit_log_search.reads.records[length(data.dynamics365_audit_log_search.reads.records) - 1].entity_logical_name
      client = data.dynamics365_audit_log_search.reads.records[length(data.dynamics365_audit_log_search.reads.records) - 1].client_ip
    }, null)
  }
}
