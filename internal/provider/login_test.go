package provider_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const orgResourceBody = `
resource "dynamics365_organization_audit_settings" "this" {
  audit_enabled = true
}
`

// Client-certificate login (PEM with key) against the emulator's token
// endpoint, through the real azidentity.
func TestAccProvider_clientCertificateLogin(t *testing.T) {
	env := acctest.NewEnv(t)
	certPEM, keyPEM, err := emulator.GenerateClientCertificate("terraform-acc")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	clientID := uuid.NewString()
	env.Emulator.AddCertificateClient(clientID, cert)
	certFile := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(certFile, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := fmt.Sprintf("client_id = %q\n  client_certificate_file_path = %q", clientID, certFile)
	runLoginTest(t, env, creds)
}

// Workload-identity login: a federated token file exchanged through a
// client_assertion.
func TestAccProvider_oidcTokenFileLogin(t *testing.T) {
	env := acctest.NewEnv(t)
	clientID := uuid.NewString()
	subject := "repo:d365-audit/baseline:ref:refs/heads/main"
	env.Emulator.AddFederatedClient(clientID, subject)
	token, err := env.Emulator.IssueFederatedToken(subject)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := fmt.Sprintf("client_id = %q\n  use_oidc = true\n  oidc_token_file_path = %q", clientID, tokenFile)
	runLoginTest(t, env, creds)
}

func runLoginTest(t *testing.T, env *acctest.Env, creds string) {
	t.Helper()
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			Config: env.ProviderConfigWith(creds) + orgResourceBody,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("audit_enabled"), knownvalue.Bool(true)),
			},
		}},
	})
	if !env.Emulator.Organization().IsAuditEnabled {
		t.Error("auditing is not on in the emulator")
	}
	if env.Emulator.RequestCount("POST token") == 0 {
		t.Error("the emulator issued no token")
	}
}
