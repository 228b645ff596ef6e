package provider_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// The organization and 50 tables applied while 20% of all requests fail
// (429 with Retry-After, 500/502/503/504, connection resets) and some writes
// fail after they were applied: the apply succeeds, the environment matches
// the configuration, no change is recorded twice, and the next plan is empty.
func TestAccResilience_transientFaults(t *testing.T) {
	env := acctest.NewEnv(t)
	tables := env.ChangeableTables(t, 50)
	env.Emulator.SetFaultRules(20261125,
		emulator.FaultRule{Route: "*", Fraction: 0.2, Statuses: []int{429, 500, 502, 503, 504, 0}, RetryAfter: time.Second},
		// The service applies the write, then the answer is lost.
		emulator.FaultRule{Route: "PUT EntityDefinitions", Fraction: 0.1, Statuses: []int{502}, AfterHandler: true},
		emulator.FaultRule{Route: "PATCH organizations", Fraction: 0.5, Statuses: []int{0}, AfterHandler: true},
	)
	cfg := env.ProviderConfig("max_retries = 10") + `
resource "dynamics365_organization_audit_settings" "org" {
  audit_enabled             = true
  user_access_audit_enabled = true
  retention_period_days     = 365
}
` + acctest.TablesConfig(tables, "audit_enabled = true\n  retrieve_multiple_audit_enabled = true\n  depends_on = [dynamics365_organization_audit_settings.org]")
	parallelSteps(t, []resource.TestStep{{
		Config: cfg,
		Check: func(*terraform.State) error {
			o := env.Emulator.Organization()
			if !o.IsAuditEnabled || !o.IsUserAccessAuditEnabled || o.AuditRetentionPeriodV2 != 365 {
				return fmt.Errorf("organization: %+v", o)
			}
			for _, name := range tables {
				st, _ := env.Emulator.EntityAudit(name)
				if !st.IsAuditEnabled || !st.IsRetrieveMultipleAuditEnabled || !env.Emulator.IsPublished(name) {
					return fmt.Errorf("table %s: %+v, published=%t", name, st, env.Emulator.IsPublished(name))
				}
			}
			// Each real change is recorded once: retries of writes that had
			// already been applied changed nothing.
			perTable := map[string]int{}
			orgChanges := 0
			for _, r := range env.Emulator.AuditRecords() {
				switch r.Action {
				case emulator.ActionAuditChangeAtEntityLevel:
					perTable[r.ObjectTypeCode]++
				case emulator.ActionAuditChangeAtOrgLevel:
					orgChanges++
				}
			}
			for _, name := range tables {
				if perTable[name] != 1 {
					return fmt.Errorf("table %s has %d entity-level audit changes recorded, want 1", name, perTable[name])
				}
			}
			if orgChanges != 1 {
				return fmt.Errorf("%d organization settings changes recorded, want 1", orgChanges)
			}
			if env.Emulator.InjectedFaultCount() < 20 {
				return fmt.Errorf("only %d faults were injected; the test did not exercise the retries", env.Emulator.InjectedFaultCount())
			}
			t.Logf("%d faults injected; %d metadata PUTs, %d PublishXml", env.Emulator.InjectedFaultCount(),
				env.Emulator.RequestCount("PUT EntityDefinitions"), env.Emulator.RequestCount("POST PublishXml"))
			return nil
		},
	}})
}

// Requests in flight never exceed max_concurrent_requests (the emulator's
// high-water mark), even with Terraform running ten resources at once.
func TestAccResilience_concurrencyBound(t *testing.T) {
	env := acctest.NewEnv(t)
	env.Emulator.SetFaultRules(1, emulator.FaultRule{Route: "*", Latency: 40 * time.Millisecond})
	tables := env.ChangeableTables(t, 30)
	parallelSteps(t, []resource.TestStep{{
		PreConfig: env.Emulator.ResetCounters,
		Config:    env.ProviderConfig("max_concurrent_requests = 3") + acctest.TablesConfig(tables, "retrieve_audit_enabled = true"),
		Check: func(*terraform.State) error {
			hw := env.Emulator.ConcurrencyHighWater()
			t.Logf("high-water mark of concurrent requests: %d (limit 3)", hw)
			if hw > 3 {
				return fmt.Errorf("%d requests were in flight at once, max_concurrent_requests is 3", hw)
			}
			if hw < 2 {
				return fmt.Errorf("high-water mark %d: the test did not run requests in parallel", hw)
			}
			return nil
		},
	}})
}

// A token that the service stops accepting before its advertised expiry is
// replaced once and the call succeeds.
func TestAccResilience_tokenExpiresMidRun(t *testing.T) {
	env := acctest.NewEnvWithOptions(t, emulator.Options{
		TokenLifetime:           2 * time.Second,
		AdvertisedTokenLifetime: time.Hour,
		PublishBaseDuration:     1500 * time.Millisecond,
	})
	tables := env.ChangeableTables(t, 15)
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfig() + acctest.TablesConfig(tables, "retrieve_audit_enabled = true"),
		Check: func(*terraform.State) error {
			rejected := 0
			for _, r := range env.Emulator.RequestLog() {
				if r.Listener == emulator.ListenerEnvironment && r.Status == http.StatusUnauthorized {
					rejected++
				}
			}
			t.Logf("%d requests rejected with an expired token; %d tokens issued", rejected, env.Emulator.TokensIssued(env.ClientID))
			if rejected == 0 {
				return fmt.Errorf("no token expired during the apply; the test did not exercise the refresh")
			}
			for _, name := range tables {
				if st, _ := env.Emulator.EntityAudit(name); !st.IsRetrieveAuditEnabled {
					return fmt.Errorf("table %s not changed", name)
				}
			}
			return nil
		},
	}})
}

// A rejected login is one clear error, not a retry storm.
func TestAccResilience_rejectedLoginIsNotRetried(t *testing.T) {
	env := acctest.NewEnv(t)
	parallelSteps(t, []resource.TestStep{{
		Config: env.ProviderConfigWith(fmt.Sprintf("client_id = %q\n  client_secret = \"wrong\"", env.ClientID)) +
			`data "dynamics365_organization_audit_settings" "x" {}`,
		ExpectError: phrases("Login to Microsoft Entra ID failed", "AADSTS7000215"),
	}})
	if n := env.Emulator.RequestCount("POST token"); n < 1 || n > 2 {
		t.Errorf("%d token requests for one rejected login, want 1 (at most 2)", n)
	}
}

// Retries wait for Retry-After, stop after max_retries, and the error says
// the status, the attempts and what to do.
func TestAccResilience_retriesExhausted(t *testing.T) {
	env := acctest.NewEnv(t)
	fault := emulator.Fault{Status: http.StatusServiceUnavailable, RetryAfter: time.Second}
	env.Emulator.InjectFaults("GET organizations", fault, fault, fault, fault)
	parallelSteps(t, []resource.TestStep{{
		Config:      env.ProviderConfig("max_retries = 2") + `data "dynamics365_organization_audit_settings" "x" {}`,
		ExpectError: phrases("HTTP 503", "3 attempts", "Retrying later usually helps", "raise max_retries"),
	}})
	var starts []time.Time
	for _, r := range env.Emulator.RequestLog() {
		if r.Route == "organizations" && r.Method == http.MethodGet {
			starts = append(starts, r.Start)
		}
	}
	if len(starts) != 3 {
		t.Fatalf("%d attempts reached the emulator, want 3 (1 + max_retries 2)", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < time.Second {
			t.Errorf("attempt %d came %s after the one before, sooner than Retry-After: 1", i+1, gap)
		}
	}
}
