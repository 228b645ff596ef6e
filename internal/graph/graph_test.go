package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

const queryID = "168ec429-084b-a489-90d8-504a87846305"

// By default the client asks for a token for Microsoft Graph in the global
// cloud (here the credential refuses, so nothing is sent), and New refuses
// what it cannot call, naming what is wrong.
func TestNewDefaultsAndRefusals(t *testing.T) {
	t.Parallel()
	cred := &fakeCredential{Scope: "https://nowhere.example/.default"}
	c, err := New(Config{Settings: msapi.Settings{Credential: cred}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetQuery(context.Background(), queryID)
	if err == nil || !strings.Contains(err.Error(), `scopes ["https://graph.microsoft.com/.default"]`) {
		t.Errorf("default Graph: %v", err)
	}
	c, err = New(Config{GraphURL: " HTTPS://Graph.Example.com/ ", APIVersion: "v1.0", Settings: msapi.Settings{Credential: cred}})
	if err != nil || c.GraphURL() != "https://graph.example.com" || c.Scope() != "https://graph.example.com/.default" {
		t.Errorf("normalised: %v %+v", err, c)
	}
	withCred := msapi.Settings{Credential: cred}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{GraphURL: "https://graph.microsoft.com"}, "credential is required"},
		{Config{GraphURL: "http://graph.microsoft.com", Settings: withCred}, "uses plain http"},
		{Config{GraphURL: "https://graph.microsoft.com/v1.0", Settings: withCred}, "has a path (/v1.0)"},
		{Config{GraphURL: "https://graph.microsoft.com?x=1", Settings: withCred}, "must not contain credentials, a query"},
		{Config{GraphURL: "graph.microsoft.com", Settings: withCred}, "is not an absolute URL"},
		{Config{GraphURL: "ftp://graph.microsoft.com", Settings: withCred}, "must start with https://"},
		{Config{APIVersion: "v2", Settings: withCred}, `API version "v2" is not valid`},
		{Config{APIVersion: "beta/../x", Settings: withCred}, "is not valid"},
		{Config{PageSize: -1, Settings: withCred}, "page size -1 must not be negative"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := New(Config{GraphURL: "http://127.0.0.1:8080", Settings: withCred}); err != nil {
		t.Errorf("loopback http refused: %v", err)
	}
}

// Create a query, then poll it through notStarted and running to succeeded:
// the waits start at PollMin, grow, and stay within [PollMin, PollMax].
func TestCreateAndWait(t *testing.T) {
	t.Parallel()
	statuses := []string{"notStarted", "running", "running", "running", "running", "running", "Succeeded"}
	var polls int
	c, _, g := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/beta/security/auditLog/queries":
			writeJSON(w, http.StatusCreated, queryBody(queryID, "notStarted"))
		case r.Method == http.MethodGet && r.URL.Path == "/beta/security/auditLog/queries/"+queryID:
			s := statuses[min(polls, len(statuses)-1)]
			polls++
			writeJSON(w, http.StatusOK, queryBody(queryID, s))
		default:
			writeJSON(w, http.StatusNotFound, graphError("NotFound", r.Method+" "+r.URL.Path))
		}
	})
	ctx := context.Background()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	to := time.Date(2026, 1, 2, 12, 30, 0, 500_000_000, time.UTC)
	q, err := c.CreateQuery(ctx, QueryRequest{
		From: from, To: to,
		Operations:         []string{"Retrieve", " ", "RetrieveMultiple"},
		UserPrincipalNames: []string{"ann@contoso.com"},
		IPAddresses:        []string{"10.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if q.ID != queryID || q.Status != StatusNotStarted || !q.From.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("created %+v", q)
	}
	var sent map[string]any
	if err := json.Unmarshal(g.requests()[0].body, &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"@odata.type":              "#microsoft.graph.security.auditLogQuery",
		"displayName":              DefaultDisplayName,
		"filterStartDateTime":      "2025-12-31T23:00:00Z",
		"filterEndDateTime":        "2026-01-02T12:30:00.5Z",
		"recordTypeFilters":        []any{"crm"},
		"operationFilters":         []any{"Retrieve", "RetrieveMultiple"},
		"userPrincipalNameFilters": []any{"ann@contoso.com"},
		"ipAddressFilters":         []any{"10.0.0.1"},
	}
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("body\n got %v\nwant %v", sent, want)
	}

	var waits []time.Duration
	var progress []string
	q, err = c.WaitForQuery(ctx, q.ID, WaitOptions{
		PollMin: 2 * time.Second, PollMax: 10 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil },
		OnProgress: func(status string, n int, elapsed time.Duration) {
			progress = append(progress, fmt.Sprintf("%d:%s", n, status))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if q.Status != StatusSucceeded {
		t.Errorf("status %q", q.Status)
	}
	if got := strings.Join(progress, ","); got != "1:notStarted,2:running,3:running,4:running,5:running,6:running,7:succeeded" {
		t.Errorf("progress %s", got)
	}
	if len(waits) != 6 || waits[0] != 2*time.Second {
		t.Fatalf("waits %v", waits)
	}
	for i, d := range waits {
		if d < 2*time.Second || d > 10*time.Second {
			t.Errorf("wait %d = %s outside [2s, 10s]", i, d)
		}
		if i > 0 && d < waits[i-1] {
			t.Errorf("wait %d = %s shrank from %s", i, d, waits[i-1])
		}
		if i > 0 && waits[i-1] < 10*time.Second*2/3 && d < waits[i-1]*3/2 {
			t.Errorf("wait %d = %s grew less than 1.5x from %s", i, d, waits[i-1])
		}
	}
	if waits[len(waits)-1] != 10*time.Second {
		t.Errorf("waits never reached the cap: %v", waits)
	}
}

func TestNextPollWait(t *testing.T) {
	t.Parallel()
	for range 1000 {
		d := nextPollWait(4*time.Second, 2*time.Second, time.Minute)
		if d < 6*time.Second || d > 8*time.Second {
			t.Fatalf("next of 4s = %s", d)
		}
	}
	if d := nextPollWait(time.Duration(1<<62), time.Second, time.Duration(1<<62)); d != time.Duration(1<<62) {
		t.Errorf("overflow: %s", d)
	}
}

func TestCreateQueryValidation(t *testing.T) {
	t.Parallel()
	c, _, g := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, http.StatusCreated, map[string]any{"status": "notStarted"})
	})
	now := time.Now()
	for _, r := range []QueryRequest{{}, {From: now}, {To: now}, {From: now, To: now}, {From: now, To: now.Add(-time.Hour)}} {
		if _, err := c.CreateQuery(context.Background(), r); err == nil {
			t.Errorf("CreateQuery(%+v) accepted", r)
		}
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("%d requests for invalid queries", n)
	}
	_, err := c.CreateQuery(context.Background(), QueryRequest{From: now.Add(-time.Hour), To: now, RecordTypes: []string{"crm", "exchangeAdmin"}, Keyword: " x ", DisplayName: "mine"})
	if err == nil || !strings.Contains(err.Error(), "no query id") {
		t.Errorf("answer without id: %v", err)
	}
	var sent map[string]any
	_ = json.Unmarshal(g.requests()[0].body, &sent)
	if fmt.Sprint(sent["recordTypeFilters"]) != "[crm exchangeAdmin]" || sent["keywordFilter"] != "x" || sent["displayName"] != "mine" {
		t.Errorf("sent %v", sent)
	}
	if _, ok := sent["operationFilters"]; ok {
		t.Errorf("empty filter sent: %v", sent)
	}
}

