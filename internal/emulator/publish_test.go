package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func publishBody(tables ...string) map[string]any {
	var b strings.Builder
	b.WriteString("<importexportxml><entities>")
	for _, t := range tables {
		b.WriteString("<entity>" + t + "</entity>")
	}
	b.WriteString("</entities></importexportxml>")
	return map[string]any{"ParameterXml": b.String()}
}

// changeAuditRetrieve PUTs a table with IsRetrieveAuditEnabled set to v.
func changeAuditRetrieve(t *testing.T, s *Server, token, table string, v bool) {
	t.Helper()
	path := "EntityDefinitions(LogicalName='" + table + "')"
	def := fullDefinition(t, s, token, path, "")
	if r := put(t, s, token, path, def.with("IsRetrieveAuditEnabled", mustRaw(v)), map[string]string{"MSCRM.MergeLabels": "true"}); r.status != 204 {
		t.Fatalf("PUT %s: %d %s", table, r.status, r.body)
	}
}

func TestPublishXml(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{PublishBaseDuration: 30 * time.Millisecond, PublishPerTableDuration: 10 * time.Millisecond})
	changeAuditRetrieve(t, s, token, "account", true)
	changeAuditRetrieve(t, s, token, "contact", true)
	if got := s.UnpublishedEntities(); !slices.Equal(got, []string{"account", "contact"}) {
		t.Fatalf("unpublished %v", got)
	}
	if pub, _ := s.PublishedEntityAudit("account"); pub.IsRetrieveAuditEnabled {
		t.Fatal("published before publishing")
	}

	start := time.Now()
	r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("account", "lead", "account"), nil)
	if r.status != 204 || len(r.body) != 0 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("publish of 2 tables took %v, want at least base + 2·per-table = 50ms", d)
	}
	if !s.IsPublished("account") || s.IsPublished("contact") || !s.IsPublished("lead") || s.IsPublished("nosuch") {
		t.Errorf("published: account %v contact %v", s.IsPublished("account"), s.IsPublished("contact"))
	}
	if pub, _ := s.PublishedEntityAudit("account"); !pub.IsRetrieveAuditEnabled {
		t.Error("published state not updated")
	}
	if got := s.UnpublishedEntities(); !slices.Equal(got, []string{"contact"}) {
		t.Errorf("unpublished %v", got)
	}

	r = callAPI(t, s, http.MethodPost, "PublishAllXml", token, nil, nil)
	if r.status != 204 {
		t.Fatalf("PublishAllXml: %d %s", r.status, r.body)
	}
	if len(s.UnpublishedEntities()) != 0 || s.PublishCount() != 2 || s.LockConflictCount() != 0 {
		t.Errorf("after PublishAll: %v %d", s.UnpublishedEntities(), s.PublishCount())
	}
	if got := s.PublishedTables(); len(got) != 2 || !slices.Equal(got[0], []string{"account", "lead"}) || !slices.Equal(got[1], []string{"contact"}) {
		t.Errorf("published tables %v", got)
	}
	if s.RequestCount("POST PublishXml") != 1 || s.RequestCount("POST PublishAllXml") != 1 {
		t.Errorf("counts %v", s.Requests())
	}
}

