# Who opened or exported account records in the last day (needs organization
# read auditing and single/multiple record auditing on the table).
data "dynamics365_audit_log_search" "account_reads" {
  lookback   = "24h"
  operations = ["Retrieve", "RetrieveMultiple", "ExportToExcel"]
  keyword    = "account"
  limit      = 1000

  timeouts {
    read = "30m"
  }
}

output "account_readers" {
  value = distinct([for r in data.dynamics365_audit_log_search.account_reads.records : r.user_principal_name])
}

# Read the results of an earlier query again, without creating a new one on
# every plan. This is also the only form that works with
# graph_audit_api_version = "v1.0", where Microsoft documents reading a query
# but not creating one; v1.0 also fills record_count_limit_exceeded.
data "dynamics365_audit_log_search" "earlier" {
  query_id = "2c1e2ab3-3e62-4d5b-9a40-5f3b8d6a1c11"
}