func TestWaitFailedAndCancelled(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"failed", "cancelled"} {
		c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
			s := "running"
			if n > 1 {
				s = status
			}
			writeJSON(w, http.StatusOK, queryBody(queryID, s))
		})
		_, err := c.WaitForQuery(context.Background(), queryID, WaitOptions{
			Sleep: func(context.Context, time.Duration) error { return nil },
		})
		var qf *QueryFailedError
		if !errors.As(err, &qf) || qf.ID != queryID || qf.Status != status {
			t.Fatalf("%s: %T %v", status, err, err)
		}
		if msg := err.Error(); !strings.Contains(msg, queryID) || !strings.Contains(msg, status) || !strings.Contains(msg, "new query") {
			t.Errorf("message: %s", msg)
		}
	}
}

// fakeClock is a clock that only the injected sleep moves; it records the
// waits asked for.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
	// stopAfter ends the wait with context.DeadlineExceeded at this sleep (1-based).
	stopAfter int
}

func (f *fakeClock) Now() time.Time { return f.now }

func (f *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	f.waits = append(f.waits, d)
	if len(f.waits) == f.stopAfter {
		return context.DeadlineExceeded
	}
	f.now = f.now.Add(d)
	return nil
}

// A deadline while the query runs names the id, the last status and the
// elapsed time (by the injected clock), and wraps context.DeadlineExceeded.
func TestWaitDeadline(t *testing.T) {
	t.Parallel()
	c, _, g := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, http.StatusOK, queryBody(queryID, "running"))
	})
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), stopAfter: 3}
	_, err := c.WaitForQuery(context.Background(), queryID, WaitOptions{
		PollMin: 10 * time.Millisecond, PollMax: 40 * time.Millisecond, Sleep: clock.Sleep, Now: clock.Now,
	})
	var we *QueryWaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%T %v", err, err)
	}
	slept := clock.waits[0] + clock.waits[1] // the third sleep ended with the deadline
	if we.ID != queryID || we.LastStatus != "running" || we.Polls != 3 || we.Elapsed != slept {
		t.Errorf("%+v, want 3 polls and %s elapsed (waits %v)", we, slept, clock.waits)
	}
	msg := err.Error()
	for _, want := range []string{queryID, "last status running", "timeout", "query_id", "3 polls", slept.Round(time.Millisecond).String()} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if n := len(g.requests()); n != we.Polls {
		t.Errorf("%d requests, %d polls", n, we.Polls)
	}

	// The default sleep (msapi.Sleep) ends with the context's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.WaitForQuery(ctx, queryID, WaitOptions{PollMin: time.Hour, PollMax: time.Hour})
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) || we.Polls != 1 || we.LastStatus != "running" {
		t.Errorf("real sleep: %v", err)
	}

	// Cancelled before the first poll completes: no status known.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.WaitForQuery(ctx, queryID, WaitOptions{})
	if !errors.As(err, &we) || we.LastStatus != "" || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "no poll completed") {
		t.Errorf("cancelled: %v", err)
	}
}

