package provider_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const graphV1 = `graph_audit_api_version = "v1.0"`

// On v1.0 the data source reads existing queries: their records, and
// record_count_limit_exceeded from v1.0's isRecordCountLimitExceeded. On
// beta, which does not report it, the attribute is null and the records are
// the same.
func TestAccAuditLogSearch_v1ReadsQueryID(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 100 * time.Millisecond, GraphRecordCountLimit: 5})
	busy := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	quiet := busy.Add(48 * time.Hour)
	env.Emulator.SeedUnifiedAuditLog(8, busy, busy.Add(time.Hour), 1)
	env.Emulator.SeedUnifiedAuditLog(3, quiet, quiet.Add(time.Hour), 2)
	// Queries created earlier (e.g. in the Purview portal, or on beta).
	overLimit := createAuditQuery(t, env, busy, busy.Add(time.Hour))
	withinLimit := createAuditQuery(t, env, quiet, quiet.Add(time.Hour))

	config := func(extra string) string {
		return env.ProviderConfig(extra) + fmt.Sprintf(`
data "dynamics365_audit_log_search" "reads" {
  query_id = %q
}

data "dynamics365_audit_log_search" "quiet" {
  query_id = %q
}
`, overLimit, withinLimit)
	}
	const quietAddr = "data.dynamics365_audit_log_search.quiet"
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{
			{
				PreConfig: env.Emulator.ResetCounters,
				Config:    config(graphV1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("id"), knownvalue.StringExact(overLimit)),
					statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(5)),
					statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("record_count_limit_exceeded"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(quietAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue(quietAddr, tfjsonpath.New("record_count_limit_exceeded"), knownvalue.Bool(false)),
				},
				Check: func(*terraform.State) error {
					if n := env.Emulator.RequestCount(graphCreateRoute); n != 0 {
						return fmt.Errorf("%d queries created while reading query_id on v1.0, want 0", n)
					}
					if n := env.Emulator.RequestCount(graphRecordsRoute); n == 0 {
						return fmt.Errorf("no record pages read")
					}
					return nil
				},
			},
			{
				// The same queries read on beta: same records, no count flag.
				Config: config(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(5)),
					statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("record_count_limit_exceeded"), knownvalue.Null()),
					statecheck.ExpectKnownValue(quietAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(3)),
					statecheck.ExpectKnownValue(quietAddr, tfjsonpath.New("record_count_limit_exceeded"), knownvalue.Null()),
				},
			},
		},
	})
}

// On v1.0, without query_id, the read fails at plan with an error that says
// creating needs beta and how to fix it, and creates no query.
func TestAccAuditLogSearch_v1WithoutQueryIDFails(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 100 * time.Millisecond})
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			Config: env.ProviderConfig(graphV1) + `
data "dynamics365_audit_log_search" "reads" {
  lookback = "24h"
}
`,
			PlanOnly: true,
			ExpectError: phrases("Creating an audit log query needs the beta Graph API",
				`graph_audit_api_version = "beta"`, "query_id"),
		}},
	})
	if n := env.Emulator.RequestCount(graphCreateRoute); n != 0 {
		t.Errorf("%d audit log queries created (POST), want 0", n)
	}
	if n := env.Emulator.AuditQueryCount(); n != 0 {
		t.Errorf("the emulator holds %d queries, want 0", n)
	}
}

// Beta creates and reads as before; record_count_limit_exceeded is null
// there because beta does not report it.
func TestAccAuditLogSearch_betaCreatesAsBefore(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 100 * time.Millisecond})
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	env.Emulator.SeedUnifiedAuditLog(4, from, from.Add(time.Hour), 3)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: testFactories(),
		Steps: []resource.TestStep{{
			PreConfig: env.Emulator.ResetCounters,
			Config: env.ProviderConfig(`graph_audit_api_version = "beta"`) + fmt.Sprintf(`
data "dynamics365_audit_log_search" "reads" {
  from = %q
  to   = %q
}
`, from.Format(time.RFC3339), from.Add(time.Hour).Format(time.RFC3339)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(4)),
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("record_count_limit_exceeded"), knownvalue.Null()),
			},
			Check: func(*terraform.State) error {
				if n := env.Emulator.RequestCount(graphCreateRoute); n != 1 {
					return fmt.Errorf("%d queries created on beta, want 1", n)
				}
				return nil
			},
		}},
	})
}
