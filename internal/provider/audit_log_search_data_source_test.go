package provider_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const searchAddr = "data.dynamics365_audit_log_search.reads"

// noQueriesCreated checks that no audit log query was created (POST), as
// when an existing query_id is read; while says in which step.
func noQueriesCreated(env *acctest.Env, while string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if n := env.Emulator.RequestCount(graphCreateRoute); n != 0 {
			return fmt.Errorf("%d queries created while %s, want 0", n, while)
		}
		return nil
	}
}

// End to end: read auditing turned on through the resources, simulated reads
// are found by the search; read auditing turned off, new reads are absent.
func TestAccAuditLogSearch_readAuditingEndToEnd(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 200 * time.Millisecond})
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	user := env.Emulator.AddUser("Riley Reader")
	recordID := uuid.NewString()

	settings := func(reads bool) string {
		return env.ProviderConfig() + fmt.Sprintf(`
resource "dynamics365_organization_audit_settings" "org" {
  audit_enabled      = true
  read_audit_enabled = true
}

resource "dynamics365_entity_audit_settings" "account" {
  entity_logical_name             = "account"
  audit_enabled                   = true
  retrieve_audit_enabled          = %t
  retrieve_multiple_audit_enabled = %t
  depends_on                      = [dynamics365_organization_audit_settings.org]
}
`, reads, reads)
	}
	search := fmt.Sprintf(`
data "dynamics365_audit_log_search" "reads" {
  from       = %q
  to         = %q
  operations = ["Retrieve", "RetrieveMultiple", "ExportToExcel"]
  depends_on = [dynamics365_entity_audit_settings.account]
}

data "dynamics365_audit_log_search" "single" {
  from       = %q
  to         = %q
  operations = ["Retrieve"]
  depends_on = [dynamics365_entity_audit_settings.account]
}
`, start.Format(time.RFC3339), start.Add(24*time.Hour).Format(time.RFC3339), start.Format(time.RFC3339), start.Add(24*time.Hour).Format(time.RFC3339))

	simulateReads := func() {
		at := time.Now().UTC()
		for _, err := range []error{
			env.Emulator.SimulateRetrieve(at, user, "account", recordID),
			env.Emulator.SimulateRetrieveMultiple(at, user, "account", 5),
			env.Emulator.SimulateExportToExcel(at, user, "account", 5),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	readsFound := func(n int) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(n))
	}

	parallelSteps(t, []resource.TestStep{
		{Config: settings(true)},
		{
			PreConfig: simulateReads,
			Config:    settings(true) + search,
			ConfigStateChecks: []statecheck.StateCheck{
				readsFound(3),
				statecheck.ExpectKnownValue("data.dynamics365_audit_log_search.single", tfjsonpath.New("records"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"operation":           knownvalue.StringExact("Retrieve"),
						"entity_logical_name": knownvalue.StringExact("account"),
						"record_id":           knownvalue.StringExact(recordID),
						"user_principal_name": knownvalue.StringExact(user.UserPrincipalName),
					}),
				})),
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("truncated"), knownvalue.Bool(false)),
			},
		},
		{
			// Read auditing off for the table; the earlier reads stay.
			Config:            settings(false) + search,
			ConfigStateChecks: []statecheck.StateCheck{readsFound(3)},
		},
		{
			PreConfig:         simulateReads,
			Config:            settings(false) + search,
			ConfigStateChecks: []statecheck.StateCheck{readsFound(3)},
			Check: func(*terraform.State) error {
				if n := len(env.Emulator.UnifiedAuditRecords()); n != 3 {
					return fmt.Errorf("the emulator's unified log has %d records, want the 3 from before", n)
				}
				return nil
			},
		},
	})
}

// Paging and the limit; reusing a query by id creates no new query.
func TestAccAuditLogSearch_queryIDAndPaging(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 100 * time.Millisecond, GraphPageSize: 1000})
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(48 * time.Hour)
	env.Emulator.SeedUnifiedAuditLog(2500, from, to, 5)
	// A query someone created earlier (e.g. a previous plan).
	existing := createAuditQuery(t, env, from, to)

	parallelSteps(t, []resource.TestStep{
		{
			PreConfig: env.Emulator.ResetCounters,
			Config: env.ProviderConfig() + fmt.Sprintf(`
data "dynamics365_audit_log_search" "reads" {
  from  = %q
  to    = %q
  limit = 2200
}
`, from.Format(time.RFC3339), to.Format(time.RFC3339)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(2200)),
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("truncated"), knownvalue.Bool(true)),
			},
			Check: func(*terraform.State) error {
				if n := env.Emulator.RequestCount(graphRecordsRoute); n < 3 {
					return fmt.Errorf("%d record page requests for 2200 records at 1000 a page, want at least 3", n)
				}
				return nil
			},
		},
		{
			PreConfig: env.Emulator.ResetCounters,
			Config: env.ProviderConfig() + fmt.Sprintf(`
data "dynamics365_audit_log_search" "reads" {
  query_id = %q
}
`, existing),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("id"), knownvalue.StringExact(existing)),
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("records"), knownvalue.ListSizeExact(1000)),
				statecheck.ExpectKnownValue(searchAddr, tfjsonpath.New("truncated"), knownvalue.Bool(true)),
			},
			Check: noQueriesCreated(env, "reusing query_id"),
		},
	})
}

const (
	graphCreateRoute  = "POST auditLogQueries"
	graphRecordsRoute = "GET auditLogRecords"
)

