package provider_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// badInput is one refused input: the configuration after the provider
// block (or a whole configuration from build), the phrases the error must
// contain, and whether the value is known at plan time so that the plan
// itself must fail.
type badInput struct {
	name  string
	hcl   string                        // appended to the default provider block
	build func(env *acctest.Env) string // or the whole configuration
	privs []string                      // the client's privileges, when limited
	err   []string
	plan  bool
}

// badInputs covers the provider configuration, both settings resources, the
// publish resource and every data source.
var badInputs = []badInput{
	// Provider configuration.
	{name: "plain http environment url", plan: true, build: func(env *acctest.Env) string {
		return strings.Replace(env.ProviderConfig(), env.Emulator.EnvironmentURL(), "http://contoso.crm.dynamics.com", 1) + orgResourceBody
	}, err: []string{"environment_url", "uses plain http: use https"}},
	{name: "environment url with a path", plan: true, build: func(env *acctest.Env) string {
		return strings.Replace(env.ProviderConfig(), env.Emulator.EnvironmentURL(), env.Emulator.EnvironmentURL()+"/main.aspx", 1) + orgResourceBody
	}, err: []string{"environment_url", "has a path (/main.aspx)"}},
	{name: "environment url not a url", plan: true, build: func(env *acctest.Env) string {
		return strings.Replace(env.ProviderConfig(), env.Emulator.EnvironmentURL(), "contoso", 1) + orgResourceBody
	}, err: []string{"environment_url", "is not an absolute URL"}},
	{name: "missing credentials", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfigWith(fmt.Sprintf("client_id = %q", env.ClientID)) + orgResourceBody
	}, err: []string{"client_secret (AZURE_CLIENT_SECRET)", "use_msi"}},
	{name: "two login methods", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfig("use_msi = true\n  use_cli = true") + orgResourceBody
	}, err: []string{"Only one of use_oidc, use_msi and use_cli"}},
	{name: "wrong client secret", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfigWith(fmt.Sprintf("client_id = %q\n  client_secret = \"not-the-secret\"", env.ClientID)) + orgResourceBody
	}, err: []string{"Login to Microsoft Entra ID failed", "AADSTS7000215"}},
	{name: "server certificate not trusted", plan: true, build: func(env *acctest.Env) string {
		return strings.Replace(env.ProviderConfig(), fmt.Sprintf("ca_certificate_file = %q", env.Emulator.CAFile()), "", 1) + orgResourceBody
	}, err: []string{"Server certificate not trusted", "x509: certificate signed by unknown authority", "set ca_certificate_file"}},
	{name: "environment url unknown to Entra", plan: true, build: func(env *acctest.Env) string {
		return strings.Replace(env.ProviderConfig(), env.Emulator.EnvironmentURL(), "https://contoso.crm.dynamics.com", 1) + orgResourceBody
	}, err: []string{"Microsoft Entra ID does not know environment_url", "Check environment_url", "AADSTS500011"}},
	{name: "max concurrent requests out of range", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfig("max_concurrent_requests = 0") + orgResourceBody
	}, err: []string{"max_concurrent_requests", "between 1 and 52"}},
	{name: "max retries out of range", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfig("max_retries = 99") + orgResourceBody
	}, err: []string{"max_retries", "between 0 and 30"}},
	{name: "unknown cloud", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfig(`cloud = "mars"`) + orgResourceBody
	}, err: []string{"cloud", "public"}},
	{name: "request timeout not a duration", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfig(`request_timeout = "ten"`) + orgResourceBody
	}, err: []string{"request_timeout", `"ten" is not a duration`}},
	{name: "graph api version", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfig(`graph_audit_api_version = "v2"`) + orgResourceBody
	}, err: []string{"graph_audit_api_version", `"beta"`}},
	{name: "ca file that is not PEM", plan: true, build: func(env *acctest.Env) string {
		return strings.Replace(env.ProviderConfig(), env.Emulator.CAFile(), "/etc/hostname", 1) + orgResourceBody
	}, err: []string{"ca_certificate_file", "holds no PEM certificate"}},

	// dynamics365_organization_audit_settings.
	{name: "retention zero", plan: true, hcl: orgRes("retention_period_days = 0"),
		err: []string{"retention_period_days must be -1 (keep forever) or between 1 and 365000 days, got 0"}},
	{name: "retention too long", plan: true, hcl: orgRes("retention_period_days = 365001"),
		err: []string{"between 1 and 365000 days, got 365001", "Use -1 to keep audit logs forever"}},
	// 0 is the column's minimum (organization table reference): accepted, see
	// TestAccOrganizationAuditSettings_intervalZero.
	{name: "interval negative", plan: true, hcl: orgRes("user_access_audit_interval_hours = -1"),
		err: []string{"user_access_audit_interval_hours must be between 0 and 2147483647 hours, got -1"}},
	{name: "interval above Int32", plan: true, hcl: orgRes("user_access_audit_interval_hours = 99999999999"),
		err: []string{"user_access_audit_interval_hours must be between 0 and 2147483647 hours, got 99999999999", "32-bit integer"}},
	{name: "unknown destroy policy", plan: true, hcl: orgRes(`on_destroy = "delete"`),
		err: []string{"on_destroy", `"retain"`, `"delete"`}},
	{name: "read audit without audit", plan: true, hcl: orgRes("audit_enabled = false\n  read_audit_enabled = true"),
		err: []string{"read_audit_enabled = true works only while auditing is on", "Set audit_enabled = true"}},
	{name: "read audit while the environment has auditing off", plan: true, hcl: orgRes("read_audit_enabled = true"),
		err: []string{"read_audit_enabled", "auditing is off in https://127.0.0.1", "Add audit_enabled = true"}},
	// Known only by asking Dataverse: fails at apply, before any write.
	{name: "missing prvReadOrganization", plan: false, privs: []string{"prvReadEntity"}, hcl: orgRes("audit_enabled = true"),
		err: []string{"prvReadOrganization", "security role"}},

	// dynamics365_entity_audit_settings.
	{name: "unknown table", plan: true, hcl: entityRes(`entity_logical_name = "nosuchtable"
  audit_enabled = true`), err: []string{"entity_logical_name", `no table with the logical name "nosuchtable"`}},
	{name: "display name instead of logical name", plan: true, hcl: entityRes(`entity_logical_name = "Account"
  audit_enabled = true`), err: []string{"entity_logical_name", "must be a table logical name"}},
	{name: "unknown column", plan: true, hcl: entityRes(`entity_logical_name = "account"
  attributes = { nosuchcolumn = true }`), err: []string{"Unknown column", `Table "account" has no column "nosuchcolumn"`}},
	{name: "column that cannot be audited", plan: true, hcl: entityRes(`entity_logical_name = "account"
  attributes = { versionnumber = true }`), err: []string{"Column cannot be audited", `column "versionnumber" of table "account"`, "CanBeChanged = false"}},
	{name: "virtual column", plan: true, hcl: entityRes(`entity_logical_name = "account"
  attributes = { createdbyname = true }`), err: []string{"virtual column derived from", `Audit "createdby" instead`}},
	{name: "locked table", plan: true, hcl: entityRes(`entity_logical_name = "uom"
  audit_enabled = true`), err: []string{"audit_enabled", `Auditing of table "uom" cannot be changed`, "CanBeChanged = false"}},
	{name: "bad column name", plan: true, hcl: entityRes(`entity_logical_name = "account"
  attributes = { "Telephone 1" = true }`), err: []string{"attributes", "must be a column logical name"}},
	{name: "entity destroy policy", plan: true, hcl: entityRes(`entity_logical_name = "account"
  on_destroy = "drop"`), err: []string{"on_destroy", `"retain"`}},
	{name: "bad timeout", plan: true, hcl: entityRes(`entity_logical_name = "account"
  timeouts {
    create = "soon"
  }`), err: []string{"Invalid Attribute Value Time Duration", `create = "soon"`}},

	// dynamics365_customizations_publish.
	{name: "publish unknown table", plan: true, hcl: `resource "dynamics365_customizations_publish" "x" {
  entity_logical_names = ["account", "nosuchtable"]
}`, err: []string{"entity_logical_names", `no table with the logical name "nosuchtable"`}},
	{name: "publish nothing", plan: true, hcl: `resource "dynamics365_customizations_publish" "x" {
  entity_logical_names = []
}`, err: []string{"entity_logical_names", "at least 1"}},

	// dynamics365_audit_records.
	{name: "from after to", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  from = "2026-03-01T00:00:00Z"
  to   = "2026-01-01T00:00:00Z"
}`, err: []string{"to (2026-01-01T00:00:00Z) is before from (2026-03-01T00:00:00Z)"}},
	{name: "from not a timestamp", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  from = "yesterday"
}`, err: []string{"from must be an RFC 3339 timestamp", `"yesterday"`}},
	{name: "record id not a guid", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  record_id = "12345"
}`, err: []string{"record_id", "must be a GUID"}},
	{name: "user id not a guid", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  user_id = "admin@contoso.com"
}`, err: []string{"user_id", "must be a GUID"}},
	{name: "unknown action", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  actions = ["sneeze"]
}`, err: []string{"Unknown audit action", "sneeze"}},
	{name: "unknown operation", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  operations = ["read"]
}`, err: []string{"operations", `"read"`}},
	{name: "limit zero", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  limit = 0
}`, err: []string{"limit", "between 1 and 100000"}},
	{name: "limit too high", plan: true, hcl: `data "dynamics365_audit_records" "x" {
  limit = 100001
}`, err: []string{"limit", "between 1 and 100000"}},
	{name: "missing prvReadAuditSummary", plan: true, privs: []string{"prvReadOrganization"},
		hcl: `data "dynamics365_audit_records" "x" {}`, err: []string{"prvReadAuditSummary", "security role"}},

	// dynamics365_entities.
	{name: "unknown area", plan: true, hcl: `data "dynamics365_entities" "x" {
  area = "finance"
}`, err: []string{"area", `"customer_service"`}},
	{name: "unknown table names", plan: true, hcl: `data "dynamics365_entities" "x" {
  logical_names = ["account", "nosuch", "neither"]
}`, err: []string{"logical_names", `no tables named "neither", "nosuch"`}},

	// dynamics365_organization_audit_settings data source.
	{name: "organization data source without privilege", plan: true, privs: []string{"prvReadEntity"},
		hcl: `data "dynamics365_organization_audit_settings" "x" {}`, err: []string{"prvReadOrganization"}},

	// dynamics365_audit_log_search.
	{name: "search window ends before it starts", plan: true, hcl: `data "dynamics365_audit_log_search" "x" {
  from = "2026-03-01T00:00:00Z"
  to   = "2026-01-01T00:00:00Z"
}`, err: []string{"to (2026-01-01T00:00:00Z) is before from"}},
	{name: "lookback and from", plan: true, hcl: `data "dynamics365_audit_log_search" "x" {
  lookback = "24h"
  from     = "2026-03-01T00:00:00Z"
}`, err: []string{"lookback", "not both"}},
	{name: "lookback not a duration", plan: true, hcl: `data "dynamics365_audit_log_search" "x" {
  lookback = "1 day"
}`, err: []string{"lookback must be a positive duration", "168h"}},
	{name: "search without a window", plan: true, hcl: `data "dynamics365_audit_log_search" "x" {
  operations = ["Retrieve"]
}`, err: []string{"needs a time window"}},
	{name: "search outside the global cloud", plan: true, build: func(env *acctest.Env) string {
		return env.ProviderConfig(`cloud = "usgovernment"`) + `data "dynamics365_audit_log_search" "x" {
  lookback = "24h"
}`
	}, err: []string{"global (public) cloud only", `"usgovernment"`}},
}

func orgRes(body string) string {
	return "resource \"dynamics365_organization_audit_settings\" \"this\" {\n  " + body + "\n}\n"
}

func entityRes(body string) string {
	return "resource \"dynamics365_entity_audit_settings\" \"x\" {\n  " + body + "\n}\n"
}

// Every bad input is refused with an error that names the attribute or the
// cause and how to fix it; values known at plan time fail the plan; the
// emulator sees no write.
func TestAccBadInput(t *testing.T) {
	if len(badInputs) < 30 {
		t.Fatalf("only %d bad inputs", len(badInputs))
	}
	for _, tc := range badInputs {
		t.Run(tc.name, func(t *testing.T) {
			var env *acctest.Env
			if tc.privs != nil {
				env = acctest.NewEnv(t, emulator.WithPrivileges(tc.privs...))
			} else {
				env = acctest.NewEnv(t)
			}
			cfg := env.ProviderConfig() + tc.hcl
			if tc.build != nil {
				cfg = tc.build(env)
			}
			expect := phrases(tc.err...)
			if tc.plan {
				expect = regexp.MustCompile(`(?s)(Error running pre-apply plan|Error running plan|refresh).*` + expect.String())
			}
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: testFactories(),
				Steps:                    []resource.TestStep{{Config: cfg, ExpectError: expect}},
			})
			if n := env.Emulator.WriteCount(); n != 0 {
				t.Errorf("the emulator saw %d write requests, want none", n)
			}
		})
	}
}
