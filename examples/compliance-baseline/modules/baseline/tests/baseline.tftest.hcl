# terraform test for the baseline module against two environments (two
# emulators in internal/baselinetest, run by make test). Each tenant's
# connection comes from a tfvars file given with -var-file (see the example's
# README.md: the emulator writes it): tenant_a_environment_url,
# tenant_a_tenant_id, tenant_a_client_id, tenant_a_client_secret,
# tenant_a_authority_host, tenant_a_ca_certificate_file, tenant_a_graph_url
# and the same for tenant_b. (Terraform 1.11 gives provider blocks of test
# files only variables from tfvars files, not from -var or TF_VAR_ for
# variables the module does not declare.)

provider "dynamics365" {
  alias               = "tenant_a"
  environment_url     = var.tenant_a_environment_url
  tenant_id           = var.tenant_a_tenant_id
  client_id           = var.tenant_a_client_id
  client_secret       = var.tenant_a_client_secret
  authority_host      = var.tenant_a_authority_host
  ca_certificate_file = var.tenant_a_ca_certificate_file
  graph_url           = var.tenant_a_graph_url
}

provider "dynamics365" {
  alias               = "tenant_b"
  environment_url     = var.tenant_b_environment_url
  tenant_id           = var.tenant_b_tenant_id
  client_id           = var.tenant_b_client_id
  client_secret       = var.tenant_b_client_secret
  authority_host      = var.tenant_b_authority_host
  ca_certificate_file = var.tenant_b_ca_certificate_file
  graph_url           = var.tenant_b_graph_url
}

variables {
  tables = ["account", "contact"]
  columns = {
    account = ["accountnumber", "revenue"]
    contact = ["emailaddress1"]
  }
  read_auditing = {
    account = {}
    contact = { multiple_record = false }
  }
}

# Report only (enforce = false): nothing is changed, and the evidence of
# tenant A as it starts (auditing off, no retention ever set, the security
# tables partly unaudited) fails every condition but the user access interval
# (4 hours, the default) and unpublished changes (none). Each failing check
# is expected by name: a check that did not fail would fail the run.
run "tenant_a_report_only" {
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    enforce            = false
    presets            = ["security"]
    min_retention_days = 2555
  }

  expect_failures = [
    check.auditing_on,
    check.user_access_auditing_on,
    check.read_auditing_on,
    check.retention,
    check.tables_audited,
    check.read_auditing_tables,
  ]

  assert {
    condition = jsonencode(output.conditions) == jsonencode({
      auditing_on = false, no_unpublished_audit_changes = true, read_auditing_on = false, read_auditing_tables = false,
      retention   = false, tables_audited = false, user_access_auditing_on = false, user_access_interval = true
    })
    error_message = "Conditions of the untouched tenant A: ${jsonencode(output.conditions)}."
  }
  assert {
    condition     = !output.compliant && length(dynamics365_entity_audit_settings.table) == 0 && length(dynamics365_organization_audit_settings.this) == 0
    error_message = "Report mode changed something or called tenant A compliant."
  }
  assert {
    condition     = jsondecode(output.evidence).settings.retention_period_days == null && jsondecode(output.evidence).settings.audit_settings_json == null
    error_message = "Evidence settings: ${jsonencode(jsondecode(output.evidence).settings)}."
  }
  assert {
    condition     = contains(jsondecode(output.evidence).policy.presets, "security") && jsondecode(output.evidence).tables["solution"].audit_enabled == false && jsonencode(jsondecode(output.evidence).tables["systemuser"].presets) == jsonencode(["security"])
    error_message = "Evidence tables: ${jsonencode(jsondecode(output.evidence).tables)}."
  }
  assert {
    condition     = startswith(output.summary, "${var.tenant_a_environment_url}: NOT COMPLIANT, 2/8 conditions met")
    error_message = "Summary: ${output.summary}."
  }
}

# Tenant A has never had a retention set (auditretentionperiodv2 is null, as
# in real environments where nobody set one). A baseline that leaves
# retention alone is compliant, and the outputs show null, not 0.
run "tenant_a_retention_not_set" {
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days = null
  }

  assert {
    condition     = output.coverage.organization.retention_period_days == null && dynamics365_organization_audit_settings.this[0].retention_period_days == null
    error_message = "Retention should be null: ${jsonencode(output.coverage.organization)}."
  }
  assert {
    condition     = output.compliant
    error_message = "Tenant A does not match a baseline that leaves retention alone: ${jsonencode(output.coverage)}."
  }
}