// createAuditQuery creates a Graph audit log query outside Terraform and
// returns its id.
func createAuditQuery(t *testing.T, env *acctest.Env, from, to time.Time) string {
	t.Helper()
	token, err := env.Emulator.IssueAccessToken(env.ClientID, env.Emulator.GraphURL(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"@odata.type":"#microsoft.graph.security.auditLogQuery","displayName":"earlier search",`+
		`"filterStartDateTime":%q,"filterEndDateTime":%q,"recordTypeFilters":["crm"]}`, from.Format(time.RFC3339), to.Format(time.RFC3339))
	req, err := http.NewRequest(http.MethodPost, env.Emulator.GraphURL()+"/beta/security/auditLog/queries", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.Emulator.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var q struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil || resp.StatusCode != http.StatusCreated || q.ID == "" {
		t.Fatalf("create query: HTTP %d, %v, id %q", resp.StatusCode, err, q.ID)
	}
	return q.ID
}

// Failures: a failed query and a timeout name the query id; a missing Graph
// permission names the permission; a throttled create is retried after
// Retry-After; other clouds are refused; bad windows fail at plan.
func TestAccAuditLogSearch_errors(t *testing.T) {
	window := `
  lookback = "24h"
`
	cases := []struct {
		name    string
		opts    emulator.Options
		client  []emulator.ClientOption
		setup   func(env *acctest.Env)
		block   string
		extra   string
		err     []string
		re      string // a raw pattern instead of err
		creates int    // POST auditLogQueries the emulator must have seen; -1 = don't check
	}{
		{name: "failed query", setup: func(env *acctest.Env) { env.Emulator.FailAuditQueries(true) },
			block: window, re: `(?s)Audit log query failed.*audit log query [0-9a-f-]{36} failed`, creates: 1},
		{name: "timeout", opts: emulator.Options{GraphQueryDelay: time.Hour},
			block: window + `
  timeouts {
    read = "2s"
  }
`, re: `(?s)Audit log query did not finish.*query [0-9a-f-]{36} did not finish.*query_id`, creates: 1},
		{name: "missing graph permission", client: []emulator.ClientOption{emulator.WithGraphPermissions()},
			block: window, err: []string{"AuditLogsQuery-CRM.Read.All"}, creates: 1},
		{name: "other cloud", extra: `cloud = "usgovernment"`,
			block: window, err: []string{"global (public) cloud only", `"usgovernment"`}, creates: 0},
		{name: "window ends before it starts", block: `
  from = "2026-03-01T00:00:00Z"
  to   = "2026-01-01T00:00:00Z"
`, err: []string{"to (2026-01-01T00:00:00Z) is before from"}, creates: 0},
		{name: "lookback and from", block: `
  lookback = "24h"
  from     = "2026-03-01T00:00:00Z"
`, err: []string{"lookback", "not both"}, creates: 0},
		{name: "lookback not a duration", block: `
  lookback = "1 day"
`, err: []string{"lookback must be a positive duration", "168h"}, creates: 0},
		{name: "no window", block: `
  operations = ["Retrieve"]
`, err: []string{"needs a time window"}, creates: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := acctest.NewEnvWithOptions(t, tc.opts, tc.client...)
			if tc.setup != nil {
				tc.setup(env)
			}
			expect := phrases(tc.err...)
			if tc.re != "" {
				expect = regexp.MustCompile(tc.re)
			}
			parallelSteps(t, []resource.TestStep{{
				Config:      env.ProviderConfig(tc.extra) + "data \"dynamics365_audit_log_search\" \"x\" {" + tc.block + "}\n",
				ExpectError: expect,
			}})
			if n := env.Emulator.RequestCount(graphCreateRoute); tc.creates >= 0 && n != tc.creates {
				t.Errorf("%d audit log queries created, want %d", n, tc.creates)
			}
		})
	}
}

// Graph throttles the create with 429 and Retry-After: 2; the provider waits
// at least that long, then succeeds.
func TestAccAuditLogSearch_throttledCreateRetried(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 100 * time.Millisecond})
	env.Emulator.InjectFaults(graphCreateRoute, emulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second})
	var started time.Time
	parallelSteps(t, []resource.TestStep{{
		PreConfig: func() { started = time.Now() },
		Config:    env.ProviderConfig() + "data \"dynamics365_audit_log_search\" \"x\" {\n  lookback = \"1h\"\n}\n",
		Check: func(*terraform.State) error {
			if n := env.Emulator.RequestCount(graphCreateRoute); n != 2 {
				return fmt.Errorf("%d create requests, want 2 (one throttled, one retried)", n)
			}
			if elapsed := time.Since(started); elapsed < 2*time.Second {
				return fmt.Errorf("finished %s after start: the retry did not wait for Retry-After", elapsed)
			}
			return nil
		},
	}})
}

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
	parallelSteps(t, []resource.TestStep{
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
			Check: resource.ComposeTestCheckFunc(noQueriesCreated(env, "reading query_id on v1.0"),
				func(*terraform.State) error {
					if n := env.Emulator.RequestCount(graphRecordsRoute); n == 0 {
						return fmt.Errorf("no record pages read")
					}
					return nil
				}),
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
	})
}

// On v1.0, without query_id, the read fails at plan with an error that says
// creating needs beta and how to fix it, and creates no query.
func TestAccAuditLogSearch_v1WithoutQueryIDFails(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{GraphQueryDelay: 100 * time.Millisecond})
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig(graphV1) + `
data "dynamics365_audit_log_search" "reads" {
  lookback = "24h"
}
`,
		PlanOnly: true,
		ExpectError: phrases("Creating an audit log query needs the beta Graph API",
			`graph_audit_api_version = "beta"`, "query_id"),
	}})
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
	parallelSteps(t, []resource.TestStep{{
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
	}})
}

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
			parallelSteps(t, []resource.TestStep{{
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
			}})
		})
	}
}