func TestPublishXmlErrors(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{PublishBaseDuration: -1, PublishPerTableDuration: -1})
	s.AddSecretClient("nopublish", "secret", WithPrivileges(PrivReadEntity, PrivWriteEntity))
	nopub := login(t, s, "nopublish", "secret")

	for _, c := range []struct {
		name    string
		body    any
		status  int
		code    string
		msgPart string
	}{
		{"malformed xml", map[string]any{"ParameterXml": "<importexportxml><entities><entity>account</entities>"}, 400, "0x80040203", "ParameterXml is not valid"},
		{"wrong root", map[string]any{"ParameterXml": "<publish><entities><entity>account</entity></entities></publish>"}, 400, "0x80040203", "importexportxml"},
		{"missing parameter", map[string]any{}, 400, "0x80040203", "ParameterXml"},
		{"unknown parameter", map[string]any{"ParameterXml": "<importexportxml/>", "Foo": 1}, 400, "0x80040203", "'Foo'"},
		{"unknown table", publishBody("account", "nosuch"), 404, "0x80040217", "Could not find entity with name 'nosuch'."},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := callAPI(t, s, http.MethodPost, "PublishXml", token, c.body, nil)
			wantError(t, r, c.status, c.code, c.msgPart)
		})
	}
	r := callAPI(t, s, http.MethodPost, "PublishXml", nopub, publishBody("account"), nil)
	wantError(t, r, 403, "0x80040220", "is missing prvPublishCustomization privilege")
	r = callAPI(t, s, http.MethodPost, "PublishAllXml", nopub, nil, nil)
	wantError(t, r, 403, "0x80040220", "prvPublishCustomization")
	r = callAPI(t, s, http.MethodGet, "PublishXml", token, nil, nil)
	wantError(t, r, 405, "", "does not support http method 'GET'")
	r = callAPI(t, s, http.MethodPost, "PublishAllXml", token, map[string]any{"ParameterXml": "x"}, nil)
	wantError(t, r, 400, "0x80048d19", "ParameterXml")
	if s.PublishCount() != 0 || len(s.PublishedTables()) != 0 {
		t.Error("refused publishes counted")
	}
}

// TestPublishLockConflict runs the first publish on a manual clock, so it
// holds the solution lock until the test advances the clock: the
// conflicting publishes are answered while it still runs, that is, at once.
func TestPublishLockConflict(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// No execution time limit: an hour-long publish would use it up.
	// Writes during a publish accepted, to see that they stay unpublished.
	s, token := startAppServer(t, Options{TimeSource: clock, PublishBaseDuration: time.Hour, PublishPerTableDuration: -1, ExecutionTimePerWindow: -1,
		AcceptMetadataWritesDuringPublish: true})
	changeAuditRetrieve(t, s, token, "account", true)

	first := make(chan apiResponse, 1)
	go func() {
		// callAPI may only t.Fatal on the test goroutine; report instead.
		first <- callAPIQuiet(s, http.MethodPost, "PublishXml", token, publishBody("account"))
	}()
	waitForWaiters(t, clock, 1)

	// A PUT while the publish runs (accepted by the option) stays unpublished.
	changeAuditRetrieve(t, s, token, "account", false)

	r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("contact"), nil)
	wantError(t, r, 429, "0x80071151", "Cannot start another [Publish] because there is a previous [Publish] running at this moment. Try again later.")
	if r.header.Get("Retry-After") != "" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	r = callAPI(t, s, http.MethodPost, "PublishAllXml", token, nil, nil)
	wantError(t, r, 429, "0x80071151", "Cannot start the requested operation [PublishAll] because there is another [Publish] running at this moment.")
	if n := clock.Waiters(); n != 1 {
		t.Errorf("%d publishes wait, want only the first", n)
	}

	clock.Advance(time.Hour)
	if got := <-first; got.status != 204 {
		t.Fatalf("first publish: %d %s", got.status, got.body)
	}
	if s.PublishCount() != 1 || s.LockConflictCount() != 2 {
		t.Errorf("publishes %d, conflicts %d", s.PublishCount(), s.LockConflictCount())
	}
	if s.IsPublished("account") {
		t.Error("a PUT made during the publish counts as published")
	}
	if pub, _ := s.PublishedEntityAudit("account"); !pub.IsRetrieveAuditEnabled {
		t.Error("the published state is not the one the publish started with")
	}
	// The lock is free again.
	done := make(chan apiResponse, 1)
	go func() { done <- callAPIQuiet(s, http.MethodPost, "PublishXml", token, publishBody("account")) }()
	waitForWaiters(t, clock, 1)
	clock.Advance(time.Hour)
	if r := <-done; r.status != 204 {
		t.Errorf("after the conflict: %d %s", r.status, r.body)
	}
}

