package provider_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
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
	client := env.AddCertificateClient(t, "terraform-acc")
	creds := fmt.Sprintf("client_id = %q\n  client_certificate_file_path = %q", client.ClientID, client.PEMFile)
	runLoginTest(t, env, creds)
}

// Workload-identity login: a federated token file exchanged through a
// client_assertion.
func TestAccProvider_oidcTokenFileLogin(t *testing.T) {
	env := acctest.NewEnv(t)
	client := env.AddFederatedClient(t, "repo:d365-audit/baseline:ref:refs/heads/main")
	creds := fmt.Sprintf("client_id = %q\n  use_oidc = true\n  oidc_token_file_path = %q", client.ClientID, client.TokenFile)
	runLoginTest(t, env, creds)
}

func runLoginTest(t *testing.T, env *acctest.Env, creds string) {
	t.Helper()
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfigWith(creds) + orgResourceBody,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(orgAddr, tfjsonpath.New("audit_enabled"), knownvalue.Bool(true)),
		},
	}})
	if !env.Emulator.Organization().IsAuditEnabled {
		t.Error("auditing is not on in the emulator")
	}
	if env.Emulator.RequestCount("POST token") == 0 {
		t.Error("the emulator issued no token")
	}
}