# Tenant A: listed tables, columns and read auditing; the retention is set
# for the first time (destroy cannot restore the null: it warns and leaves it).
run "tenant_a" {
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days = 2555
  }

  assert {
    condition     = jsonencode(output.tables) == jsonencode(["account", "contact"])
    error_message = "The baseline's tables are ${jsonencode(output.tables)}."
  }
  assert {
    condition     = output.coverage.tables_in_baseline == 2 && output.coverage.tables_audited == 2 && length(output.coverage.unaudited_tables) == 0
    error_message = "Coverage: ${jsonencode(output.coverage)}."
  }
  assert {
    condition     = output.coverage.columns_audited == 3 && jsonencode(output.coverage.columns) == jsonencode({ account = ["accountnumber", "revenue"], contact = ["emailaddress1"] })
    error_message = "Audited columns: ${jsonencode(output.coverage.columns)}."
  }
  assert {
    condition     = jsonencode(output.coverage.read_audited_tables) == jsonencode(["account", "contact"])
    error_message = "Read-audited tables: ${jsonencode(output.coverage.read_audited_tables)}."
  }
  assert {
    condition     = jsonencode(output.coverage.organization) == jsonencode({ audit_enabled = true, read_audit_enabled = true, retention_period_days = 2555, user_access_audit_enabled = true })
    error_message = "Organization switches: ${jsonencode(output.coverage.organization)}."
  }
  assert {
    condition     = output.compliant
    error_message = "Tenant A does not match the baseline."
  }
  assert {
    condition     = output.coverage.environment_url == var.tenant_a_environment_url
    error_message = "The baseline went to ${output.coverage.environment_url}, not tenant A."
  }
  assert {
    condition     = dynamics365_entity_audit_settings.table["account"].retrieve_audit_enabled && dynamics365_entity_audit_settings.table["account"].retrieve_multiple_audit_enabled
    error_message = "Read auditing of account is not on."
  }
  assert {
    condition     = dynamics365_entity_audit_settings.table["contact"].retrieve_audit_enabled && !dynamics365_entity_audit_settings.table["contact"].retrieve_multiple_audit_enabled
    error_message = "Contact should have single record auditing on and multiple record auditing off."
  }
  assert {
    condition     = !dynamics365_entity_audit_settings.table["account"].publish && length(dynamics365_customizations_publish.this) == 1 && dynamics365_customizations_publish.this[0].published_at != null
    error_message = "The tables were not published once by dynamics365_customizations_publish."
  }
  assert {
    condition     = dynamics365_organization_audit_settings.this[0].retention_period_days == 2555 && dynamics365_organization_audit_settings.this[0].on_destroy == "restore"
    error_message = "Organization settings resource: retention ${dynamics365_organization_audit_settings.this[0].retention_period_days}."
  }
  assert {
    condition     = alltrue(values(jsondecode(output.evidence).conditions)) && jsondecode(output.evidence).compliant
    error_message = "Evidence conditions: ${jsonencode(jsondecode(output.evidence).conditions)}."
  }
  assert {
    condition     = jsonencode(jsondecode(output.evidence).columns) == jsonencode({ account = { audited = ["accountnumber", "revenue"], not_audited = [] }, contact = { audited = ["emailaddress1"], not_audited = [] } })
    error_message = "Evidence columns: ${jsonencode(jsondecode(output.evidence).columns)}."
  }
  # The apply's own settings changes are in the evidence: who, what, when.
  assert {
    condition = anytrue([
      for c in jsondecode(output.evidence).audit_settings_changes : c.action == "audit_change_at_org_level" && c.table == "organization" && c.who != null && c.when != null
    ]) && anytrue([for c in jsondecode(output.evidence).audit_settings_changes : c.action == "audit_enabled"])
    error_message = "Audit-settings changes: ${jsonencode(jsondecode(output.evidence).audit_settings_changes)}."
  }
}

