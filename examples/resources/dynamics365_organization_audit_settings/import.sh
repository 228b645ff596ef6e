# Import by the environment's organization ID (the OrganizationId of WhoAmI).
terraform import dynamics365_organization_audit_settings.this 00000000-0000-0000-0000-000000000000
