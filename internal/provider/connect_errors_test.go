package provider

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// emulatorModel is a provider block for env's emulator, logging in with the
// client secret.
func emulatorModel(env *acctest.Env) providerModel {
	m := emptyModel()
	m.EnvironmentURL = types.StringValue(env.Emulator.EnvironmentURL())
	m.AuthorityHost = types.StringValue(env.Emulator.AuthorityHost())
	m.TenantID = types.StringValue(env.Emulator.TenantID())
	m.ClientID = types.StringValue(env.ClientID)
	m.ClientSecret = types.StringValue(env.ClientSecret)
	m.CACertificateFile = types.StringValue(env.Emulator.CAFile())
	m.GraphURL = types.StringValue(env.Emulator.GraphURL())
	return m
}

// configure runs what Configure runs after reading the provider block.
func configure(t *testing.T, m providerModel) diag.Diagnostics {
	t.Helper()
	s, diags := resolveSettings(m, envOf(nil))
	if diags.HasError() {
		t.Fatal(diags)
	}
	p := &dynamics365Provider{version: "test", getenv: envOf(nil)}
	_, diags = p.connect(context.Background(), s)
	return diags
}

// A failed login names its cause and the attribute that fixes it; Entra's
// answer is one line in the detail, not azidentity's dump.
func TestConnectNamesTheCauseOfAFailedLogin(t *testing.T) {
	t.Parallel()
	env := acctest.NewEnv(t)
	other := acctest.StartEmulator(t, emulator.Options{}) // a CA that did not issue env's certificate
	for _, tc := range []struct {
		name    string
		edit    func(*providerModel)
		attr    string
		summary string
		detail  []string
	}{
		{name: "certificate of an unknown CA", edit: func(m *providerModel) { m.CACertificateFile = types.StringNull() },
			attr: "ca_certificate_file", summary: "Server certificate not trusted",
			detail: []string{hostOf(env.Emulator.AuthorityHost()) + " (the Microsoft Entra login host", "x509: certificate signed by unknown authority",
				"set ca_certificate_file (DYNAMICS365_CA_CERTIFICATE_FILE) to a PEM file", "system trust store"}},
		{name: "ca_certificate_file of another CA", edit: func(m *providerModel) { m.CACertificateFile = types.StringValue(other.CAFile()) },
			attr: "ca_certificate_file", summary: "Server certificate not trusted",
			detail: []string{"x509: certificate signed by unknown authority", "ca_certificate_file (" + other.CAFile() + ") is set"}},
		{name: "environment url unknown to Entra", edit: func(m *providerModel) { m.EnvironmentURL = types.StringValue("https://contoso.crm.dynamics.com") },
			attr: "environment_url", summary: "Microsoft Entra ID does not know environment_url",
			detail: []string{"no resource named https://contoso.crm.dynamics.com in tenant " + env.Emulator.TenantID(),
				"Check environment_url", "HTTP 400 invalid_resource: AADSTS500011: The resource principal named https://contoso.crm.dynamics.com was not found"}},
		{name: "wrong secret", edit: func(m *providerModel) { m.ClientSecret = types.StringValue("wrong") },
			summary: "Login to Microsoft Entra ID failed",
			detail:  []string{"Check tenant_id, client_id and the credential", "HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := emulatorModel(env)
			tc.edit(&m)
			d := onlyAttributeError(t, configure(t, m), tc.attr)
			if d.Summary() != tc.summary {
				t.Errorf("summary %q, want %q", d.Summary(), tc.summary)
			}
			for _, p := range tc.detail {
				if !strings.Contains(d.Detail(), p) {
					t.Errorf("detail lacks %q:\n%s", p, d.Detail())
				}
			}
			// azidentity's dump (request line, separators, pretty-printed JSON) stays out.
			for _, dump := range []string{"-----", "RESPONSE ", "\"error_codes\"", "Trace ID", "To troubleshoot"} {
				if strings.Contains(d.Detail(), dump) {
					t.Errorf("detail has azidentity's dump (%q):\n%s", dump, d.Detail())
				}
			}
		})
	}
}

// An HTTPS server that answers {"value":[]} to everything is not taken for
// a Dataverse environment (where it would read as an empty audit trail):
// Configure's WhoAmI fails, naming environment_url.
func TestConnectRefusesAServerThatIsNotDataverse(t *testing.T) {
	t.Parallel()
	env := acctest.NewEnv(t)
	var (
		mu       sync.Mutex
		requests []string
	)
	foreign := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[]}`))
	}))
	t.Cleanup(foreign.Close)
	env.Emulator.AddResource(foreign.URL) // Entra issues a token for it, as for any resource in the tenant
	// Trust both the emulator and the foreign server, so that only the answer is wrong.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	both := append(env.Emulator.CAPEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: foreign.Certificate().Raw})...)
	if err := os.WriteFile(caFile, both, 0o600); err != nil {
		t.Fatal(err)
	}
	m := emulatorModel(env)
	m.EnvironmentURL = types.StringValue(foreign.URL)
	m.CACertificateFile = types.StringValue(caFile)

	d := onlyAttributeError(t, configure(t, m), "environment_url")
	if d.Summary() != "environment_url is not a Dataverse environment" ||
		!strings.Contains(d.Detail(), foreign.URL+" does not answer like a Dataverse environment") ||
		!strings.Contains(d.Detail(), `GET WhoAmI answered HTTP 200 with "{\"value\":[]}"`) {
		t.Errorf("%s: %s", d.Summary(), d.Detail())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requests) != 1 || requests[0] != "GET /api/data/v9.2/WhoAmI" {
		t.Errorf("requests %v, want one GET WhoAmI", requests)
	}
}

// Configure costs the environment exactly one request, WhoAmI (tests and
// the bench that count requests see one more per configured provider).
func TestConnectAsksWhoAmIOnce(t *testing.T) {
	t.Parallel()
	env := acctest.NewEnv(t)
	if diags := configure(t, emulatorModel(env)); diags.HasError() {
		t.Fatal(diags)
	}
	var environmentRequests []string
	for _, r := range env.Emulator.RequestLog() {
		if r.Listener == emulator.ListenerEnvironment {
			environmentRequests = append(environmentRequests, r.Method+" "+r.Route)
		}
	}
	if len(environmentRequests) != 1 || environmentRequests[0] != "GET WhoAmI" {
		t.Errorf("Configure sent %v to the environment, want [GET WhoAmI]", environmentRequests)
	}
}
