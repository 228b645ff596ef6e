package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/auth"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

func TestHCLQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           `"plain"`,
		`a"b\c`:           `"a\"b\\c"`,
		"${x} %{y} $ % {": `"$${x} %%{y} $ % {"`,
		"tab\tnl\n\x01":   `"tab\tnl\n\u0001"`,
	} {
		if got := hclQuote(in); got != want {
			t.Errorf("hclQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// terraformConsole evaluates expr with vars declared and read from tfvars.
func terraformConsole(t *testing.T, tfvars string, vars []string, expr string) string {
	t.Helper()
	tf, err := acctest.FindTerraform()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	var decl strings.Builder
	for _, v := range vars {
		decl.WriteString("variable \"" + v + "\" {\n  type = string\n}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "variables.tf"), []byte(decl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tf, "console", "-var-file="+tfvars)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	cmd.Stdin = strings.NewReader(expr + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("terraform console: %v\n%s", err, out)
	}
	return string(out)
}

// TestTFVarsFileAcceptedByTerraform: -tfvars-file with -tfvars-prefix
// tenant_a holds exactly the variables internal/baselinetest writes, and
// terraform reads them back unchanged (even a secret with "${" in it).
func TestTFVarsFileAcceptedByTerraform(t *testing.T) {
	t.Parallel()
	tfvars := filepath.Join(t.TempDir(), "tenant_a.auto.tfvars")
	secret := `s3cr"et ${not_a_template} \ %{x}`
	srv, env := startInProcess(t, "-tfvars-file", tfvars, "-tfvars-prefix", "tenant_a", "-client-secret", secret)
	var vars, exprs []string
	for _, name := range tfvarsNames {
		vars = append(vars, "tenant_a_"+name)
		exprs = append(exprs, "var.tenant_a_"+name)
	}
	out := terraformConsole(t, tfvars, vars, "jsonencode(["+strings.Join(exprs, ", ")+"])")
	// console prints the JSON as an HCL string: decode both layers.
	var encoded string
	if err := json.Unmarshal([]byte(strings.TrimSpace(lastLine(out))), &encoded); err != nil {
		t.Fatalf("console output %q: %v", out, err)
	}
	var got []string
	if err := json.Unmarshal([]byte(encoded), &got); err != nil {
		t.Fatalf("%q: %v", encoded, err)
	}
	want := []string{srv.EnvironmentURL(), srv.TenantID(), demoClientID, srv.AuthorityHost(), srv.CAFile(), srv.GraphURL(), secret}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("terraform read\n%q\nwant\n%q", got, want)
	}
	if env["AZURE_CLIENT_SECRET"] != secret {
		t.Errorf("env file secret %q", env["AZURE_CLIENT_SECRET"])
	}
	if fi, err := os.Stat(tfvars); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tfvars file: %v %v", fi, err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestCertificateAndOIDCLogins: -client-certificate and -federated-subject
// register credentials the provider's own login code (internal/auth) signs
// in with, offline.
func TestCertificateAndOIDCLogins(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM, err := emulator.GenerateClientCertificate("baseline-ci")
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(pemFile, append(keyPEM, certPEM...), 0o600); err != nil { // key first: skipped
		t.Fatal(err)
	}
	const subject = "repo:contoso/audit-baseline:ref:refs/heads/main"
	srv, env := startInProcess(t, "-client-certificate", pemFile, "-federated-subject", subject,
		"-federated-issuer", "https://token.actions.githubusercontent.com")
	if srv.FederatedIssuer() != "https://token.actions.githubusercontent.com" || env["ACTIONS_ID_TOKEN_REQUEST_URL"] == "" || env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] == "" {
		t.Fatalf("env = %v", env)
	}
	base := auth.Config{TenantID: env["AZURE_TENANT_ID"], ClientID: env["AZURE_CLIENT_ID"], AuthorityHost: env["AZURE_AUTHORITY_HOST"], HTTPClient: srv.HTTPClient()}
	certCfg := base
	certCfg.ClientCertificatePath = pemFile
	oidcCfg := base
	oidcCfg.UseOIDC, oidcCfg.OIDCRequestURL, oidcCfg.OIDCRequestToken = true, env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
	for name, cfg := range map[string]auth.Config{"certificate": certCfg, "oidc": oidcCfg} {
		cred, method, err := auth.NewCredential(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{srv.EnvironmentURL() + "/.default"}}); err != nil {
			t.Errorf("%s (%s): %v", name, method, err)
		}
	}
	if srv.TokensIssued(env["AZURE_CLIENT_ID"]) < 2 {
		t.Errorf("tokens issued: %d", srv.TokensIssued(env["AZURE_CLIENT_ID"]))
	}
}

func TestClientCertificateFlagErrors(t *testing.T) {
	dir := t.TempDir()
	noCert := filepath.Join(dir, "key.pem")
	_, keyPEM, err := emulator.GenerateClientCertificate("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noCert, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		noCert:                            "no PEM CERTIFICATE block",
		filepath.Join(dir, "missing.pem"): "-client-certificate",
	} {
		if _, err := readCertificate(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", filepath.Base(path), err, want)
		}
	}
}
