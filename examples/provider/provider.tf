terraform {
  required_providers {
    dynamics365 = {
      source = "d365-audit/dynamics365"
    }
  }
}

variable "client_secret" {
  type      = string
  sensitive = true
}

# Client secret login. tenant_id, client_id and client_secret can also come
# from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET.
provider "dynamics365" {
  environment_url = "https://contoso.crm.dynamics.com"
  tenant_id       = "00000000-0000-0000-0000-000000000001"
  client_id       = "00000000-0000-0000-0000-000000000002"
  client_secret   = var.client_secret
}

# Workload identity (for example GitHub Actions OIDC): no stored secret.
provider "dynamics365" {
  alias           = "oidc"
  environment_url = "https://fabrikam.crm.dynamics.com"
  tenant_id       = "00000000-0000-0000-0000-000000000001"
  client_id       = "00000000-0000-0000-0000-000000000002"
  use_oidc        = true
}
