# Import by the table's logical name. Columns to manage come from the configuration.
terraform import dynamics365_entity_audit_settings.account account
