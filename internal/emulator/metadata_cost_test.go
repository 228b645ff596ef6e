package emulator

import (
	"net/http"
	"testing"
	"time"
)

// TestMetadataReadCostGrowsWithWhatIsReturned checks that every metadata
// read route waits, on the server's clock, PerTable for each table and
// PerColumn for each column definition its answer holds, and no longer.
func TestMetadataReadCostGrowsWithWhatIsReturned(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// The hours of server time would exceed the execution-time limit.
	s, token := startAppServer(t, Options{TimeSource: clock, ExecutionTimePerWindow: -1, MetadataReadCost: MetadataReadCost{PerTable: time.Hour, PerColumn: time.Minute}})
	account, _ := s.EntityAudit("account")
	columns := time.Duration(len(account.Attributes))
	tables := time.Duration(len(s.EntityNames()))
	for _, c := range []struct {
		path string
		cost time.Duration
	}{
		{"RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',LogicalName='account',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=false)", time.Hour + columns*time.Minute},
		{"RetrieveEntity(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',LogicalName='account',MetadataId=00000000-0000-0000-0000-000000000000,RetrieveAsIfPublished=true)", time.Hour},
		{"RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Entity',RetrieveAsIfPublished=false)", tables * time.Hour},
		{"EntityDefinitions?$select=LogicalName", tables * time.Hour},
		{"EntityDefinitions?$select=LogicalName&$filter=LogicalName eq 'account'&$expand=Attributes($select=LogicalName)", time.Hour + columns*time.Minute},
		{"EntityDefinitions(LogicalName='account')", time.Hour},
		{"EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName", columns * time.Minute},
		{"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')", time.Minute},
	} {
		done := make(chan apiResponse, 1)
		go func() { done <- callAPI(t, s, http.MethodGet, c.path, token, nil, nil) }()
		for clock.Waiters() == 0 {
			select {
			case r := <-done:
				t.Fatalf("%s: answered (%d %s) without waiting", c.path, r.status, r.body)
			case <-time.After(time.Millisecond):
			}
		}
		clock.Advance(c.cost - time.Second)
		select {
		case r := <-done:
			t.Fatalf("%s: answered (%d) before its cost %v had passed", c.path, r.status, c.cost)
		case <-time.After(50 * time.Millisecond):
		}
		clock.Advance(time.Second)
		if r := <-done; r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.path, r.status, r.body)
		}
	}
}

// TestMetadataReadCostDefaultsToNone checks that without the option a
// metadata read waits for nothing.
func TestMetadataReadCostDefaultsToNone(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock})
	getOK(t, s, token, "RetrieveAllEntities(EntityFilters=Microsoft.Dynamics.CRM.EntityFilters'Attributes',RetrieveAsIfPublished=false)")
	if n := clock.Waiters(); n != 0 {
		t.Errorf("%d timers waiting after a read without cost", n)
	}
}

// TestResponseBytesCountWhatTheClientRead checks the byte counters: per
// route and per listener, the body sizes the client received; a $batch
// counts once; ResetCounters clears them.
func TestResponseBytesCountWhatTheClientRead(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	s.ResetCounters()
	var want int64
	for _, path := range []string{"EntityDefinitions(LogicalName='account')", "EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName"} {
		r := callAPI(t, s, http.MethodGet, path, token, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, r.status)
		}
		want += int64(len(r.body))
	}
	who := callAPI(t, s, http.MethodGet, "WhoAmI", token, nil, nil)
	if got := s.ResponseBytes("GET EntityDefinitions"); got != want {
		t.Errorf("GET EntityDefinitions: %d bytes counted, client read %d", got, want)
	}
	if got, total := s.ResponseBytes("GET WhoAmI"), want+int64(len(who.body)); got != int64(len(who.body)) || s.ListenerResponseBytes(ListenerEnvironment) != total {
		t.Errorf("WhoAmI %d bytes (read %d), environment listener %d (read %d)", got, len(who.body), s.ListenerResponseBytes(ListenerEnvironment), total)
	}
	if s.ListenerResponseBytes(ListenerLogin) != 0 {
		t.Errorf("login listener: %d bytes after ResetCounters without logins", s.ListenerResponseBytes(ListenerLogin))
	}
	s.ResetCounters()
	if s.ResponseBytes("GET EntityDefinitions") != 0 || s.ListenerResponseBytes(ListenerEnvironment) != 0 {
		t.Error("ResetCounters left byte counts")
	}
}
