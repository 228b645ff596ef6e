package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/auth"
)

// Every variable of the one list is honoured: set alone (beside an
// environment_url in the block), it fills the setting of its attribute.
func TestEveryDocumentedEnvironmentVariableIsHonoured(t *testing.T) {
	t.Parallel()
	// value to set, and the resolved setting it must show up as.
	honoured := map[string]struct {
		value string
		got   func(providerSettings) string
		want  string
	}{
		"environment_url":              {"https://env.crm4.dynamics.com", func(s providerSettings) string { return s.environmentURL }, ""},
		"tenant_id":                    {"tenant", func(s providerSettings) string { return s.login.TenantID }, ""},
		"client_id":                    {"client", func(s providerSettings) string { return s.login.ClientID }, ""},
		"client_secret":                {"secret", func(s providerSettings) string { return s.login.ClientSecret }, ""},
		"client_certificate_file_path": {"/c.pfx", func(s providerSettings) string { return s.login.ClientCertificatePath }, ""},
		"client_certificate_password":  {"pw", func(s providerSettings) string { return s.login.ClientCertificatePassword }, ""},
		"use_oidc":                     {"true", func(s providerSettings) string { return fmt.Sprint(s.login.UseOIDC) }, ""},
		"oidc_token":                   {"jwt", func(s providerSettings) string { return s.login.OIDCToken }, ""},
		"oidc_token_file_path":         {"/token", func(s providerSettings) string { return s.login.OIDCTokenFilePath }, ""},
		"oidc_request_url":             {"https://gh.example/token", func(s providerSettings) string { return s.login.OIDCRequestURL }, ""},
		"oidc_request_token":           {"rt", func(s providerSettings) string { return s.login.OIDCRequestToken }, ""},
		"use_msi":                      {"true", func(s providerSettings) string { return fmt.Sprint(s.login.UseMSI) }, ""},
		"use_cli":                      {"true", func(s providerSettings) string { return fmt.Sprint(s.login.UseCLI) }, ""},
		"cloud":                        {"china", func(s providerSettings) string { return s.cloud.Name }, ""},
		"authority_host":               {"https://login.example.com", func(s providerSettings) string { return s.authorityHost }, "https://login.example.com/"},
		"graph_url":                    {"https://graph.example.com", func(s providerSettings) string { return s.graphURL }, ""},
		"graph_audit_api_version":      {"v1.0", func(s providerSettings) string { return s.graphAPIVersion }, ""},
		"request_timeout":              {"90s", func(s providerSettings) string { return s.requestTimeout.String() }, (90 * time.Second).String()},
		"max_retries":                  {"7", func(s providerSettings) string { return fmt.Sprint(s.maxRetries) }, ""},
		"max_concurrent_requests":      {"9", func(s providerSettings) string { return fmt.Sprint(s.maxConcurrentRequests) }, ""},
		"ca_certificate_file":          {"/ca.pem", func(s providerSettings) string { return s.caCertificateFile }, ""},
		"solution_unique_name":         {"audit", func(s providerSettings) string { return s.solutionUniqueName }, ""},
	}
	if len(honoured) != len(auth.EnvironmentVariables) {
		t.Errorf("%d variables listed, %d tested: give each listed variable a row here", len(auth.EnvironmentVariables), len(honoured))
	}
	for _, v := range auth.EnvironmentVariables {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			h, ok := honoured[v.Attribute]
			if !ok {
				t.Fatalf("no test row for %s (%s)", v.Name, v.Attribute)
			}
			cfg := emptyModel()
			if v.Attribute != "environment_url" {
				cfg.EnvironmentURL = types.StringValue("https://block.crm.dynamics.com")
			}
			s, diags := resolveSettings(cfg, envOf(map[string]string{v.Name: h.value}))
			if diags.HasError() {
				t.Fatal(diags)
			}
			want := h.want
			if want == "" {
				want = h.value
			}
			if got := h.got(s); got != want {
				t.Errorf("%s=%q gave %s = %q, want %q", v.Name, h.value, v.Attribute, got, want)
			}
		})
	}
}

// Reproduces issue 14: the login error named AZURE_OIDC_TOKEN, which the
// provider did not read, so following its advice gave the same error.
func TestLoginErrorNamesTheVariableTheProviderReads(t *testing.T) {
	t.Parallel()
	s, diags := resolveSettings(emptyModel(), envOf(map[string]string{envEnvironmentURL: "https://x.crm.dynamics.com",
		envTenantID: "t", envClientID: "c", envUseOIDC: "true"}))
	if diags.HasError() {
		t.Fatal(diags)
	}
	_, err := auth.Select(s.login)
	if err == nil || !strings.Contains(err.Error(), "oidc_token (DYNAMICS365_OIDC_TOKEN)") {
		t.Fatalf("want the error to name DYNAMICS365_OIDC_TOKEN, got %v", err)
	}
	// Follow the advice.
	s, diags = resolveSettings(emptyModel(), envOf(map[string]string{envEnvironmentURL: "https://x.crm.dynamics.com",
		envTenantID: "t", envClientID: "c", envUseOIDC: "true", auth.EnvVar(auth.AttrOIDCToken): "jwt"}))
	if diags.HasError() {
		t.Fatal(diags)
	}
	if _, err := auth.Select(s.login); err != nil {
		t.Fatalf("setting the variable the error names: %v", err)
	}
}

// The schema description of each attribute (docs/index.md) and the
// authentication guide's table name the variable of the list.
func TestEnvironmentVariablesInDocs(t *testing.T) {
	t.Parallel()
	var resp provider.SchemaResponse
	New("test")().Schema(context.Background(), provider.SchemaRequest{}, &resp)
	guide, err := os.ReadFile("../../templates/guides/authentication.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(guide), "\n## All environment variables\n")
	if !found {
		t.Fatal(`templates/guides/authentication.md.tmpl has no "## All environment variables" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}
	var want []string
	for _, v := range auth.EnvironmentVariables {
		attr, ok := resp.Schema.Attributes[v.Attribute]
		if !ok {
			t.Errorf("%s feeds %s, which is not a provider attribute", v.Name, v.Attribute)
			continue
		}
		if !strings.Contains(attr.GetMarkdownDescription(), "`"+v.Name+"`") {
			t.Errorf("description of %s does not name %s: %q", v.Attribute, v.Name, attr.GetMarkdownDescription())
		}
		want = append(want, fmt.Sprintf("| `%s` | `%s` | %s |", v.Name, v.Attribute, v.Description))
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("the table under \"All environment variables\" in templates/guides/authentication.md.tmpl must be:\n%s\n\ngot:\n%s",
			strings.Join(want, "\n"), strings.Join(rows, "\n"))
	}
}
