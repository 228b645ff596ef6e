variable "tenant_a" {
  description = "Tenant A's environment and app registration. authority_host, ca_certificate_file and graph_url are for sovereign clouds and the emulator; null means the provider's default."
  type = object({
    environment_url     = string
    tenant_id           = string
    client_id           = string
    authority_host      = optional(string)
    ca_certificate_file = optional(string)
    graph_url           = optional(string)
  })
}

variable "tenant_a_client_secret" {
  description = "Client secret of tenant A's app registration."
  type        = string
  sensitive   = true
}

variable "tenant_b" {
  description = "Tenant B's environment and app registration (see tenant_a)."
  type = object({
    environment_url     = string
    tenant_id           = string
    client_id           = string
    authority_host      = optional(string)
    ca_certificate_file = optional(string)
    graph_url           = optional(string)
  })
}

variable "tenant_b_client_secret" {
  description = "Client secret of tenant B's app registration."
  type        = string
  sensitive   = true
}
