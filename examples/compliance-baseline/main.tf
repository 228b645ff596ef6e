# One compliance baseline, two tenants: each tenant's Dataverse environment
# gets the baseline through its own aliased provider. make demo applies this
# to two emulated environments.
terraform {
  required_version = ">= 1.9"

  required_providers {
    dynamics365 = {
      source = "d365-audit/dynamics365"
    }
  }
}

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

# What every tenant must have.
locals {
  baseline = {
    tables = ["account", "contact", "lead"]
    columns = {
      account = ["accountnumber", "revenue", "telephone1"]
      contact = ["emailaddress1", "telephone1"]
    }
    read_auditing = {
      account = {}
      contact = { multiple_record = false }
    }
  }
}

module "tenant_a" {
  source    = "./modules/baseline"
  providers = { dynamics365 = dynamics365.tenant_a }

  retention_period_days = 2555 # seven years
  tables                = local.baseline.tables
  columns               = local.baseline.columns
  read_auditing         = local.baseline.read_auditing

  # The policy the evidence is measured against.
  presets               = ["security"]
  read_auditing_presets = ["security"]
  min_retention_days    = 2555
}

# Tenant B also sells: the sales preset and the sales area join its
# baseline, logs are kept forever.
module "tenant_b" {
  source    = "./modules/baseline"
  providers = { dynamics365 = dynamics365.tenant_b }

  retention_period_days = -1
  tables                = local.baseline.tables
  area                  = "sales"
  columns               = merge(local.baseline.columns, { opportunity = ["estimatedvalue"] })
  read_auditing         = local.baseline.read_auditing

  presets            = ["security", "sales"]
  min_retention_days = 2555
}