func TestQueryIDValidation(t *testing.T) {
	t.Parallel()
	c, _, g := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, http.StatusOK, queryBody("a:b", "running"))
	})
	ctx := context.Background()
	for _, id := range []string{"", "a/b", "..", ".", "a b", "a?b", "x#", "a%2Fb", "a\nb", strings.Repeat("a", 300)} {
		if _, err := c.GetQuery(ctx, id); err == nil {
			t.Errorf("GetQuery(%q) accepted", id)
		}
		if _, err := c.WaitForQuery(ctx, id, WaitOptions{}); err == nil {
			t.Errorf("WaitForQuery(%q) accepted", id)
		}
		if _, _, err := c.ListRecords(ctx, id, 0, func(Record) error { return nil }); err == nil {
			t.Errorf("ListRecords(%q) accepted", id)
		}
	}
	if n := len(g.requests()); n != 0 {
		t.Fatalf("%d requests for invalid ids", n)
	}
	if _, err := c.GetQuery(ctx, "a:b"); err != nil {
		t.Fatal(err)
	}
	if p := g.requests()[0].path; p != "/beta/security/auditLog/queries/a:b" {
		t.Errorf("path %s", p)
	}
}

// record builds a record for a page; i distinguishes records.
func record(i int) string {
	return fmt.Sprintf(`{"id":"rec-%d","createdDateTime":"2026-01-01T10:00:%02dZ","auditLogRecordType":"crm","operation":"Retrieve",`+
		`"organizationId":"org","userType":"regular","userId":"u%d","userPrincipalName":"ann@contoso.com","service":"CRM",`+
		`"objectId":"obj","clientIp":"10.0.0.%d","administrativeUnits":[],`+
		`"auditData":{ "EntityName" : "account", "EntityId":"id-%d", "Amount": 1.50e2, "Nested":{"a":[1, 2]} }}`, i, i, i, i, i)
}

// page builds a records page; next is the link's path ("" for the last).
func page(g *fakeGraph, next string, nextFirst bool, ids ...int) string {
	recs := make([]string, len(ids))
	for i, id := range ids {
		recs[i] = record(id)
	}
	value := `"value":[` + strings.Join(recs, ",") + `]`
	link := ""
	if next != "" {
		link = fmt.Sprintf(`"@odata.nextLink":%q`, g.srv.URL+next)
	}
	parts := []string{`"@odata.context":"https://graph.microsoft.com/beta/$metadata#security/auditLog/queries('x')/records"`}
	if nextFirst && link != "" {
		parts = append(parts, link, value)
	} else {
		parts = append(parts, value)
		if link != "" {
			parts = append(parts, link)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

const recordsPath = "/beta/security/auditLog/queries/" + queryID + "/records"

func pagedHandler(pages map[string]func(g *fakeGraph) string, g **fakeGraph) func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		key := r.URL.Path
		if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
			key += "?" + tok
		}
		p, ok := pages[key]
		if !ok {
			writeJSON(w, http.StatusNotFound, graphError("NotFound", key))
			return
		}
		writeJSON(w, http.StatusOK, p(*g))
	}
}

