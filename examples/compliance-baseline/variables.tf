# Tenant A's environment and app registration, from tenant_a.tfvars (see
# README.md: the emulator's -tfvars-file writes it, tenant_a.tfvars.example
# shows it for a real tenant). The module's tests read the same variables.
variable "tenant_a_environment_url" {
  description = "URL of tenant A's Dataverse environment, such as https://contoso.crm.dynamics.com."
  type        = string
}

variable "tenant_a_tenant_id" {
  description = "Microsoft Entra tenant id of tenant A."
  type        = string
}

variable "tenant_a_client_id" {
  description = "Application (client) id of tenant A's app registration."
  type        = string
}

variable "tenant_a_client_secret" {
  description = "Client secret of tenant A's app registration."
  type        = string
  sensitive   = true
}

variable "tenant_a_authority_host" {
  description = "Microsoft Entra login endpoint of tenant A for sovereign clouds and the emulator; null for the provider's default."
  type        = string
  default     = null
}

variable "tenant_a_ca_certificate_file" {
  description = "PEM file of a CA to trust for tenant A (the emulator's); null for the system trust store."
  type        = string
  default     = null
}

variable "tenant_a_graph_url" {
  description = "Microsoft Graph endpoint of tenant A for sovereign clouds and the emulator; null for the provider's default."
  type        = string
  default     = null
}

# Tenant B's, from tenant_b.tfvars.
variable "tenant_b_environment_url" {
  description = "URL of tenant B's Dataverse environment, such as https://contoso.crm.dynamics.com."
  type        = string
}

variable "tenant_b_tenant_id" {
  description = "Microsoft Entra tenant id of tenant B."
  type        = string
}

variable "tenant_b_client_id" {
  description = "Application (client) id of tenant B's app registration."
  type        = string
}

variable "tenant_b_client_secret" {
  description = "Client secret of tenant B's app registration."
  type        = string
  sensitive   = true
}

variable "tenant_b_authority_host" {
  description = "Microsoft Entra login endpoint of tenant B for sovereign clouds and the emulator; null for the provider's default."
  type        = string
  default     = null
}

variable "tenant_b_ca_certificate_file" {
  description = "PEM file of a CA to trust for tenant B (the emulator's); null for the system trust store."
  type        = string
  default     = null
}

variable "tenant_b_graph_url" {
  description = "Microsoft Graph endpoint of tenant B for sovereign clouds and the emulator; null for the provider's default."
  type        = string
  default     = null
}
