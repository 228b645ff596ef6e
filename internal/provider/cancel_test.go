package provider_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// buildProvider compiles the provider binary for tests that run the
// terraform CLI themselves (the test framework never cancels a command).
func buildProvider(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-dynamics365"), "github.com/d365-audit/terraform-provider-dynamics365")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func terraformPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		return p
	}
	p, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal("no terraform binary")
	}
	return p
}

// cliWorkdir writes a configuration and a CLI config whose dev_overrides
// point at the built provider. Offline, terraform init fails with
// dev_overrides; plan and apply work without it.
func cliWorkdir(t *testing.T, providerDir, config string) (*tfexec.Terraform, string) {
	t.Helper()
	dir := t.TempDir()
	rc := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf(`provider_installation {
  dev_overrides {
    "d365-audit/dynamics365" = %q
  }
  direct {}
}
`, providerDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "config")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	main := `terraform {
  required_providers {
    dynamics365 = { source = "d365-audit/dynamics365" }
  }
}
` + config
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := tfexec.NewTerraform(work, terraformPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.SetEnv(map[string]string{"TF_CLI_CONFIG_FILE": rc, "CHECKPOINT_DISABLE": "1"}); err != nil {
		t.Fatal(err)
	}
	return tf, work
}

// SIGINT during an apply (what Ctrl-C does) stops it promptly; the state it
// leaves is reconciled by the next apply, after which the plan is empty.
func TestAccCancelApply(t *testing.T) {
	acctest.PreCheck(t)
	t.Parallel()
	env := acctest.NewEnvWithOptions(t, emulator.Options{PublishBaseDuration: 1500 * time.Millisecond})
	tables := changeableTables(t, env, 20)
	tf, work := cliWorkdir(t, buildProvider(t), env.ProviderConfig()+tablesConfig(tables, "retrieve_audit_enabled = true"))
	if err := tf.SetWaitDelay(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt time.Time
	go func() {
		for env.Emulator.RequestCount("PUT EntityDefinitions") < 5 {
			time.Sleep(20 * time.Millisecond)
		}
		cancelledAt = time.Now()
		cancel()
	}()
	err := tf.Apply(ctx)
	stopped := time.Since(cancelledAt)
	if err == nil {
		t.Fatal("the interrupted apply reported success")
	}
	changedBeforeRerun := 0
	for _, name := range tables {
		if st, _ := env.Emulator.EntityAudit(name); st.IsRetrieveAuditEnabled {
			changedBeforeRerun++
		}
	}
	t.Logf("apply interrupted after %d metadata PUTs; terraform exited %s after SIGINT; %d of %d tables changed",
		env.Emulator.RequestCount("PUT EntityDefinitions"), stopped.Round(time.Millisecond), changedBeforeRerun, len(tables))
	if changedBeforeRerun == len(tables) {
		t.Errorf("every table was changed: the interrupt did not stop the apply")
	}
	if _, err := os.Stat(filepath.Join(work, "terraform.tfstate")); err != nil {
		t.Errorf("no state after the interrupted apply: %v", err)
	}

	// The next apply reconciles; then nothing is left to do.
	if err := tf.Apply(context.Background()); err != nil {
		t.Fatalf("apply after the interrupt: %v", err)
	}
	changes, err := tf.Plan(context.Background())
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if changes {
		t.Error("the plan after the second apply is not empty")
	}
	var unpublished []string
	for _, name := range tables {
		st, _ := env.Emulator.EntityAudit(name)
		if !st.IsRetrieveAuditEnabled {
			t.Errorf("table %s was not changed by the second apply", name)
		}
		if !env.Emulator.IsPublished(name) {
			unpublished = append(unpublished, name)
		}
	}
	if len(unpublished) > 0 {
		t.Errorf("tables left unpublished: %s", strings.Join(unpublished, ", "))
	}
}
