package provider

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// emptyModel is a provider block with every attribute unset (null).
func emptyModel() providerModel {
	return providerModel{
		EnvironmentURL: types.StringNull(), TenantID: types.StringNull(), ClientID: types.StringNull(),
		ClientSecret: types.StringNull(), ClientCertificateFilePath: types.StringNull(), ClientCertificatePassword: types.StringNull(),
		UseOIDC: types.BoolNull(), OIDCToken: types.StringNull(), OIDCTokenFilePath: types.StringNull(),
		OIDCRequestURL: types.StringNull(), OIDCRequestToken: types.StringNull(), UseMSI: types.BoolNull(), UseCLI: types.BoolNull(),
		Cloud: types.StringNull(), AuthorityHost: types.StringNull(), GraphURL: types.StringNull(),
		GraphAuditAPIVersion: types.StringNull(), RequestTimeout: types.StringNull(), MaxRetries: types.Int64Null(),
		MaxConcurrentRequests: types.Int64Null(), CACertificateFile: types.StringNull(), SolutionUniqueName: types.StringNull(),
	}
}

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestResolveSettingsDefaultsAndEnvironment(t *testing.T) {
	t.Parallel()
	// Only the environment URL: everything else defaults.
	cfg := emptyModel()
	cfg.EnvironmentURL = types.StringValue("https://Contoso.crm.dynamics.com/")
	s, diags := resolveSettings(cfg, envOf(nil))
	if diags.HasError() {
		t.Fatal(diags)
	}
	if s.environmentURL != "https://Contoso.crm.dynamics.com" || s.cloud.Name != "public" ||
		s.authorityHost != "https://login.microsoftonline.com/" || s.graphURL != "https://graph.microsoft.com" ||
		s.graphAPIVersion != "beta" || s.requestTimeout != msapi.DefaultRequestTimeout ||
		s.maxRetries != msapi.DefaultMaxRetries || s.maxConcurrentRequests != msapi.DefaultMaxConcurrentRequests ||
		s.caCertificateFile != "" || s.solutionUniqueName != "" || s.login.UseMSI || s.login.ClientID != "" {
		t.Errorf("defaults: %+v", s)
	}

	// Everything from the environment.
	env := map[string]string{
		envEnvironmentURL: "https://env.crm4.dynamics.com", envTenantID: "tenant", envClientID: "client",
		envClientSecret: "secret", envUseMSI: "true", envUseCLI: "false", envCloud: "usgovernment",
		envAuthorityHost: "http://127.0.0.1:9000/login/", envGraphURL: "https://graph.example.com/",
		envGraphAuditAPIVersion: "v1.0", envRequestTimeout: "90s", envMaxRetries: "0",
		envMaxConcurrentRequests: "52", envCACertificateFile: "/ca.pem", envSolutionUniqueName: "audit",
		envOIDCTokenFilePath: "/token",
	}
	s, diags = resolveSettings(emptyModel(), envOf(env))
	if diags.HasError() {
		t.Fatal(diags)
	}
	if s.environmentURL != "https://env.crm4.dynamics.com" || s.cloud.Name != "usgovernment" ||
		s.authorityHost != "http://127.0.0.1:9000/login/" || s.graphURL != "https://graph.example.com" ||
		s.graphAPIVersion != "v1.0" || s.requestTimeout != 90*time.Second || s.maxRetries != 0 ||
		s.maxConcurrentRequests != 52 || s.caCertificateFile != "/ca.pem" || s.solutionUniqueName != "audit" ||
		s.login.TenantID != "tenant" || s.login.ClientID != "client" || s.login.ClientSecret != "secret" ||
		!s.login.UseMSI || s.login.UseCLI || s.login.OIDCTokenFilePath != "/token" {
		t.Errorf("from the environment: %+v", s)
	}

	// The provider block wins over the environment, also with false and 1.
	cfg = emptyModel()
	cfg.EnvironmentURL = types.StringValue("https://block.crm.dynamics.com")
	cfg.UseMSI = types.BoolValue(false)
	cfg.MaxRetries = types.Int64Value(1)
	cfg.Cloud = types.StringValue("public")
	s, diags = resolveSettings(cfg, envOf(env))
	if diags.HasError() {
		t.Fatal(diags)
	}
	if s.environmentURL != "https://block.crm.dynamics.com" || s.login.UseMSI || s.maxRetries != 1 ||
		s.cloud.Name != "public" || s.login.ClientID != "client" {
		t.Errorf("block over environment: %+v", s)
	}
}