func TestListRecordsPaging(t *testing.T) {
	t.Parallel()
	var g *fakeGraph
	pages := map[string]func(*fakeGraph) string{
		recordsPath:         func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p2", false, 1, 2) },
		recordsPath + "?p2": func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p3", true, 3, 4, 5) },
		recordsPath + "?p3": func(g *fakeGraph) string { return page(g, "", false, 6) },
	}
	c, _, gg := newFake(t, pagedHandler(pages, &g), func(cfg *Config) { cfg.PageSize = 1000 })
	g = gg
	var got []Record
	truncated, n, err := c.ListRecords(context.Background(), queryID, 0, func(r Record) error {
		got = append(got, r)
		return nil
	})
	if err != nil || truncated || n != 3 || len(got) != 6 {
		t.Fatalf("truncated %v pages %d records %d err %v", truncated, n, len(got), err)
	}
	for i, r := range got {
		if r.ID != fmt.Sprintf("rec-%d", i+1) {
			t.Errorf("record %d: id %s", i, r.ID)
		}
	}
	r := got[2]
	want := Record{
		ID: "rec-3", CreatedDateTime: time.Date(2026, 1, 1, 10, 0, 3, 0, time.UTC), RecordType: "crm", Operation: "Retrieve",
		Service: "CRM", UserID: "u3", UserPrincipalName: "ann@contoso.com", UserType: "regular", ObjectID: "obj",
		ClientIP: "10.0.0.3", OrganizationID: "org",
		AuditData: json.RawMessage(`{ "EntityName" : "account", "EntityId":"id-3", "Amount": 1.50e2, "Nested":{"a":[1, 2]} }`),
	}
	if fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", want) {
		t.Errorf("record\n got %+v\nwant %+v", r, want)
	}
	if string(r.AuditData) != string(want.AuditData) {
		t.Errorf("auditData changed: %s", r.AuditData)
	}
	reqs := g.requests()
	if reqs[0].query != "$top=1000" || reqs[1].query != "$skiptoken=p2" || reqs[2].query != "$skiptoken=p3" {
		t.Errorf("queries %q %q %q", reqs[0].query, reqs[1].query, reqs[2].query)
	}
}

func TestListRecordsLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		limit     int
		pageSize  int
		pages     map[string]func(*fakeGraph) string
		records   int
		truncated bool
		requests  int
		top       string
	}{
		{
			name: "mid page", limit: 3,
			pages: map[string]func(*fakeGraph) string{
				recordsPath: func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p2", false, 1, 2, 3, 4, 5) },
			},
			records: 3, truncated: true, requests: 1,
		},
		{
			name: "end of page with next link", limit: 2, pageSize: 10,
			pages: map[string]func(*fakeGraph) string{
				recordsPath: func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p2", false, 1, 2) },
			},
			records: 2, truncated: true, requests: 1, top: "$top=2",
		},
		{
			name: "end of last page", limit: 3,
			pages: map[string]func(*fakeGraph) string{
				recordsPath:         func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p2", true, 1) },
				recordsPath + "?p2": func(g *fakeGraph) string { return page(g, "", false, 2, 3) },
			},
			records: 3, truncated: false, requests: 2,
		},
		{
			name: "second page mid", limit: 3, pageSize: 2,
			pages: map[string]func(*fakeGraph) string{
				recordsPath:         func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p2", false, 1, 2) },
				recordsPath + "?p2": func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p3", false, 3, 4) },
			},
			records: 3, truncated: true, requests: 2, top: "$top=2",
		},
		{
			name: "empty", limit: 3,
			pages: map[string]func(*fakeGraph) string{
				recordsPath: func(*fakeGraph) string { return `{"value":[]}` },
			},
			records: 0, truncated: false, requests: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var g *fakeGraph
			c, _, gg := newFake(t, pagedHandler(tc.pages, &g), func(cfg *Config) { cfg.PageSize = tc.pageSize })
			g = gg
			var got int
			truncated, n, err := c.ListRecords(context.Background(), queryID, tc.limit, func(Record) error { got++; return nil })
			if err != nil || got != tc.records || truncated != tc.truncated || n != tc.requests {
				t.Errorf("records %d truncated %v pages %d err %v", got, truncated, n, err)
			}
			reqs := g.requests()
			if len(reqs) != tc.requests || reqs[0].query != tc.top {
				t.Errorf("%d requests, first query %q", len(reqs), reqs[0].query)
			}
		})
	}
}

