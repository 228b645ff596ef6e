# The policy the evidence is measured against. The module applies the
# settings of variables.tf; these say what an auditor requires, so that a
# report shows a tenant that falls short even when the module does not set
# the value itself (report mode, or a retention set below the policy).

variable "presets" {
  description = "Table presets of the baseline: security, sales, service (see presets.tf for the tables and their sources). Every table of them must be audited."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.presets : contains(["security", "sales", "service"], p)])
    error_message = "presets may contain security, sales and service only."
  }
}

variable "extra_tables" {
  description = "Logical names of further tables that must be audited, on top of the presets."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "read_auditing_presets" {
  description = "Presets whose tables must also have read auditing (single and multiple record), for example [\"security\"]."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.read_auditing_presets : contains(["security", "sales", "service"], p)])
    error_message = "read_auditing_presets may contain security, sales and service only."
  }
}

variable "min_retention_days" {
  description = "Policy: audit logs must be kept at least this many days, or forever (-1). A retention nobody ever set (null) fails it. null: no minimum."
  type        = number
  default     = null

  validation {
    condition     = var.min_retention_days == null ? true : var.min_retention_days >= 1
    error_message = "min_retention_days must be at least 1 day, or null for no minimum."
  }
}

variable "max_user_access_interval_hours" {
  description = "Policy: user access must be logged at least every this many hours (useraccessauditinginterval at most this). null: no maximum."
  type        = number
  default     = 4 # the documented default interval

  validation {
    condition     = var.max_user_access_interval_hours == null ? true : var.max_user_access_interval_hours >= 0
    error_message = "max_user_access_interval_hours must be 0 or more, or null for no maximum."
  }
}

variable "enforce" {
  description = "true: the module applies the baseline and reports on it. false: report only, nothing in the environment is changed (evidence for a tenant the module does not manage)."
  type        = bool
  default     = true
  nullable    = false
}

variable "publish" {
  description = "Publish the tables' audit settings after saving them. false leaves them saved but unpublished for review, which the no_unpublished_audit_changes check reports."
  type        = bool
  default     = true
  nullable    = false
}

variable "audit_settings_changes_limit" {
  description = "How many of the latest audit-settings changes the evidence lists."
  type        = number
  default     = 20
  nullable    = false
}
