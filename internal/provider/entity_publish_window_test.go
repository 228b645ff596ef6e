package provider_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/provider"
)

// Twenty tables with publish = true and a publish window of an hour: each
// batch goes as soon as every resource operation in flight waits on it, so
// the apply finishes within the resources' 3-minute create timeout (a fixed
// window would make every publish fail on that timeout) with about one
// publish per ten tables (Terraform's parallelism) and no lock error.
func TestAccEntityAuditSettings_publishWhenAllWait(t *testing.T) {
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 20)
	factories := map[string]func() (tfprotov6.ProviderServer, error){
		"dynamics365": providerserver.NewProtocol6WithError(provider.New("test", provider.WithGetenv(noEnv),
			provider.WithPublishWindow(time.Hour), provider.WithLockRetryWait(100*time.Millisecond))()),
	}
	const maxPublishes = 20/10 + 3 // a batch may split where Terraform starts the next resources late
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{{
			Config: env.ProviderConfig() + acctest.TablesConfig(tables, `retrieve_audit_enabled = true
  publish                = true
  timeouts {
    create = "3m"
  }`),
			Check: func(*terraform.State) error {
				if u := env.Emulator.UnpublishedEntities(); len(u) > 0 {
					return fmt.Errorf("unpublished tables left: %v", u)
				}
				publishes := env.Emulator.RequestCount("POST PublishXml")
				if publishes < 1 || publishes > maxPublishes {
					return fmt.Errorf("%d PublishXml calls for %d tables (batches %v), want 1 to %d",
						publishes, len(tables), env.Emulator.PublishedTables(), maxPublishes)
				}
				if n := env.Emulator.LockConflictCount(); n != 0 {
					return fmt.Errorf("%d lock conflicts at the emulator, want 0: publishes are serialised", n)
				}
				t.Logf("%d tables: %d PublishXml calls, batches %v", len(tables), publishes, env.Emulator.PublishedTables())
				return nil
			},
		}},
	})
}
