# Table presets: named lists of tables a baseline audits, each from a public
# Microsoft list. The Power Platform admin center's Security page turns
# auditing on for a recommended set of tables, grouped by category
# (Microsoft Learn, "Manage Dataverse auditing", section "Turn on auditing
# through Security page"); the presets follow those categories. Tables of
# business process flows (opportunitysalesprocess, phonetocaseprocess, …)
# exist only where their app is installed, and tables whose auditing cannot
# be changed (the same page's list: kbarticle, service, …) would fail the
# apply: add either through extra_tables where they apply.
locals {
  presets = {
    # Category "Security" (solution, entity, team, position, organization,
    # fieldsecurityprofile, businessunit) plus the users and security roles
    # of "Common entities" (systemuser, role). Field permissions
    # (fieldpermission) are not in Microsoft's list.
    security = ["businessunit", "entity", "fieldsecurityprofile", "organization", "position", "role", "solution", "systemuser", "team"]

    # Category "Sales" (invoice, salesorder, quote, competitor, opportunity)
    # plus the customers, leads and products of "Common entities".
    sales = ["account", "competitor", "contact", "invoice", "lead", "opportunity", "product", "quote", "salesorder"]

    # Category "CustomerService" (contract, knowledgearticle, queueitem,
    # incident, socialprofile) plus queues and entitlements, which the
    # legacy "Customer Service Entities" checkbox and cases rely on.
    service = ["contract", "entitlement", "incident", "knowledgearticle", "queue", "queueitem", "socialprofile"]
  }
}
