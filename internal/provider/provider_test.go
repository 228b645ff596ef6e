package provider_test

import (
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/provider"
)

// noEnv hides the process environment from the in-process provider, so that
// parallel tests and a developer's AZURE_* variables cannot leak into a test.
func noEnv(string) string { return "" }

// testPublishWindow keeps publish batching in tests short but real: long
// enough for the resources Terraform runs at once to join one batch.
const testPublishWindow = 300 * time.Millisecond

func testFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"dynamics365": providerserver.NewProtocol6WithError(provider.New("test", provider.WithGetenv(noEnv), provider.WithPublishWindow(testPublishWindow),
			provider.WithAuditSearchPolling(50*time.Millisecond, 200*time.Millisecond))()),
	}
}

// preApply is the plan checks of a test step: what the plan must show before
// it is applied.
func preApply(checks ...plancheck.PlanCheck) resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: checks}
}

// parallelSteps runs steps as a parallel acceptance test of the test
// provider (after acctest.PreCheck).
func parallelSteps(t *testing.T, steps []resource.TestStep) {
	t.Helper()
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps:                    steps,
	})
}
