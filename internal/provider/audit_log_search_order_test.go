package provider_test

import (
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// Microsoft documents neither the order of an audit log query's records nor
// its page size: the data source returns the same records whichever order
// and page size the service uses.
func TestAccAuditLogSearch_orderAndPageSizeDoNotMatter(t *testing.T) {
	for _, mode := range []struct {
		newestFirst bool
		pageSize    int
	}{{false, 1000}, {true, 7}} {
		t.Run(fmt.Sprintf("newestFirst=%t/pageSize=%d", mode.newestFirst, mode.pageSize), func(t *testing.T) {
			env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: -1,
				GraphPageSize: mode.pageSize, GraphRecordsNewestFirst: mode.newestFirst})
			from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			to := from.Add(48 * time.Hour)
			env.Emulator.SeedUnifiedAuditLog(50, from, to, 9)
			var want []string
			for _, r := range env.Emulator.UnifiedAuditRecords() {
				want = append(want, r.ID)
			}
			sort.Strings(want)
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: testFactories(),
				Steps: []resource.TestStep{{
					Config: env.ProviderConfig() + fmt.Sprintf(`
data "dynamics365_audit_log_search" "reads" {
  from = %q
  to   = %q
}
`, from.Format(time.RFC3339), to.Format(time.RFC3339)),
					Check: func(s *terraform.State) error {
						attrs := s.RootModule().Resources[searchAddr].Primary.Attributes
						n, _ := strconv.Atoi(attrs["records.#"])
						got := make([]string, 0, n)
						for i := range n {
							got = append(got, attrs["records."+strconv.Itoa(i)+".id"])
						}
						// The option took effect: the service's order is kept.
						first, last := attrs["records.0.created_on"], attrs["records."+strconv.Itoa(n-1)+".created_on"]
						if (first > last) != mode.newestFirst {
							return fmt.Errorf("first record %s, last %s: not in the emulator's order", first, last)
						}
						sort.Strings(got)
						if fmt.Sprint(got) != fmt.Sprint(want) {
							return fmt.Errorf("records %v\nwant the emulator's %v", got, want)
						}
						if pages := env.Emulator.RequestCount(graphRecordsRoute); mode.pageSize < 50 && pages < 50/mode.pageSize {
							return fmt.Errorf("%d record pages at %d a page: the test did not page", pages, mode.pageSize)
						}
						return nil
					},
				}},
			})
		})
	}
}
