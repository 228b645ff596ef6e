// Package acctest holds what acceptance tests share: an emulated environment
// per test, provider configuration blocks and pre-checks.
package acctest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// Env is one emulated Dataverse environment with a registered application.
type Env struct {
	Emulator     *emulator.Server
	ClientID     string
	ClientSecret string
}

// NewEnv starts an emulator for t (closed when t ends) and registers an
// application client with a random secret and all privileges.
func NewEnv(t testing.TB, opts ...emulator.ClientOption) *Env {
	t.Helper()
	return NewEnvWithOptions(t, emulator.Options{}, opts...)
}

// NewEnvWithOptions is NewEnv with emulator options (publish durations, …).
func NewEnvWithOptions(t testing.TB, emuOpts emulator.Options, opts ...emulator.ClientOption) *Env {
	t.Helper()
	srv, err := emulator.Start(emuOpts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(srv.Close)
	env := &Env{Emulator: srv, ClientID: uuid.NewString(), ClientSecret: "s3cr3t~" + strings.ReplaceAll(uuid.NewString(), "-", "")}
	srv.AddSecretClient(env.ClientID, env.ClientSecret, opts...)
	return env
}

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

// PreCheck skips unless TF_ACC is set and fails when no terraform binary can
// be found: the tests never download one.
func PreCheck(t testing.TB) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests need TF_ACC=1 (make test sets it)")
	}
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("TF_ACC_TERRAFORM_PATH=%s: %v", p, err)
		}
		return
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Fatal("no terraform binary: set TF_ACC_TERRAFORM_PATH or put terraform on PATH")
	}
}
