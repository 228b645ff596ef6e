# Organization settings of the baseline.
variable "audit_enabled" {
  description = "Start Auditing in the environment."
  type        = bool
  default     = true
  nullable    = false
}

variable "user_access_audit_enabled" {
  description = "Log when users access the environment."
  type        = bool
  default     = true
  nullable    = false
}

variable "read_audit_enabled" {
  description = "Send read activity of tables with read auditing to Microsoft Purview. Needs audit_enabled."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = !var.read_audit_enabled || var.audit_enabled
    error_message = "read_audit_enabled needs audit_enabled = true."
  }
}

variable "retention_period_days" {
  description = "Days audit logs are kept: -1 keeps them forever, otherwise 1 to 365000 (the admin center offers at most 24855). null leaves the environment's retention as it is, which may itself be null where nobody ever set one."
  type        = number
  default     = 2555 # seven years

  # || does not short-circuit in Terraform and null >= 1 is an error: the
  # conditional keeps null away from the comparisons.
  validation {
    condition     = var.retention_period_days == null ? true : (var.retention_period_days == -1 || (var.retention_period_days >= 1 && var.retention_period_days <= 365000 && floor(var.retention_period_days) == var.retention_period_days))
    error_message = "retention_period_days must be -1 (forever), a whole number of days from 1 to 365000, or null to leave it as it is."
  }
}

variable "user_access_audit_interval_hours" {
  description = "Hours between two user access log entries of the same user (useraccessauditinginterval). null leaves the environment's interval as it is."
  type        = number
  default     = null
}

# Tables of the baseline: the tables of the presets (variables_policy.tf),
# the listed tables, the tables of an area, and every table named in columns
# or read_auditing.
variable "tables" {
  description = "Logical names of tables whose auditing the baseline turns on."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "area" {
  description = "A legacy audit area whose tables join the baseline: common, customer_service, marketing or sales. null for none."
  type        = string
  default     = null

  validation {
    condition     = var.area == null || contains(["common", "customer_service", "marketing", "sales"], coalesce(var.area, "common"))
    error_message = "area must be one of common, customer_service, marketing, sales (or null)."
  }
}

variable "columns" {
  description = "Columns to audit, by table logical name. The table joins the baseline."
  type        = map(list(string))
  default     = {}
  nullable    = false
}

variable "read_auditing" {
  description = "Read auditing by table logical name: single record (opened records) and multiple record (grids, exports). Tables left out keep their read auditing as it is."
  type = map(object({
    single_record   = optional(bool, true)
    multiple_record = optional(bool, true)
  }))
  default  = {}
  nullable = false
}

variable "on_destroy" {
  description = "What destroying the baseline does: retain, restore (the values seen before) or disable."
  type        = string
  default     = "restore"
  nullable    = false

  validation {
    condition     = contains(["retain", "restore", "disable"], var.on_destroy)
    error_message = "on_destroy must be retain, restore or disable."
  }
}
