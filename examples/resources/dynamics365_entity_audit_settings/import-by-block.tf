import {
  to = dynamics365_entity_audit_settings.account
  id = "account"
}
