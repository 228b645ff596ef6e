package acctest

import (
	"fmt"
	"strings"
)

// ProviderConfig is a provider block that logs in with the client secret.
// Extra lines are added inside the block.
func (e *Env) ProviderConfig(extra ...string) string {
	return e.ProviderConfigWith(fmt.Sprintf("client_id = %q\n  client_secret = %q", e.ClientID, e.ClientSecret), extra...)
}

// ProviderConfigWith is a provider block with the environment's addresses
// and the given credential lines.
func (e *Env) ProviderConfigWith(credentials string, extra ...string) string {
	return fmt.Sprintf(`
provider "dynamics365" {
  environment_url     = %q
  authority_host      = %q
  tenant_id           = %q
  ca_certificate_file = %q
  graph_url           = %q
  %s
  %s
}
`, e.Emulator.EnvironmentURL(), e.Emulator.AuthorityHost(), e.Emulator.TenantID(), e.Emulator.CAFile(), e.Emulator.GraphURL(),
		credentials, strings.Join(extra, "\n  "))
}

// TablesConfig is one entity audit settings resource per table (count, not
// for_each: the test framework's legacy state shim cannot index for_each),
// with the given attribute lines.
func TablesConfig(tables []string, body string) string {
	return fmt.Sprintf(`
locals {
  tables = %s
}

resource "dynamics365_entity_audit_settings" "t" {
  count               = length(local.tables)
  entity_logical_name = local.tables[count.index]
  %s
}
`, HCLList(tables), body)
}

// HCLList is names as an HCL list of quoted strings.
func HCLList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// requiredProviders declares the provider's source address; a root module
// that runs through the terraform CLI needs it.
const requiredProviders = `terraform {
  required_providers {
    dynamics365 = { source = "d365-audit/dynamics365" }
  }
}
`

// RootModule is config as a main.tf that the terraform CLI can run: with the
// provider's source address.
func RootModule(config string) string { return requiredProviders + config }
