# Free log capacity: delete the audit logs of two tables older than the
# start of 2025. The plan shows how many rows match (matching_rows).
resource "dynamics365_audit_log_deletion" "old_sales_logs" {
  before               = "2025-01-01T00:00:00Z"
  entity_logical_names = ["opportunity", "lead"]

  timeouts {
    create = "2h"
  }
}

output "old_sales_logs" {
  value = "deletes ${dynamics365_audit_log_deletion.old_sales_logs.matching_rows}${dynamics365_audit_log_deletion.old_sales_logs.matching_rows_is_lower_bound ? "+" : ""} audit rows"
}
