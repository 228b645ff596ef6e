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
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
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
	secrets := strings.Split(string(secretBytes), "\n")
	if len(secrets) < 5 {
		t.Fatalf("the child recorded %d secrets, want one per credential type (5)", len(secrets))
	}

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
		for i, secret := range secrets {
			if secret != "" && strings.Contains(text, secret) {
				t.Errorf("%s contains secret #%d (client secret, certificate password, federated token, request token, identity header)", filepath.Base(p), i+1)
			}
		}
		if strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("%s contains a private key", filepath.Base(p))
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
	for _, want := range []string{"[TRACE] dynamics365: Dataverse request body", "method=PATCH", "PublishXml", "$batch",
		"security/auditLog/queries", "login_method=client_certificate", "login_method=oidc", "login_method=managed_identity"} {
		if !strings.Contains(string(tfLog), want) {
			t.Errorf("terraform.log (%d bytes) does not mention %q: the scan saw no provider trace", len(tfLog), want)
		}
	}
	t.Logf("scanned %d bytes of logs and state", scanned)
}

// TestAccSecretScanWorkload is the child of TestSecretsNeverLogged: every
// resource and data source, and every credential type. Credentials come from
// the environment, as in CI pipelines: the test harness logs the
// configurations it writes, so secrets must not be in them.
func TestAccSecretScanWorkload(t *testing.T) {
	dir := os.Getenv(scanDirEnv)
	if dir == "" {
		t.Skip("run by TestSecretsNeverLogged")
	}
	acctest.PreCheck(t)
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 100 * time.Millisecond})
	var secrets []string
	keep := func(s string) { secrets = append(secrets, s) }
	defer func() {
		if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(strings.Join(secrets, "\n")), 0o600); err != nil {
			t.Error(err)
		}
	}()
	factories := acctest.ProviderFactories(provider.New("test", provider.WithAuditSearchPolling(50*time.Millisecond, 200*time.Millisecond)))
	readAll := `
data "dynamics365_organization_audit_settings" "this" {}
data "dynamics365_entities" "sales" {
  area = "sales"
}
`
	run := func(t *testing.T, clientID string, steps ...resource.TestStep) {
		for i := range steps {
			if steps[i].Config != "" {
				steps[i].Config = env.ProviderConfigWith(fmt.Sprintf("client_id = %q", clientID)) + steps[i].Config
			}
		}
		resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: factories, Steps: steps})
	}

	t.Run("client secret, every resource and data source", func(t *testing.T) {
		keep(env.ClientSecret)
		t.Setenv("AZURE_CLIENT_SECRET", env.ClientSecret)
		user := env.Emulator.AddUser("Scan User")
		resources := `
resource "dynamics365_organization_audit_settings" "this" {
  audit_enabled      = true
  read_audit_enabled = true
  on_destroy         = "restore"
}
resource "dynamics365_entity_audit_settings" "account" {
  entity_logical_name    = "account"
  audit_enabled          = true
  retrieve_audit_enabled = true
  attributes             = { revenue = true }
  publish                = false
  on_destroy             = "disable"
  depends_on             = [dynamics365_organization_audit_settings.this]
}
resource "dynamics365_customizations_publish" "all" {
  entity_logical_names = [dynamics365_entity_audit_settings.account.entity_logical_name]
}
`
		run(t, env.ClientID,
			resource.TestStep{Config: resources, ConfigStateChecks: []statecheck.StateCheck{saveState(filepath.Join(dir, "state-1.json"))}},
			resource.TestStep{
				PreConfig: func() {
					id, err := env.Emulator.SimulateCreate(time.Now(), user, "account", map[string]any{"name": "Scan", "revenue": 1})
					if err == nil {
						err = env.Emulator.SimulateUpdate(time.Now(), user, "account", id, map[string]any{"revenue": 2})
					}
					if err == nil {
						err = env.Emulator.SimulateRetrieve(time.Now(), user, "account", id)
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config: resources + readAll + `
data "dynamics365_audit_records" "changes" {
  entity_logical_name = "account"
  include_changes     = true
}
data "dynamics365_audit_log_search" "reads" {
  lookback = "1h"
}
`,
				ConfigStateChecks: []statecheck.StateCheck{saveState(filepath.Join(dir, "state-2.json"))},
			},
			resource.TestStep{ResourceName: orgAddr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"on_destroy"}},
		)
	})

	// The other logins read the same data: each registers its client in the
	// emulator and returns the secret it hands over and the environment
	// variables that select it.
	logins := []struct {
		name  string
		login func(t *testing.T) (clientID, secret string, vars map[string]string)
	}{
		{"client certificate with password", func(t *testing.T) (string, string, map[string]string) {
			client := env.AddCertificateClient(t, "scan")
			password := "cert-pa55-" + uuid.NewString()
			return client.ClientID, password, map[string]string{
				"AZURE_CLIENT_CERTIFICATE_PATH":     client.PEMFile,
				"AZURE_CLIENT_CERTIFICATE_PASSWORD": password,
			}
		}},
		{"workload identity token file", func(t *testing.T) (string, string, map[string]string) {
			client := env.AddFederatedClient(t, "system:serviceaccount:audit:terraform")
			return client.ClientID, client.Token, map[string]string{
				"DYNAMICS365_USE_OIDC":       "true",
				"AZURE_FEDERATED_TOKEN_FILE": client.TokenFile,
			}
		}},
		{"GitHub Actions OIDC", func(*testing.T) (string, string, map[string]string) {
			clientID := uuid.NewString()
			subject := "repo:d365-audit/baseline:ref:refs/heads/main"
			env.Emulator.AddFederatedClient(clientID, subject)
			requestURL, requestToken := env.Emulator.GitHubActionsOIDC(subject)
			return clientID, requestToken, map[string]string{
				"DYNAMICS365_USE_OIDC":           "true",
				"ACTIONS_ID_TOKEN_REQUEST_URL":   requestURL,
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
			}
		}},
		{"managed identity", func(*testing.T) (string, string, map[string]string) {
			clientID := uuid.NewString()
			endpoint, header := env.Emulator.ManagedIdentity(clientID)
			return clientID, header, map[string]string{
				"DYNAMICS365_USE_MSI": "true",
				"IDENTITY_ENDPOINT":   endpoint,
				"IDENTITY_HEADER":     header,
			}
		}},
	}
	for _, l := range logins {
		t.Run(l.name, func(t *testing.T) {
			clientID, secret, vars := l.login(t)
			keep(secret)
			for name, value := range vars {
				t.Setenv(name, value)
			}
			run(t, clientID, resource.TestStep{Config: readAll})
		})
	}
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
