package acctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHCLListQuotes(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, "[]"},
		{[]string{"account"}, `["account"]`},
		{[]string{"a", `q"uote`, `back\slash`}, `["a", "q\"uote", "back\\slash"]`},
	} {
		if got := HCLList(tt.in); got != tt.want {
			t.Errorf("HCLList(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestTablesConfigOneResourcePerTable(t *testing.T) {
	got := TablesConfig([]string{"account", "contact"}, "audit_enabled = true")
	for _, want := range []string{`tables = ["account", "contact"]`, "count               = length(local.tables)", "\n  audit_enabled = true\n}"} {
		if !strings.Contains(got, want) {
			t.Errorf("TablesConfig lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(RootModule(got), requiredProviders) || !strings.HasSuffix(RootModule(got), got) {
		t.Error("RootModule does not put the required providers before the configuration")
	}
}

func TestFindTerraform(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-terraform")
	t.Setenv("TF_ACC_TERRAFORM_PATH", missing)
	if p, err := FindTerraform(); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing TF_ACC_TERRAFORM_PATH: %q, %v; want an error naming it", p, err)
	}
	fake := filepath.Join(t.TempDir(), "terraform")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_ACC_TERRAFORM_PATH", fake)
	if p, err := FindTerraform(); err != nil || p != fake {
		t.Errorf("FindTerraform() = %q, %v; want %q", p, err, fake)
	}
	t.Setenv("TF_ACC_TERRAFORM_PATH", "")
	t.Setenv("PATH", filepath.Dir(fake))
	if p, err := FindTerraform(); err != nil || p != fake {
		t.Errorf("from PATH: FindTerraform() = %q, %v; want %q", p, err, fake)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindTerraform(); err == nil || !strings.Contains(err.Error(), "TF_ACC_TERRAFORM_PATH") {
		t.Errorf("no terraform anywhere: %v; want an error that says how to provide one", err)
	}
}

func TestDevOverridesCLIConfig(t *testing.T) {
	dir := t.TempDir()
	rc := DevOverridesCLIConfig(t, dir, "/opt/provider")
	b, err := os.ReadFile(rc)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(rc) != dir || !strings.Contains(string(b), `"d365-audit/dynamics365" = "/opt/provider"`) || !strings.Contains(string(b), "direct {}") {
		t.Errorf("%s:\n%s", rc, b)
	}
}

// The environment's provider block carries the emulator's addresses and the
// client's credentials; the extra clients come with their credential files.
// (That the emulator accepts them is what the provider's login tests check.)
func TestEnv(t *testing.T) {
	env := NewEnv(t)
	cfg := env.ProviderConfig("max_retries = 3")
	for _, want := range []string{env.Emulator.EnvironmentURL(), env.Emulator.AuthorityHost(), env.Emulator.TenantID(),
		env.Emulator.CAFile(), env.Emulator.GraphURL(), env.ClientID, env.ClientSecret, "\n  max_retries = 3\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("provider block lacks %q:\n%s", want, cfg)
		}
	}
	tables := env.ChangeableTables(t, 3)
	if len(tables) != 3 {
		t.Fatalf("ChangeableTables(3) = %v", tables)
	}
	for _, name := range tables {
		if st, ok := env.Emulator.EntityAudit(name); !ok || !st.CanBeChanged {
			t.Errorf("%s cannot be changed: %+v", name, st)
		}
	}

	cert := env.AddCertificateClient(t, "acctest")
	if b, err := os.ReadFile(cert.PEMFile); err != nil || !strings.Contains(string(b), "CERTIFICATE") || !strings.Contains(string(b), "PRIVATE KEY") {
		t.Errorf("certificate file: %v\n%s", err, b)
	}
	fed := env.AddFederatedClient(t, "system:serviceaccount:x:y")
	if b, err := os.ReadFile(fed.TokenFile); err != nil || string(b) != fed.Token || fed.Token == "" {
		t.Errorf("token file %q: %v, want the issued token", b, err)
	}
	if cert.ClientID == fed.ClientID || cert.ClientID == env.ClientID {
		t.Error("clients share an ID")
	}
}
