import {
  to = dynamics365_organization_audit_settings.this
  id = "00000000-0000-0000-0000-000000000000"
}