// TestHoldCustomizationLock checks the test hook: while it holds the lock,
// publishes get the same refusal as during another publish, naming the
// held operation, and count as conflicts; so do metadata PUTs (see also
// import_lock_test.go); once released, publishing works.
func TestHoldCustomizationLock(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{PublishBaseDuration: -1})
	release := s.HoldCustomizationLock("Import")

	r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("account"), nil)
	wantError(t, r, 429, "0x80071151", "")
	if _, msg := r.odataError(t); msg != "Cannot start another [Publish] because there is a previous [Import] running at this moment. Try again later." {
		t.Errorf("PublishXml message %q", msg)
	}
	r = callAPI(t, s, http.MethodPost, "PublishAllXml", token, nil, nil)
	wantError(t, r, 429, "0x80071151", "")
	if _, msg := r.odataError(t); msg != "Cannot start the requested operation [PublishAll] because there is another [Import] running at this moment. Try again later." {
		t.Errorf("PublishAllXml message %q", msg)
	}
	path := "EntityDefinitions(LogicalName='account')"
	r = put(t, s, token, path, fullDefinition(t, s, token, path, ""), nil)
	wantError(t, r, 429, "0x80071151", "Cannot start another [EntityCustomization] because there is a previous [Import] running")
	if s.LockConflictCount() != 3 || s.PublishCount() != 0 {
		t.Errorf("conflicts %d, publishes %d", s.LockConflictCount(), s.PublishCount())
	}

	release()
	release() // harmless
	if r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("account"), nil); r.status != 204 {
		t.Fatalf("after release: %d %s", r.status, r.body)
	}
	if !s.IsPublished("account") || s.PublishCount() != 1 || s.LockConflictCount() != 3 {
		t.Errorf("published %v, publishes %d, conflicts %d", s.IsPublished("account"), s.PublishCount(), s.LockConflictCount())
	}
}

// TestHoldCustomizationLockWaitsForPublish checks that the hook waits
// while a publish holds the lock, and takes it when the publish ends.
func TestHoldCustomizationLockWaitsForPublish(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, token := startAppServer(t, Options{TimeSource: clock, PublishBaseDuration: time.Hour, PublishPerTableDuration: -1, ExecutionTimePerWindow: -1})
	published := make(chan apiResponse, 1)
	go func() { published <- callAPIQuiet(s, http.MethodPost, "PublishXml", token, publishBody("contact")) }()
	waitForWaiters(t, clock, 1)

	held := make(chan func(), 1)
	go func() { held <- s.HoldCustomizationLock("Import") }()
	select {
	case release := <-held:
		release()
		t.Fatal("the hook took the lock while a publish held it")
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(time.Hour)
	if r := <-published; r.status != 204 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	release := <-held
	defer release()
	r := callAPI(t, s, http.MethodPost, "PublishXml", token, publishBody("account"), nil)
	wantError(t, r, 429, "0x80071151", "previous [Import] running")
}

func TestConcurrentPublishes(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{PublishBaseDuration: 200 * time.Millisecond})
	results := make(chan apiResponse, 2)
	for _, table := range []string{"account", "contact"} {
		go func() { results <- callAPIQuiet(s, http.MethodPost, "PublishXml", token, publishBody(table)) }()
	}
	var statuses []int
	for range 2 {
		r := <-results
		statuses = append(statuses, r.status)
		if r.status == 429 && !strings.Contains(string(r.body), `"code":"0x80071151"`) {
			t.Errorf("body %s", r.body)
		}
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []int{204, 429}) || s.LockConflictCount() != 1 || s.PublishCount() != 1 {
		t.Errorf("statuses %v, conflicts %d, publishes %d", statuses, s.LockConflictCount(), s.PublishCount())
	}
}

// callAPIQuiet is callAPI for other goroutines: errors become status 0.
func callAPIQuiet(s *Server, method, path, token string, body any) apiResponse {
	b, err := json.Marshal(body)
	if err != nil {
		return apiResponse{}
	}
	req, err := http.NewRequest(method, s.EnvironmentURL()+"/api/data/v9.2/"+path, bytes.NewReader(b))
	if err != nil {
		return apiResponse{}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return apiResponse{}
	}
	defer func() { _ = resp.Body.Close() }()
	rb, _ := io.ReadAll(resp.Body)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: rb}
}