func TestResolveSettingsRefusals(t *testing.T) {
	t.Parallel()
	const url = "https://contoso.crm.dynamics.com"
	for _, tc := range []struct {
		name    string
		edit    func(*providerModel)
		env     map[string]string
		attr    string // "" for an error without attribute
		summary string
		detail  string
	}{
		{name: "missing environment url", edit: func(m *providerModel) { m.EnvironmentURL = types.StringNull() },
			attr: "environment_url", summary: "Missing environment_url", detail: envEnvironmentURL},
		{name: "unknown client secret", edit: func(m *providerModel) { m.ClientSecret = types.StringUnknown() },
			attr: "client_secret", summary: "Unknown provider configuration value", detail: "while client_secret is unknown"},
		{name: "plain http", edit: func(m *providerModel) { m.EnvironmentURL = types.StringValue("http://contoso.crm.dynamics.com") },
			attr: "environment_url", summary: "Invalid environment_url", detail: "uses plain http: use https"},
		{name: "path", env: map[string]string{envEnvironmentURL: url + "/main.aspx"}, edit: func(m *providerModel) { m.EnvironmentURL = types.StringNull() },
			attr: "environment_url", summary: "Invalid environment_url", detail: "has a path (/main.aspx): give only the environment's address"},
		{name: "cloud", env: map[string]string{envCloud: "mars"},
			attr: "cloud", summary: "Unknown cloud", detail: `cloud "mars" is not one of public`},
		{name: "authority host", edit: func(m *providerModel) { m.AuthorityHost = types.StringValue("login.example.com") },
			attr: "authority_host", summary: "Invalid authority_host", detail: "is not an absolute URL"},
		{name: "graph url", env: map[string]string{envGraphURL: "http://graph.example.com"},
			attr: "graph_url", summary: "Invalid graph_url", detail: "uses plain http"},
		{name: "graph version", env: map[string]string{envGraphAuditAPIVersion: "v2"},
			attr: "graph_audit_api_version", summary: "Invalid graph_audit_api_version", detail: `got "v2"`},
		{name: "timeout", env: map[string]string{envRequestTimeout: "ten"},
			attr: "request_timeout", summary: "Invalid request_timeout", detail: `"ten" is not a duration`},
		{name: "timeout range", edit: func(m *providerModel) { m.RequestTimeout = types.StringValue("2h") },
			attr: "request_timeout", summary: "Invalid request_timeout", detail: "use between 1s and 1h"},
		{name: "retries from the environment", env: map[string]string{envMaxRetries: "many"},
			attr: "max_retries", summary: "Invalid max_retries", detail: "environment variable DYNAMICS365_MAX_RETRIES must be a whole number"},
		{name: "retries range", env: map[string]string{envMaxRetries: "31"},
			attr: "max_retries", summary: "Invalid max_retries", detail: "max_retries must be between 0 and 30, got 31"},
		{name: "concurrency range", edit: func(m *providerModel) { m.MaxConcurrentRequests = types.Int64Value(0) },
			attr: "max_concurrent_requests", summary: "Invalid max_concurrent_requests",
			detail: "between 1 and 52 (the Dataverse limit per user), got 0"},
		{name: "login switch", env: map[string]string{envUseCLI: "yes please"},
			summary: "Invalid provider environment variable", detail: `DYNAMICS365_USE_CLI must be true or false, got "yes please"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := emptyModel()
			cfg.EnvironmentURL = types.StringValue(url)
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			_, diags := resolveSettings(cfg, envOf(tc.env))
			d := onlyAttributeError(t, diags, tc.attr)
			if d.Summary() != tc.summary || !strings.Contains(d.Detail(), tc.detail) {
				t.Errorf("got %q: %q; want %q containing %q", d.Summary(), d.Detail(), tc.summary, tc.detail)
			}
		})
	}
}

// The Dataverse and Graph clients share one transport setting; a user's
// max_retries = 0 means no retries, which the transport spells -1.
func TestTransportSettings(t *testing.T) {
	t.Parallel()
	s := providerSettings{maxRetries: 0, maxConcurrentRequests: 7, requestTimeout: time.Minute}
	got := s.transport(nil, nil, "ua/1")
	if got.MaxRetries != -1 || got.MaxConcurrentRequests != 7 || got.RequestTimeout != time.Minute || got.UserAgent != "ua/1" {
		t.Errorf("%+v", got)
	}
	s.maxRetries = 3
	if got := s.transport(nil, nil, "ua/1"); got.MaxRetries != 3 {
		t.Errorf("max_retries 3 gave %d", got.MaxRetries)
	}
}