# Tenant B: a different baseline (an area plus a table, retention forever)
# through the second provider, in its own state.
run "tenant_b" {
  providers = { dynamics365 = dynamics365.tenant_b }
  state_key = "tenant_b"

  variables {
    tables                    = ["lead"]
    area                      = "sales"
    columns                   = { lead = ["emailaddress1", "budgetamount"] }
    read_auditing             = { opportunity = { single_record = true, multiple_record = false } }
    retention_period_days     = -1
    user_access_audit_enabled = false
  }

  # The baseline turns user access auditing off, which the policy forbids:
  # the check fails, the rest holds.
  expect_failures = [check.user_access_auditing_on]

  assert {
    condition     = jsonencode(output.tables) == jsonencode(["competitor", "invoice", "lead", "opportunity", "quote", "salesorder"])
    error_message = "The baseline's tables are ${jsonencode(output.tables)}."
  }
  assert {
    condition     = output.coverage.tables_in_baseline == 6 && output.coverage.tables_audited == 6
    error_message = "Coverage: ${jsonencode(output.coverage)}."
  }
  assert {
    condition     = output.coverage.columns_audited == 2 && jsonencode(output.coverage.columns) == jsonencode({ lead = ["budgetamount", "emailaddress1"] })
    error_message = "Audited columns: ${jsonencode(output.coverage.columns)}."
  }
  assert {
    condition     = jsonencode(output.coverage.organization) == jsonencode({ audit_enabled = true, read_audit_enabled = true, retention_period_days = -1, user_access_audit_enabled = false })
    error_message = "Organization switches: ${jsonencode(output.coverage.organization)}."
  }
  assert {
    condition     = !output.compliant && output.coverage.environment_url == var.tenant_b_environment_url
    error_message = "Tenant B's baseline went elsewhere, or user access auditing off counts as compliant: ${jsonencode(output.coverage)}."
  }
  assert {
    condition     = [for k, ok in output.conditions : k if !ok] == ["user_access_auditing_on"]
    error_message = "Failing conditions of tenant B: ${jsonencode(output.conditions)}."
  }
}

# Bad input is refused before anything is read or changed.
run "retention_zero_is_refused" {
  command   = plan
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days = 0
  }

  expect_failures = [var.retention_period_days]
}

run "read_auditing_needs_auditing" {
  command   = plan
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    audit_enabled      = false
    read_audit_enabled = true
  }

  expect_failures = [var.read_audit_enabled]
}

run "unknown_area_is_refused" {
  command   = plan
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    area = "finance"
  }

  expect_failures = [var.area]
}

# A second apply of tenant A's baseline changes nothing.
run "tenant_a_again" {
  command   = plan
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days = 2555
  }

  assert {
    condition     = output.compliant
    error_message = "Tenant A drifted."
  }
}

# The security preset with read auditing on its tables, against a policy of
# seven years' retention: compliant.
run "tenant_a_security_preset" {
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days = 2555
    presets               = ["security"]
    read_auditing_presets = ["security"]
    min_retention_days    = 2555
  }

  assert {
    condition     = output.compliant && output.coverage.tables_in_baseline == 11 && output.coverage.tables_audited == 11
    error_message = "Security preset: ${jsonencode(output.coverage)} ${jsonencode(output.conditions)}."
  }
  assert {
    condition     = jsondecode(output.evidence).tables["solution"].audit_enabled && jsondecode(output.evidence).tables["solution"].retrieve_audit_enabled && jsondecode(output.evidence).tables["solution"].read_auditing_required
    error_message = "Evidence of the solution table: ${jsonencode(jsondecode(output.evidence).tables["solution"])}."
  }
}

# A retention below the policy: the module sets 30 days, the policy asks for
# 2555; forever (-1) would pass.
run "tenant_a_retention_below_policy" {
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days = 30
    min_retention_days    = 2555
  }

  expect_failures = [check.retention]

  assert {
    condition     = !output.conditions.retention && jsondecode(output.evidence).settings.retention_period_days == 30
    error_message = "Retention condition: ${jsonencode(output.conditions)}."
  }
}

# User access logged every 8 hours, the policy asks for at most 4.
run "tenant_a_interval_above_policy" {
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days            = 2555
    user_access_audit_interval_hours = 8
  }

  expect_failures = [check.user_access_interval]

  assert {
    condition     = !output.conditions.user_access_interval && jsondecode(output.evidence).settings.user_access_audit_interval_hours == 8
    error_message = "Interval condition: ${jsonencode(output.conditions)}."
  }
}

# Saved but not published (publish = false, a new table whose auditing is
# off): the check reports the unpublished table.
run "tenant_a_unpublished" {
  providers = { dynamics365 = dynamics365.tenant_a }

  variables {
    retention_period_days            = 2555
    user_access_audit_interval_hours = 4
    tables                           = ["account", "contact", "customeraddress"]
    publish                          = false
  }

  expect_failures = [check.no_unpublished_audit_changes]

  assert {
    condition     = !output.conditions.no_unpublished_audit_changes && jsondecode(output.evidence).tables["customeraddress"].has_unpublished_audit_changes
    error_message = "Unpublished condition: ${jsonencode(output.conditions)} ${jsonencode(jsondecode(output.evidence).tables["customeraddress"])}."
  }
}
