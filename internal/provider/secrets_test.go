package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/provider"
)

// scanDirEnv tells the child process where to write its logs and secrets.
const scanDirEnv = "DYNAMICS365_SECRET_SCAN_DIR"

// A JWT: what every bearer token and federated token looks like.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`)

// TestSecretsNeverLogged runs the acceptance workload below in its own
// process with TF_LOG=trace (TF_LOG is process-wide) and scans the provider's
// and terraform's logs and the state for the client secret and any token.
func TestSecretsNeverLogged(t *testing.T) {
	acctest.PreCheck(t)
	if os.Getenv(scanDirEnv) != "" {
		t.Skip("running as the child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAccSecretScanWorkload$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(),
		scanDirEnv+"="+dir,
		"TF_LOG=trace",
		"TF_LOG_PATH="+filepath.Join(dir, "provider.log"),
		"TF_ACC_LOG_PATH="+filepath.Join(dir, "terraform.log"),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestAccSecretScanWorkload") {
		t.Fatalf("child test did not run:\n%s", out)
	}
	secretBytes, err := os.ReadFile(filepath.Join(dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	secret := string(secretBytes)

	var scanned int
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(p) == "secret" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanned += len(data)
		text := string(data)
		if strings.Contains(text, secret) {
			t.Errorf("%s contains the client secret", filepath.Base(p))
		}
		if m := jwtPattern.FindString(text); m != "" {
			t.Errorf("%s contains a token: %.24s…", filepath.Base(p), m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The in-process provider logs through the test harness's sink, which
	// writes to TF_ACC_LOG_PATH. The scan must have seen real trace output
	// of HTTP calls with their bodies.
	tfLog, _ := os.ReadFile(filepath.Join(dir, "terraform.log"))
	for _, want := range []string{"[TRACE] dynamics365: Dataverse request body", "method=PATCH"} {
		if !strings.Contains(string(tfLog), want) {
			t.Errorf("terraform.log (%d bytes) does not mention %q: the scan saw no provider trace", len(tfLog), want)
		}
	}
	t.Logf("scanned %d bytes of logs and state", scanned)
}

// TestAccSecretScanWorkload is the child of TestSecretsNeverLogged: create,
// update and import the organization resource with a client secret.
func TestAccSecretScanWorkload(t *testing.T) {
	dir := os.Getenv(scanDirEnv)
	if dir == "" {
		t.Skip("run by TestSecretsNeverLogged")
	}
	acctest.PreCheck(t)
	env := acctest.NewEnv(t)
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(env.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	// The secret comes from the environment, as in CI pipelines: the test
	// harness logs the configuration it writes, so it must not be in there.
	t.Setenv("AZURE_CLIENT_SECRET", env.ClientSecret)
	cfg := func(body string) string {
		return env.ProviderConfigWith(fmt.Sprintf("client_id = %q", env.ClientID)) + fmt.Sprintf(`
resource "dynamics365_organization_audit_settings" "this" {
  %s
}
`, body)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"dynamics365": providerserver.NewProtocol6WithError(provider.New("test")()),
		},
		Steps: []resource.TestStep{
			{
				Config:            cfg("audit_enabled = true"),
				ConfigStateChecks: []statecheck.StateCheck{saveState(filepath.Join(dir, "state-1.json"))},
			},
			{
				Config:            cfg("audit_enabled = true\n  user_access_audit_enabled = true\n  on_destroy = \"disable\""),
				ConfigStateChecks: []statecheck.StateCheck{saveState(filepath.Join(dir, "state-2.json"))},
			},
			{ResourceName: orgAddr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"on_destroy"}},
		},
	})
}

// saveState writes the state terraform reports, for the scan.
type saveState string

func (s saveState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	data, err := json.Marshal(req.State)
	if err == nil {
		err = os.WriteFile(string(s), data, 0o600)
	}
	if err != nil {
		resp.Error = fmt.Errorf("save state: %w", err)
	}
}