func TestListRecordsErrors(t *testing.T) {
	t.Parallel()
	var g *fakeGraph
	pages := map[string]func(*fakeGraph) string{
		recordsPath:         func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p2", false, 1) },
		recordsPath + "?p2": func(g *fakeGraph) string { return page(g, recordsPath+"?$skiptoken=p2", false, 2) },
	}
	c, _, gg := newFake(t, pagedHandler(pages, &g))
	g = gg
	// A next link back to a page already read stops the loop.
	_, n, err := c.ListRecords(context.Background(), queryID, 0, func(Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "already read") || n != 2 {
		t.Errorf("loop: pages %d err %v", n, err)
	}
	// The callback's error comes back as is.
	stop := errors.New("stop")
	_, _, err = c.ListRecords(context.Background(), queryID, 0, func(Record) error { return stop })
	if err != stop {
		t.Errorf("callback error: %v", err)
	}
	// An unknown query: 404 with a hint.
	_, _, err = c.ListRecords(context.Background(), "unknown", 0, func(Record) error { return nil })
	if e, ok := msapi.AsError(err); !ok || !msapi.IsNotFound(err) || e.Hint != notFoundHint {
		t.Errorf("404: %v", err)
	}
	// A malformed page.
	c2, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, http.StatusOK, `{"value":[{"id":"a"},{"id":`)
	})
	var got int
	_, _, err = c2.ListRecords(context.Background(), queryID, 0, func(Record) error { got++; return nil })
	if err == nil || got != 1 || !strings.Contains(err.Error(), "decoding page") {
		t.Errorf("malformed: %d records, %v", got, err)
	}
}

func Test403PermissionHint(t *testing.T) {
	t.Parallel()
	c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, http.StatusForbidden, graphError("Forbidden", "Insufficient privileges to complete the operation."))
	})
	_, err := c.CreateQuery(context.Background(), QueryRequest{From: time.Now().Add(-time.Hour), To: time.Now()})
	e, ok := msapi.AsError(err)
	if !ok || !msapi.IsForbidden(err) || e.Code != "Forbidden" || e.Message != "Insufficient privileges to complete the operation." ||
		e.Hint != PermissionHint || e.Attempts != 1 || e.API != ServiceName {
		t.Fatalf("%T %+v", err, e)
	}
	if msg := err.Error(); !strings.Contains(msg, "AuditLogsQuery-CRM.Read.All") || !strings.Contains(msg, "admin consent") ||
		!strings.Contains(msg, "creating audit log query") {
		t.Errorf("message: %s", msg)
	}
	_, err = c.GetQuery(context.Background(), queryID)
	if e, ok := msapi.AsError(err); !ok || e.Hint != PermissionHint {
		t.Errorf("GetQuery 403: %v", err)
	}
	_, _, err = c.ListRecords(context.Background(), queryID, 0, func(Record) error { return nil })
	if e, ok := msapi.AsError(err); !ok || e.Hint != PermissionHint {
		t.Errorf("ListRecords 403: %v", err)
	}
}

// 429 with Retry-After: 1 is retried no earlier than one second later, by
// the server's clock; a throttle that persists is typed.
func Test429RetryAfter(t *testing.T) {
	t.Parallel()
	c, _, g := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "Too many requests"))
			return
		}
		writeJSON(w, http.StatusOK, queryBody(queryID, "running"))
	})
	q, err := c.GetQuery(context.Background(), queryID)
	if err != nil || q.Status != StatusRunning {
		t.Fatalf("%+v %v", q, err)
	}
	reqs := g.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("retried after %s, before Retry-After", gap)
	}

	c2, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		w.Header().Set("Retry-After", "600")
		writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "Too many requests"))
	}, func(cfg *Config) { cfg.MaxRetryAfter = time.Second })
	_, err = c2.GetQuery(context.Background(), queryID)
	if e, ok := msapi.AsError(err); !ok || !e.Throttled || e.API != ServiceName || e.Attempts != 1 {
		t.Errorf("throttled: %v", err)
	}

	c3, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, http.StatusTooManyRequests, graphError("TooManyRequests", "Too many requests"))
	}, func(cfg *Config) { cfg.MaxRetries = 2 })
	_, err = c3.GetQuery(context.Background(), queryID)
	if e, ok := msapi.AsError(err); !ok || !msapi.IsThrottled(err) || e.Attempts != 3 ||
		!strings.Contains(err.Error(), "throttled by Microsoft Graph") {
		t.Errorf("retries exhausted: %v", err)
	}
}

