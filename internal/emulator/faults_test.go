package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// hungCall is a WhoAmI call that a reset fault holds on the emulator's manual
// clock; done receives its status (0 for a reset).
type hungCall struct {
	s     *Server
	token string
	clock *ManualClock
	done  chan int
}

// hangingWhoAmI starts a WhoAmI call held by a reset fault for hang.
func hangingWhoAmI(t *testing.T, hang time.Duration) hungCall {
	t.Helper()
	clock := NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock})
	s.InjectFaults("GET WhoAmI", Fault{Reset: true, Hang: hang})
	done := make(chan int, 1)
	go func() {
		status, _, _ := tryWhoAmI(t, s, token)
		done <- status
	}()
	waitForWaiters(t, clock, 1)
	return hungCall{s: s, token: token, clock: clock, done: done}
}

// wantReset waits for the hung call's answer: a reset (status 0), within 5 s
// of real time (it fails with stuck otherwise).
func (c hungCall) wantReset(t *testing.T, when, stuck string) {
	t.Helper()
	select {
	case status := <-c.done:
		if status != 0 {
			t.Errorf("%s: status %d, want a reset", when, status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal(stuck)
	}
}

// TestFaultHangThenReset: a hang holds the request on the emulator's clock,
// without an answer, for exactly its duration, then resets it.
func TestFaultHangThenReset(t *testing.T) {
	t.Parallel()
	call := hangingWhoAmI(t, 30*time.Second)
	s, token, clock, done := call.s, call.token, call.clock, call.done
	clock.Advance(29 * time.Second)
	select {
	case status := <-done:
		t.Fatalf("answered (%d) before the hang was over", status)
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(time.Second)
	call.wantReset(t, "after the hang", "still hanging after its duration")
	if got := s.InjectedFaultCount(); got != 1 {
		t.Errorf("InjectedFaultCount = %d", got)
	}
	// The next request goes through.
	if status, _, _ := tryWhoAmI(t, s, token); status != http.StatusOK {
		t.Errorf("next WhoAmI: %d", status)
	}
}

// TestFaultRuleHangAfterHandler: a rule's hang applies to its resets; after
// the handler it is a write applied whose answer never comes.
func TestFaultRuleHangAfterHandler(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock})
	s.SetFaultRules(1, FaultRule{Route: "PATCH organizations", Fraction: 1, Statuses: []int{0}, Hang: time.Minute, AfterHandler: true})

	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPatch, s.EnvironmentURL()+apiPrefix+"organizations("+s.OrganizationID()+")", strings.NewReader(`{"auditretentionperiodv2":90}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.HTTPClient().Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	waitForWaiters(t, clock, 1)
	if got := s.Organization().AuditRetentionPeriodV2; got != 90 {
		t.Errorf("during the hang the write is already applied: retention %d, want 90", got)
	}
	clock.Advance(time.Minute)
	select {
	case err := <-done:
		if err == nil {
			t.Error("an answer came; want a reset")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still hanging after its duration")
	}
}

// TestFaultRuleHangOnlyForResets: Hang does not delay status answers.
func TestFaultRuleHangOnlyForResets(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	s.SetFaultRules(1, FaultRule{Route: "GET WhoAmI", Fraction: 1, Statuses: []int{http.StatusBadGateway}, Hang: time.Hour})
	start := time.Now()
	if status, _, _ := tryWhoAmI(t, s, token); status != http.StatusBadGateway {
		t.Errorf("status %d", status)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a status answer waited %s", d)
	}
}

// TestFaultHangEndsWhenServerCloses: Close does not wait for a long hang.
func TestFaultHangEndsWhenServerCloses(t *testing.T) {
	t.Parallel()
	call := hangingWhoAmI(t, 24*time.Hour)
	s := call.s
	start := time.Now()
	s.Close()
	call.wantReset(t, "after Close", "the hang outlived Close")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s", d)
	}
}
