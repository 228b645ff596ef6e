package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// waitUnlocked polls until a publish of table is accepted (the import's
// goroutine releases the lock just after the clock passes its end).
func waitUnlocked(t *testing.T, s *Server, token, table string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody(table), nil)
		if r.status == http.StatusNoContent {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still locked: %d %s", r.status, r.body)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestImportLocksMetadataWrites: while a solution import runs, table and
// column PUTs and publishes get the CustomizationLockException naming
// [Import]; reads pass; when the import ends, writes work again.
func TestImportLocksMetadataWrites(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock, PublishBaseDuration: -1, PublishPerTableDuration: -1})
	table := "EntityDefinitions(LogicalName='account')"
	column := table + "/Attributes(LogicalName='name')"
	def := fullDefinition(t, s, token, table, "")
	cdef := fullDefinition(t, s, token, column+"/Microsoft.Dynamics.CRM.StringAttributeMetadata", "#Microsoft.Dynamics.CRM.StringAttributeMetadata")
	before, _ := s.EntityDefinitionJSON("account")

	s.StartImport(time.Minute)
	for _, c := range []struct {
		path string
		body rawObject
	}{{table, def.with("IsRetrieveAuditEnabled", mustRaw(true))}, {column, cdef}} {
		r := put(t, s, token, c.path, c.body, nil)
		wantError(t, r, http.StatusTooManyRequests, "0x80071151", "")
		if _, msg := r.odataError(t); msg != "Cannot start another [EntityCustomization] because there is a previous [Import] running at this moment. Try again later." {
			t.Errorf("PUT %s: %q", c.path, msg)
		}
	}
	r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("account"), nil)
	wantError(t, r, http.StatusTooManyRequests, "0x80071151", "Cannot start another [Publish] because there is a previous [Import] running")
	getOK(t, s, token, table+"?$select=LogicalName")
	if after, _ := s.EntityDefinitionJSON("account"); string(after) != string(before) {
		t.Error("a refused PUT changed the definition")
	}
	if got := s.LockConflictCount(); got != 3 {
		t.Errorf("LockConflictCount = %d, want 3", got)
	}

	clock.Advance(59 * time.Second)
	wantError(t, put(t, s, token, table, def, nil), http.StatusTooManyRequests, "0x80071151", "[Import]")
	clock.Advance(time.Second)
	waitUnlocked(t, s, token, "account")
	if r := put(t, s, token, table, def.with("IsRetrieveAuditEnabled", mustRaw(true)), nil); r.status != http.StatusNoContent {
		t.Fatalf("after the import: %d %s", r.status, r.body)
	}
}

// TestPublishLocksMetadataWrites: a PUT while a publish runs is refused
// with the customization lock by default; with
// AcceptMetadataWritesDuringPublish it is saved (and stays unpublished).
func TestPublishLocksMetadataWrites(t *testing.T) {
	t.Parallel()
	for _, op := range []string{opPublish, opPublishAll} {
		s, token := startAppServer(t, Options{})
		release := s.HoldCustomizationLock(op)
		path := "EntityDefinitions(LogicalName='contact')"
		def := fullDefinition(t, s, token, path, "")
		wantError(t, put(t, s, token, path, def.with("IsRetrieveAuditEnabled", mustRaw(true)), nil),
			http.StatusTooManyRequests, "0x80071151", "Cannot start another [EntityCustomization] because there is a previous ["+op+"] running")
		release()
		changeAuditRetrieve(t, s, token, "contact", true)

		s, token = startAppServer(t, Options{AcceptMetadataWritesDuringPublish: true})
		release = s.HoldCustomizationLock(op)
		changeAuditRetrieve(t, s, token, "contact", true)
		release()
	}
}

func TestImportControlEndpoint(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{ControlKey: "k3y", TimeSource: clock, PublishBaseDuration: -1, PublishPerTableDuration: -1})
	post := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, s.EnvironmentURL()+ImportControlPath, strings.NewReader(body))
		req.Header.Set(ControlKeyHeader, "k3y")
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(`{"durationSeconds":0}`); got != http.StatusBadRequest {
		t.Errorf("0 s: %d", got)
	}
	if got := post(`{"durationSeconds":30}`); got != http.StatusNoContent {
		t.Fatalf("30 s: %d", got)
	}
	r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("account"), nil)
	wantError(t, r, http.StatusTooManyRequests, "0x80071151", "previous [Import] running")
	clock.Advance(30 * time.Second)
	waitUnlocked(t, s, token, "account")
}
