package acctest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// accEnabled says whether acceptance tests were asked for (TF_ACC).
func accEnabled() bool { return os.Getenv("TF_ACC") != "" }

// FindTerraform returns the terraform binary: TF_ACC_TERRAFORM_PATH when set
// (it must exist), else terraform on PATH. Tests and the bench never
// download one.
func FindTerraform() (string, error) {
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("TF_ACC_TERRAFORM_PATH=%s: %w", p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("terraform")
	if err != nil {
		return "", errors.New("no terraform binary: set TF_ACC_TERRAFORM_PATH or put terraform on PATH")
	}
	return p, nil
}

// TerraformPath is FindTerraform for a test: it fails t when there is none.
func TerraformPath(t testing.TB) string {
	t.Helper()
	p, err := FindTerraform()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// BuildProvider compiles the provider binary into a fresh directory and
// returns the directory, for tests that run the terraform CLI themselves
// through dev_overrides.
func BuildProvider(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-dynamics365"), "github.com/d365-audit/terraform-provider-dynamics365")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// DevOverridesCLIConfig writes dir/terraformrc, a CLI configuration whose
// dev_overrides point the provider at providerDir, and returns its path
// (for TF_CLI_CONFIG_FILE). Offline, terraform init fails with
// dev_overrides; plan, apply and test work without it.
func DevOverridesCLIConfig(t testing.TB, dir, providerDir string) string {
	t.Helper()
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
	return rc
}

// CLIWorkdir writes config as a root module with a CLI configuration whose
// dev_overrides point at providerDir (see BuildProvider), and returns
// terraform ready to run in it and the module's directory.
func CLIWorkdir(t testing.TB, providerDir, config string) (*tfexec.Terraform, string) {
	t.Helper()
	dir := t.TempDir()
	rc := DevOverridesCLIConfig(t, dir, providerDir)
	work := filepath.Join(dir, "config")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(RootModule(config)), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := tfexec.NewTerraform(work, TerraformPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.SetEnv(map[string]string{"TF_CLI_CONFIG_FILE": rc, "CHECKPOINT_DISABLE": "1"}); err != nil {
		t.Fatal(err)
	}
	return tf, work
}