// A rejected token is refreshed once (with claims, bypassing the cache).
func Test401Refresh(t *testing.T) {
	t.Parallel()
	c, cred, g := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.Header().Set("WWW-Authenticate", `Bearer realm=""`)
			writeJSON(w, http.StatusUnauthorized, graphError("InvalidAuthenticationToken", "Access token has expired or is not yet valid."))
			return
		}
		writeJSON(w, http.StatusOK, queryBody(queryID, "succeeded"))
	})
	cred.Token = func(n int, claims bool) string {
		if claims {
			return "fresh"
		}
		return "stale"
	}
	q, err := c.GetQuery(context.Background(), queryID)
	if err != nil || q.Status != StatusSucceeded {
		t.Fatalf("%+v %v", q, err)
	}
	if calls, claimCalls := cred.Counts(); calls != 2 || claimCalls != 1 {
		t.Errorf("token calls %d, with claims %d", calls, claimCalls)
	}
	reqs := g.requests()
	if len(reqs) != 2 || reqs[0].auth != "Bearer stale" || reqs[1].auth != "Bearer fresh" {
		t.Errorf("requests %+v", reqs)
	}

	// Rejected again: one refresh only, and a Graph hint.
	cred.Token = func(int, bool) string { return "bad" }
	_, err = c.GetQuery(context.Background(), queryID)
	e, ok := msapi.AsError(err)
	if !ok || !msapi.IsUnauthorized(err) || !strings.Contains(e.Hint, c.GraphURL()) || strings.Contains(e.Hint, "security role") {
		t.Errorf("401: %v", err)
	}
	if n := len(g.requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestAPIVersionV1(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths []string
	c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch {
		case r.Method == http.MethodPost:
			writeJSON(w, http.StatusCreated, queryBody(queryID, "notStarted"))
		case strings.HasSuffix(r.URL.Path, "/records"):
			writeJSON(w, http.StatusOK, `{"value":[`+record(1)+`]}`)
		default:
			writeJSON(w, http.StatusOK, queryBody(queryID, "succeeded"))
		}
	}, func(cfg *Config) { cfg.APIVersion = "v1.0" })
	ctx := context.Background()
	if _, err := c.CreateQuery(ctx, QueryRequest{From: time.Now().Add(-time.Hour), To: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForQuery(ctx, queryID, WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ListRecords(ctx, queryID, 0, func(Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := "POST /v1.0/security/auditLog/queries,GET /v1.0/security/auditLog/queries/" + queryID +
		",GET /v1.0/security/auditLog/queries/" + queryID + "/records"
	if got := strings.Join(paths, ","); got != want {
		t.Errorf("paths\n got %s\nwant %s", got, want)
	}
}

func TestEntityOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in            string
		table, record string
	}{
		{`{"EntityName":"account","EntityId":"5d1e6f5c-0000-0000-0000-000000000001","Message":"Retrieve"}`, "account", "5d1e6f5c-0000-0000-0000-000000000001"},
		{`{"entityname":"contact","ENTITYID":"c-1"}`, "contact", "c-1"},
		{`{"entityName":"lower","EntityName":"exact"}`, "exact", ""},
		{`{"EntityName":"account","EntityId":"00000000-0000-0000-0000-000000000000"}`, "account", ""},
		{`{"EntityName":"account","EntityId":null}`, "account", ""},
		{`{"EntityName":{"x":1},"EntityId":42}`, "", "42"},
		{`{"Message":"RetrieveMultiple"}`, "", ""},
		{`"{\"EntityName\":\"account\",\"EntityId\":\"a-1\"}"`, "account", "a-1"},
		{`null`, "", ""},
		{``, "", ""},
		{`[1,2]`, "", ""},
		{`{"EntityName":`, "", ""},
		{`"not json"`, "", ""},
	} {
		table, record := EntityOf(json.RawMessage(tc.in))
		if table != tc.table || record != tc.record {
			t.Errorf("EntityOf(%s) = %q, %q; want %q, %q", tc.in, table, record, tc.table, tc.record)
		}
	}
}
