// Package acctest holds what the acceptance tests, the module tests and the
// bench share: an emulated environment with a registered application, the
// Terraform configuration they write (provider block, table rollouts), the
// terraform binary and CLI configuration, extra login methods, provider
// factories and pre-checks. It must not import internal/provider, so that
// the provider's own (package provider) tests can use it.
package acctest

import (
	"fmt"
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
	return registerClient(StartEmulator(t, emuOpts), opts...)
}

// StartEnv is NewEnvWithOptions for programs without a testing.TB (the
// bench): the caller closes the environment.
func StartEnv(emuOpts emulator.Options, opts ...emulator.ClientOption) (*Env, error) {
	srv, err := emulator.Start(emuOpts)
	if err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	return registerClient(srv, opts...), nil
}

// Close stops the environment's emulator.
func (e *Env) Close() { e.Emulator.Close() }

// StartEmulator starts an emulator for t, closed when t ends, with no
// client registered.
func StartEmulator(t testing.TB, emuOpts emulator.Options) *emulator.Server {
	t.Helper()
	srv, err := emulator.Start(emuOpts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// registerClient adds an application with a random client ID and secret.
func registerClient(srv *emulator.Server, opts ...emulator.ClientOption) *Env {
	env := &Env{Emulator: srv, ClientID: uuid.NewString(), ClientSecret: "s3cr3t~" + strings.ReplaceAll(uuid.NewString(), "-", "")}
	srv.AddSecretClient(env.ClientID, env.ClientSecret, opts...)
	return env
}

// ChangeableTables returns n tables of the emulator whose audit setting can
// be changed, and fails t when there are fewer.
func (e *Env) ChangeableTables(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for _, name := range e.Emulator.EntityNames() {
		if st, _ := e.Emulator.EntityAudit(name); st.CanBeChanged {
			out = append(out, name)
		}
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("the emulator has only %d changeable tables, want %d", len(out), n)
	return nil
}

// PreCheck skips unless TF_ACC is set and fails when no terraform binary can
// be found: the tests never download one.
func PreCheck(t testing.TB) {
	t.Helper()
	if !accEnabled() {
		t.Skip("acceptance tests need TF_ACC=1 (make test sets it)")
	}
	if _, err := FindTerraform(); err != nil {
		t.Fatal(err)
	}
}
