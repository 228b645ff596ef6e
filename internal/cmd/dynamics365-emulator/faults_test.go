package main

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaultRuleShares: each kind fails rate/k of the requests and together
// they fail rate.
func TestFaultRuleShares(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		kinds string
	}{{0.2, "reset,lost,hang"}, {1, "status,reset,lost,hang"}, {0.5, "status"}, {0.3, "hang,hang,reset"}} {
		f := faultFlags{rate: tc.rate, kinds: tc.kinds, hang: time.Second}
		rules, err := f.rules()
		if err != nil {
			t.Fatal(err)
		}
		kinds, _ := f.kindList()
		reach := 1.0
		for i, r := range rules {
			share := reach * r.Fraction
			if want := tc.rate / float64(len(kinds)); math.Abs(share-want) > 1e-9 {
				t.Errorf("%v: rule %d fails %.4f, want %.4f", tc, i, share, want)
			}
			reach -= share
		}
		if math.Abs(1-reach-tc.rate) > 1e-9 {
			t.Errorf("%v: total %.4f", tc, 1-reach)
		}
	}
	f := faultFlags{rate: 0.2, kinds: "status,reset,lost,hang", hang: 7 * time.Second, latency: time.Millisecond}
	rules, _ := f.rules()
	if len(rules[0].Statuses) != 5 || rules[0].Latency != time.Millisecond || rules[1].Statuses[0] != 0 || rules[1].AfterHandler ||
		!rules[2].AfterHandler || rules[3].Hang != 7*time.Second || rules[1].Latency != 0 {
		t.Errorf("rules = %+v", rules)
	}
	if rules, _ := (&faultFlags{kinds: "status", hang: time.Second}).rules(); rules != nil {
		t.Errorf("no rate, no latency: %+v", rules)
	}
}

// TestHangFaultFlags: with -fault-kinds hang every Dataverse request is
// held for -fault-hang, then dropped; login is not faulted.
func TestHangFaultFlags(t *testing.T) {
	t.Parallel()
	srv, env := startInProcess(t, "-fault-rate", "1", "-fault-kinds", "hang", "-fault-hang", "400ms")
	token, err := srv.IssueAccessToken(env["AZURE_CLIENT_ID"], srv.EnvironmentURL(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.EnvironmentURL()+"/api/data/v9.2/WhoAmI", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := srv.HTTPClient().Do(req)
	took := time.Since(start)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("answered %d, want a dropped connection", resp.StatusCode)
	}
	if took < 400*time.Millisecond || took > 10*time.Second {
		t.Errorf("dropped after %s, want about 400ms", took)
	}
	if srv.InjectedFaultCount() != 1 {
		t.Errorf("InjectedFaultCount = %d", srv.InjectedFaultCount())
	}
}

// TestLostFaultFlags: -fault-kinds lost applies the write and drops the answer.
func TestLostFaultFlags(t *testing.T) {
	t.Parallel()
	srv, env := startInProcess(t, "-fault-rate", "1", "-fault-kinds", "lost")
	token, err := srv.IssueAccessToken(env["AZURE_CLIENT_ID"], srv.EnvironmentURL(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPatch, srv.EnvironmentURL()+"/api/data/v9.2/organizations("+srv.OrganizationID()+")", strings.NewReader(`{"auditretentionperiodv2":77}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := srv.HTTPClient().Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("answered %d, want a dropped answer", resp.StatusCode)
	}
	if got := srv.Organization().AuditRetentionPeriodV2; got != 77 {
		t.Errorf("retention %d: the lost write was not applied", got)
	}
}
