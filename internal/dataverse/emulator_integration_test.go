package dataverse_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// emulatorToken is a credential that asks the emulator for tokens directly.
type emulatorToken struct {
	srv      *emulator.Server
	clientID string
}

func (e emulatorToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := e.srv.IssueAccessToken(e.clientID, e.srv.EnvironmentURL(), time.Hour)
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, err
}

// startEmulator starts an emulator that the test's end closes.
func startEmulator(t testing.TB, opts emulator.Options) *emulator.Server {
	t.Helper()
	srv, err := emulator.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func emulatorClient(t *testing.T) (*emulator.Server, *dataverse.Client) {
	t.Helper()
	return startEmulatorClient(t, emulator.Options{})
}

// startEmulatorClient starts an emulator with opts and a client of it.
func startEmulatorClient(t testing.TB, opts emulator.Options) (*emulator.Server, *dataverse.Client) {
	t.Helper()
	srv := startEmulator(t, opts)
	clientID := uuid.NewString()
	srv.AddSecretClient(clientID, "secret-"+clientID)
	c, err := dataverse.New(dataverse.Config{
		EnvironmentURL: srv.EnvironmentURL(),
		Settings:       msapi.Settings{Credential: emulatorToken{srv: srv, clientID: clientID}, HTTPClient: srv.HTTPClient()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// seededEmulator is emulatorClient with rows audit rows spread over months
// from the start of 2025 (random with seed), and counters reset after
// seeding. The volume tests that use it are skipped with -short.
func seededEmulator(t *testing.T, rows, months int, seed int64) (*emulator.Server, *dataverse.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("volume test")
	}
	srv, c := emulatorClient(t)
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	srv.SeedAuditHistory(rows, from, from.AddDate(0, months, 0), seed)
	t.Logf("seeded %d rows in %s", rows, time.Since(start))
	srv.ResetCounters()
	return srv, c
}

// Streaming 100,000 audit rows takes at most 21 page requests, counted by
// the emulator.
func TestStreamAudits_100kRowsAgainstEmulator(t *testing.T) {
	t.Parallel()
	srv, c := seededEmulator(t, 100000, 12, 42)

	var n int
	var last time.Time
	start := time.Now()
	truncated, pages, err := c.StreamAudits(context.Background(), dataverse.AuditQuery{Limit: 100000}, func(r dataverse.AuditRecord) error {
		if n > 0 && r.CreatedOn.After(last) {
			t.Fatalf("row %d is newer than the one before", n)
		}
		last = r.CreatedOn
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	requests := srv.RequestCount("GET audits")
	t.Logf("streamed %d rows in %d pages (%d requests at the emulator) in %s", n, pages, requests, time.Since(start))
	if n != 100000 || truncated {
		t.Errorf("got %d rows, truncated=%t; want 100000, false", n, truncated)
	}
	if requests > 21 {
		t.Errorf("%d page requests, want at most 21", requests)
	}
}

// 10,000 rows with their changes: 2 pages and 10 $batch requests.
func TestRetrieveAuditDetails_10kRowsAgainstEmulator(t *testing.T) {
	t.Parallel()
	srv, c := seededEmulator(t, 10000, 1, 43)

	ctx := context.Background()
	var ids []string
	_, _, err := c.StreamAudits(ctx, dataverse.AuditQuery{Limit: 10000}, func(r dataverse.AuditRecord) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := c.RetrieveAuditDetails(ctx, ids, dataverse.BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var withChanges int
	for _, id := range ids {
		if len(changes[id]) > 0 {
			withChanges++
		}
	}
	// Every request the client sent reached the emulator as one HTTP request:
	// the parts of a $batch are counted under their own routes too, so count
	// the outer requests only.
	outer := srv.RequestCount("GET audits") + srv.RequestCount("POST $batch")
	t.Logf("%d rows, %d with changes: %d page requests + %d $batch requests", len(ids), withChanges,
		srv.RequestCount("GET audits"), srv.RequestCount("POST $batch"))
	if len(ids) != 10000 || withChanges < 9000 {
		t.Errorf("%d rows, %d with changes", len(ids), withChanges)
	}
	if outer > 12 {
		t.Errorf("%d HTTP requests for 10,000 rows with changes, want at most 12", outer)
	}
}

// A value over Dataverse's cap (about 5,000 characters) reaches the client
// as the emulator serves it: cut, ending in three dots; the client keeps it
// as is rather than failing or trimming it further.
func TestRetrieveAuditDetails_CappedValueAgainstEmulator(t *testing.T) {
	srv, c := emulatorClient(t)
	auditColumns(t, srv, "email", "description")
	user := srv.AddUser("Nancy Anderson")
	if _, err := srv.SimulateCreate(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), user, "email",
		map[string]any{"subject": "Report", "description": strings.Repeat("b", 7000)}); err != nil {
		t.Fatal(err)
	}
	changes := newestAuditChanges(t, srv, c)
	for _, ch := range changes {
		if ch.Attribute != "description" {
			continue
		}
		if want := strings.Repeat("b", 4997) + "..."; ch.NewValue == nil || *ch.NewValue != want {
			t.Errorf("description = %d characters, want the capped %d", len(*ch.NewValue), len(want))
		}
		return
	}
	t.Errorf("no description change in %+v", changes)
}
