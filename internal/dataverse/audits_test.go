package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// auditRowJSON is row i of a fake audit trail, newest first, as the Web API
// writes it with FormattedValue annotations.
func auditRowJSON(i int) string {
	created := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Second)
	return fmt.Sprintf(`{"@odata.etag":"W/\"%d\"","auditid":"%08x-0000-4000-8000-000000000001",`+
		`"createdon":"%s","action":2,"action@OData.Community.Display.V1.FormattedValue":"Update",`+
		`"operation":2,"operation@OData.Community.Display.V1.FormattedValue":"Update","objecttypecode":"account",`+
		`"_objectid_value":"%08x-1111-4111-8111-111111111111","_objectid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"account",`+
		`"_userid_value":"22222222-2222-4222-8222-222222222222","_userid_value@OData.Community.Display.V1.FormattedValue":"Jane O'Neil",`+
		`"_callinguserid_value":null,"transactionid":"%08x-3333-4333-8333-333333333333"}`,
		i, i, created.Format(time.RFC3339), i, i)
}

func auditID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000001", i) }

// auditPager serves rows 0..total-1 in pages of size, generated on the fly;
// page n is asked for with $skiptoken=n.
type auditPager struct {
	total, size int
	requests    atomic.Int64
	mu          sync.Mutex
	reqs        []*http.Request
}

func (p *auditPager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	p.mu.Lock()
	p.reqs = append(p.reqs, r)
	p.mu.Unlock()
	page := 0
	if s := r.URL.Query().Get("$skiptoken"); s != "" {
		page, _ = strconv.Atoi(s)
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	_, _ = io.WriteString(w, `{"@odata.context":"https://x/api/data/v9.2/$metadata#audits","value":[`)
	first, last := page*p.size, min((page+1)*p.size, p.total)
	for i := first; i < last; i++ {
		if i > first {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = io.WriteString(w, auditRowJSON(i))
	}
	_, _ = io.WriteString(w, "]")
	if last < p.total {
		_, _ = fmt.Fprintf(w, `,"@odata.nextLink":"https://%s/api/data/v9.2/audits?$select=auditid&$skiptoken=%d"`, r.Host, page+1)
	}
	_, _ = io.WriteString(w, "}")
}

func (p *auditPager) request(i int) *http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs[i]
}

// bodyTracker wraps a transport and records how response bodies were read and closed.
type bodyTracker struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies []*trackedBody
}

type trackedBody struct {
	io.ReadCloser
	read   atomic.Int64
	eof    atomic.Bool
	closed atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return b.ReadCloser.Close()
}

func (t *bodyTracker) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	tb := &trackedBody{ReadCloser: resp.Body}
	resp.Body = tb
	t.mu.Lock()
	t.bodies = append(t.bodies, tb)
	t.mu.Unlock()
	return resp, nil
}

func trackBodies(tr *bodyTracker) func(*Config) {
	return func(cfg *Config) {
		tr.base = cfg.HTTPClient.Transport
		cfg.HTTPClient = &http.Client{Transport: tr}
	}
}

func collectAudits(t *testing.T, c *Client, q AuditQuery) ([]AuditRecord, bool, int) {
	t.Helper()
	var got []AuditRecord
	truncated, pages, err := c.StreamAudits(context.Background(), q, func(r AuditRecord) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, truncated, pages
}

func TestStreamAuditsFollowsNextLink(t *testing.T) {
	t.Parallel()
	pager := &auditPager{total: 25, size: 10}
	c, _, _ := newTestServer(t, pager.ServeHTTP)
	q := AuditQuery{EntityLogicalName: "account", Operations: []int{2}, Limit: 100, PageSize: 10}
	got, truncated, pages := collectAudits(t, c, q)
	if len(got) != 25 || truncated || pages != 3 || pager.requests.Load() != 3 {
		t.Fatalf("rows %d, truncated %v, pages %d, requests %d; want 25, false, 3, 3", len(got), truncated, pages, pager.requests.Load())
	}
	for i, r := range got {
		if r.ID != auditID(i) {
			t.Fatalf("row %d id %s, want %s", i, r.ID, auditID(i))
		}
	}
	want := AuditRecord{
		ID:                auditID(12),
		CreatedOn:         time.Date(2024, 5, 31, 23, 59, 48, 0, time.UTC),
		Action:            2,
		ActionLabel:       "Update",
		Operation:         2,
		EntityLogicalName: "account",
		RecordID:          "0000000c-1111-4111-8111-111111111111",
		UserID:            "22222222-2222-4222-8222-222222222222",
		UserName:          "Jane O'Neil",
		TransactionID:     "0000000c-3333-4333-8333-333333333333",
	}
	if got[12] != want {
		t.Errorf("row 12\n got %+v\nwant %+v", got[12], want)
	}

	first := pager.request(0)
	if first.URL.Path != "/api/data/v9.2/audits" {
		t.Errorf("path %s", first.URL.Path)
	}
	fq := first.URL.Query()
	if fq.Get("$select") != auditSelect || fq.Get("$orderby") != "createdon desc" ||
		fq.Get("$filter") != "objecttypecode eq 'account' and operation eq 2" {
		t.Errorf("query %v", fq)
	}
	for i := range 3 {
		r := pager.request(i)
		if p := r.Header.Get("Prefer"); p != `odata.maxpagesize=10,odata.include-annotations="OData.Community.Display.V1.FormattedValue"` {
			t.Errorf("request %d Prefer %q", i, p)
		}
		if i > 0 && r.URL.Query().Get("$skiptoken") != strconv.Itoa(i) {
			t.Errorf("request %d does not follow the next link: %s", i, r.URL)
		}
	}
}

func TestStreamAuditsStopsAtLimitMidPage(t *testing.T) {
	t.Parallel()
	pager := &auditPager{total: 5000, size: 2000} // a page of ~1 MB: far more than the client reads
	tr := &bodyTracker{}
	c, _, _ := newTestServer(t, pager.ServeHTTP, trackBodies(tr))
	got, truncated, pages := collectAudits(t, c, AuditQuery{Limit: 3, PageSize: 2000})
	if len(got) != 3 || !truncated || pages != 1 || pager.requests.Load() != 1 {
		t.Fatalf("rows %d, truncated %v, pages %d, requests %d; want 3, true, 1, 1", len(got), truncated, pages, pager.requests.Load())
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	b := tr.bodies[0]
	if !b.closed.Load() || b.eof.Load() {
		t.Errorf("body closed %v, read to EOF %v; want closed before EOF", b.closed.Load(), b.eof.Load())
	}
	// Three rows are read, not the page: allow the transport's and the
	// decoder's buffers.
	if read, page := b.read.Load(), int64(2000*len(auditRowJSON(0))); read > 64<<10 {
		t.Errorf("read %d bytes of a ~%d byte page for 3 rows", read, page)
	}
}

func TestStreamAuditsLimitAtPageEnd(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		total         int
		wantTruncated bool
	}{
		{"with a next link", 20, true},
		{"last page", 10, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pager := &auditPager{total: tt.total, size: 10}
			c, _, _ := newTestServer(t, pager.ServeHTTP)
			got, truncated, pages := collectAudits(t, c, AuditQuery{Limit: 10})
			if len(got) != 10 || truncated != tt.wantTruncated || pages != 1 || pager.requests.Load() != 1 {
				t.Errorf("rows %d, truncated %v, pages %d, requests %d; want 10, %v, 1, 1",
					len(got), truncated, pages, pager.requests.Load(), tt.wantTruncated)
			}
			if p := pager.request(0).Header.Get("Prefer"); !strings.HasPrefix(p, "odata.maxpagesize=10,") {
				t.Errorf("Prefer %q: the default page size is the limit", p)
			}
		})
	}
}

func TestStreamAuditsPageSizeCapped(t *testing.T) {
	t.Parallel()
	pager := &auditPager{total: 1, size: 10}
	c, _, _ := newTestServer(t, pager.ServeHTTP)
	collectAudits(t, c, AuditQuery{Limit: 100_000, PageSize: 9000})
	if p := pager.request(0).Header.Get("Prefer"); !strings.HasPrefix(p, "odata.maxpagesize=5000,") {
		t.Errorf("Prefer %q", p)
	}
}

func TestStreamAuditsForbidden(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, odataErr("0x80040220", "Principal user is missing prvReadAuditSummary privilege"))
	})
	called := false
	_, _, err := c.StreamAudits(context.Background(), AuditQuery{Limit: 5}, func(AuditRecord) error { called = true; return nil })
	if !IsForbidden(err) || called {
		t.Fatalf("err = %v (forbidden %v), fn called %v", err, IsForbidden(err), called)
	}
	if !strings.Contains(err.Error(), "prvReadAuditSummary") {
		t.Errorf("err = %v", err)
	}
}

func TestStreamAuditsRejectsBadQuery(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s", r.URL)
	})
	for _, q := range []AuditQuery{{}, {Limit: -1}, {Limit: 1, RecordID: "x"}} {
		if _, _, err := c.StreamAudits(context.Background(), q, func(AuditRecord) error { return nil }); err == nil {
			t.Errorf("%+v: no error", q)
		}
	}
}

func TestStreamAuditsCallbackError(t *testing.T) {
	t.Parallel()
	pager := &auditPager{total: 30, size: 10}
	c, _, _ := newTestServer(t, pager.ServeHTTP)
	stop := errors.New("stop here")
	n := 0
	_, _, err := c.StreamAudits(context.Background(), AuditQuery{Limit: 30}, func(AuditRecord) error {
		n++
		if n == 15 {
			return stop
		}
		return nil
	})
	if err != stop || n != 15 || pager.requests.Load() != 2 {
		t.Errorf("err %v, rows %d, requests %d", err, n, pager.requests.Load())
	}
}

func TestStreamAuditsRetriesBeforeTheBodyOnly(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeJSON(w, http.StatusServiceUnavailable, odataErr("", "busy"))
		case 2:
			// Promise more than is sent: the read fails mid-stream.
			w.Header().Set("Content-Length", "100000")
			_, _ = io.WriteString(w, `{"value":[`+auditRowJSON(0)+`,`+auditRowJSON(1)+`,{"auditid":"trunc`)
		default:
			t.Errorf("request %d: a failure after the body was handed over must not be retried", n.Load())
		}
	}, fastRetries)
	rows := 0
	_, pages, err := c.StreamAudits(context.Background(), AuditQuery{Limit: 10}, func(AuditRecord) error { rows++; return nil })
	if err == nil || !strings.Contains(err.Error(), "reading page 1") {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 2 || rows != 2 || pages != 1 {
		t.Errorf("requests %d, rows %d, pages %d; want 2, 2, 1", n.Load(), rows, pages)
	}
}

func TestDecodeAuditPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		limit    int
		rows     int
		next     string
		more     bool
		errorHas string
	}{
		{"next link first, extra members skipped", `{"@odata.nextLink":"n","@odata.count":2,"x":{"a":[1,{"b":null}]},"value":[{"auditid":"a"},{"auditid":"b"}]}`, 5, 2, "n", false, ""},
		{"limit reached with rows left", `{"value":[{"auditid":"a"},{"auditid":"b"}],"@odata.nextLink":"n"}`, 1, 1, "", true, ""},
		{"empty page", `{"value":[]}`, 5, 0, "", false, ""},
		{"no value", `{"@odata.context":"x"}`, 5, 0, "", false, `no "value"`},
		{"not an object", `[1]`, 5, 0, "", false, "expected"},
		{"value not an array", `{"value":{}}`, 5, 0, "", false, "value"},
		{"bad row", `{"value":[{"action":"x"}]}`, 5, 0, "", false, "value row"},
		{"truncated", `{"value":[{"auditid":"a"}`, 5, 1, "", false, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows := 0
			next, more, err := decodeAuditPage(strings.NewReader(tt.body), tt.limit, func(*auditRowWire) error { rows++; return nil })
			if tt.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errorHas) {
					t.Fatalf("err = %v, want %q", err, tt.errorHas)
				}
				return
			}
			if err != nil || rows != tt.rows || next != tt.next || more != tt.more {
				t.Errorf("rows %d next %q more %v err %v", rows, next, more, err)
			}
		})
	}
}

func TestDoStreamArguments(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{}})
	})
	ctx := context.Background()
	if _, err := c.DoStream(ctx, &Request{Path: "x"}, nil); err == nil {
		t.Error("nil fn accepted")
	}
	if _, err := c.DoStream(ctx, &Request{Path: "x", Out: new(any)}, func(io.Reader) error { return nil }); err == nil {
		t.Error("Out accepted")
	}
	var got string
	resp, err := c.DoStream(ctx, &Request{Path: "x"}, func(r io.Reader) error {
		b, err := io.ReadAll(r)
		got = string(b)
		return err
	})
	if err != nil || resp.StatusCode != http.StatusOK || resp.Body != nil || resp.Attempts != 1 || strings.TrimSpace(got) != `{"value":[]}` {
		t.Errorf("resp %+v err %v body %q", resp, err, got)
	}
}

// TestStreamAuditsMemory streams 100,000 rows from a fake that writes its
// pages as they are read, and checks that the live heap (after a GC) does
// not grow with the number of rows: the client keeps one page's decoder and
// one row, whatever the row count. It is not parallel: parallel tests of the
// package start only after it, and would otherwise add to the heap.
func TestStreamAuditsMemory(t *testing.T) {
	const total = 100_000
	pager := &auditPager{total: total, size: MaxAuditPageSize}
	c, _, _ := newTestServer(t, pager.ServeHTTP)

	liveHeap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := liveHeap()
	var live []uint64 // live heap after 10k, 20k, … rows
	rows := 0
	truncated, pages, err := c.StreamAudits(context.Background(), AuditQuery{Limit: total}, func(AuditRecord) error {
		rows++
		if rows%10_000 == 0 {
			live = append(live, liveHeap())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != total || truncated || pages != total/MaxAuditPageSize {
		t.Fatalf("rows %d truncated %v pages %d", rows, truncated, pages)
	}
	var growth int64
	for _, l := range live {
		growth = max(growth, int64(l)-int64(base))
	}
	t.Logf("live heap before %d KB; after 10k..100k rows %v B; max growth %d KB", base>>10, live, growth>>10)
	// Keeping the rows would take over 40 MB (each AuditRecord holds seven
	// strings, five of them GUIDs). Allow 4 MB for the runtime and the server.
	if growth > 4<<20 {
		t.Errorf("live heap grew by %d KB while streaming", growth>>10)
	}
	if last, first := live[len(live)-1], live[0]; last > first+(1<<20) {
		t.Errorf("live heap after %d rows is %d KB, after 10,000 rows %d KB: it grows with the row count", total, last>>10, first>>10)
	}
}

// generatedPage is an audit page of n rows, generated as it is read, that
// counts the bytes handed out: a decoder that read the whole page would read
// them all.
type generatedPage struct {
	n, next int // rows in the page, next row to generate
	pending []byte
	started bool
	read    int
}

func (g *generatedPage) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		switch {
		case !g.started:
			g.started = true
			g.pending = []byte(`{"@odata.context":"x","value":[`)
		case g.next < g.n:
			row := auditRowJSON(g.next)
			if g.next > 0 {
				row = "," + row
			}
			g.next++
			g.pending = []byte(row)
		case g.next == g.n:
			g.next++
			g.pending = []byte(`],"@odata.nextLink":"n"}`)
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	g.read += n
	return n, nil
}

// The decoder stops reading the body once it has delivered the rows it was
// asked for: what it reads depends on the limit, not on the page's length,
// and it decodes no row it does not deliver.
func TestDecodeAuditPageReadsOnlyWhatItReturns(t *testing.T) {
	t.Parallel()
	rowBytes := len(auditRowJSON(0)) + 1
	readFor := func(limit, pageRows int) int {
		t.Helper()
		page := &generatedPage{n: pageRows}
		delivered := 0
		_, more, err := decodeAuditPage(page, limit, func(*auditRowWire) error { delivered++; return nil })
		if err != nil || delivered != limit || !more {
			t.Fatalf("limit %d of %d rows: delivered %d, more %v, err %v", limit, pageRows, delivered, more, err)
		}
		// The generator is at most a few rows ahead of the decoder:
		// rows generated but not delivered are what the decoder's buffer
		// holds, never the rest of the page.
		if ahead := page.next - delivered; ahead > 64 {
			t.Errorf("limit %d of %d rows: %d rows generated past the limit", limit, pageRows, ahead)
		}
		return page.read
	}
	const slack = 32 << 10 // the decoder's read buffer
	for _, limit := range []int{1, 10, 1000} {
		short, long := readFor(limit, 2*limit), readFor(limit, 100*limit+5000)
		if short != long {
			t.Errorf("limit %d: read %d bytes of a page of %d rows, %d of a page of %d rows: reading depends on the page length",
				limit, short, 2*limit, long, 100*limit+5000)
		}
		if want := limit*rowBytes + slack; long > want {
			t.Errorf("limit %d: read %d bytes, want at most %d (the rows returned and one buffer)", limit, long, want)
		}
	}
}

func TestParseAuditAction(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"create": 1, "UPDATE": 2, " user_access_via_web ": 64, "User Access via Web Services": 65,
		"audit-change-at-org-level": 104, "unknown": 0, "0": 0, "64": 64, "9999": 9999,
	} {
		got, err := ParseAuditAction(in)
		if err != nil || got != want {
			t.Errorf("ParseAuditAction(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "creat", "1.5", "user access"} {
		_, err := ParseAuditAction(in)
		if err == nil || !strings.Contains(err.Error(), "user_access_via_web (64)") || !strings.Contains(err.Error(), "numeric code") {
			t.Errorf("ParseAuditAction(%q): %v", in, err)
		}
	}
	// The names configurations write (the labels' snake_case forms).
	if len(AuditActions) != 52 || AuditActions[31] != "add_member" || AuditActions[57] != "add_privileges_to_role" ||
		AuditActions[104] != "audit_change_at_org_level" || AuditActions[65] != "user_access_via_web_services" {
		t.Errorf("AuditActions: %d names, 31 %q, 57 %q, 104 %q, 65 %q", len(AuditActions), AuditActions[31], AuditActions[57], AuditActions[104], AuditActions[65])
	}
	// Every name parses back to its code.
	for code, name := range AuditActions {
		if got, err := ParseAuditAction(name); err != nil || got != code {
			t.Errorf("%s: %d, %v", name, got, err)
		}
	}
}

func TestAuditActionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code  int
		label string
		want  string
	}{
		{104, "Audit Change at Org Level", "audit_change_at_org_level"},
		{64, "", "user_access_via_web"},
		{120, "Export To Excel (Preview)", "export_to_excel_preview"},
		{121, "  --  ", "action_121"},
		{122, "", "action_122"},
	}
	for _, tt := range tests {
		if got := AuditActionName(tt.code, tt.label); got != tt.want {
			t.Errorf("AuditActionName(%d, %q) = %q, want %q", tt.code, tt.label, got, tt.want)
		}
	}
}

func TestParseAuditOperation(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"create": 1, "Update": 2, "delete": 3, "ACCESS": 4, "1": 1, "4": 4} {
		got, err := ParseAuditOperation(in)
		if err != nil || got != want {
			t.Errorf("ParseAuditOperation(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "5", "read", "assign"} {
		if _, err := ParseAuditOperation(in); err == nil || !strings.Contains(err.Error(), "create (1), update (2), delete (3), access (4)") {
			t.Errorf("ParseAuditOperation(%q): %v", in, err)
		}
	}
}

func timePtr(t time.Time) *time.Time { return &t }

const (
	testRecordID = "6A3F1E2D-1111-4222-8333-444455556666"
	testUserID   = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

func TestBuildAuditFilter(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		q    AuditQuery
		want string
	}{
		{"empty", AuditQuery{Limit: 10, PageSize: 5}, ""},
		{
			"every field",
			AuditQuery{
				From:              timePtr(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
				To:                timePtr(time.Date(2024, 1, 31, 23, 59, 59, 500_000_000, time.UTC)),
				EntityLogicalName: "account",
				RecordID:          testRecordID,
				UserID:            testUserID,
				Operations:        []int{1, 2},
				Actions:           []int{64},
			},
			"createdon ge 2024-01-01T00:00:00Z and createdon le 2024-01-31T23:59:59.5Z" +
				" and objecttypecode eq 'account'" +
				" and _objectid_value eq 6a3f1e2d-1111-4222-8333-444455556666" +
				" and _userid_value eq aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" +
				" and (operation eq 1 or operation eq 2) and action eq 64",
		},
		{
			"times are written in UTC",
			AuditQuery{From: timePtr(time.Date(2024, 6, 1, 1, 30, 0, 0, cet))},
			"createdon ge 2024-06-01T00:30:00Z",
		},
		{
			"inclusive bounds on the same instant",
			AuditQuery{
				From: timePtr(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)),
				To:   timePtr(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)),
			},
			"createdon ge 2024-06-01T00:00:00Z and createdon le 2024-06-01T00:00:00Z",
		},
		{"quote doubled", AuditQuery{EntityLogicalName: "o'brien"}, "objecttypecode eq 'o''brien'"},
		{
			"injection stays inside the literal",
			AuditQuery{EntityLogicalName: "x' or objecttypecode ne 'y"},
			"objecttypecode eq 'x'' or objecttypecode ne ''y'",
		},
		{"one operation, no parentheses", AuditQuery{Operations: []int{3}}, "operation eq 3"},
		{"duplicates dropped", AuditQuery{Actions: []int{1, 2, 1, 2}}, "(action eq 1 or action eq 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := BuildAuditFilter(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if _, err := checkFilterSyntax(got); err != nil {
				t.Errorf("filter %q: %v", got, err)
			}
		})
	}
}

func TestBuildAuditFilterRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    AuditQuery
		want string
	}{
		{"record id not a GUID", AuditQuery{RecordID: "123"}, `record id "123" is not a GUID`},
		{"user id injection", AuditQuery{UserID: testUserID + " or 1 eq 1"}, "user id"},
		{"braced GUID", AuditQuery{RecordID: "{" + testRecordID + "}"}, "not a GUID"},
		{"unknown operation", AuditQuery{Operations: []int{1, 5}}, "operation 5"},
		{"negative action", AuditQuery{Actions: []int{-1}}, "action code -1"},
		{
			"from after to",
			AuditQuery{From: timePtr(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)), To: timePtr(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))},
			"is after to",
		},
		{"year out of range", AuditQuery{To: timePtr(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}, "outside the years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := BuildAuditFilter(tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, err %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

// Words that may appear outside string literals in a filter.
var (
	filterKeywords = map[string]bool{
		"createdon": true, "objecttypecode": true, "_objectid_value": true, "_userid_value": true,
		"operation": true, "action": true, "eq": true, "ge": true, "le": true, "and": true, "or": true,
	}
	filterValueRE = regexp.MustCompile(`^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)$`)
)

// checkFilterSyntax scans a filter as an OData lexer would: string literals
// end at a single quote (a doubled quote is an escaped one), parentheses balance, and
// every word outside literals is a known keyword or a typed value. It returns
// the unescaped literals.
func checkFilterSyntax(s string) ([]string, error) {
	var literals []string
	depth := 0
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '\'':
			var lit strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string literal")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						lit.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				lit.WriteByte(s[i])
				i++
			}
			literals = append(literals, lit.String())
		case '(':
			depth++
			i++
		case ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ')' at %d", i)
			}
			i++
		case ' ':
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune("'() ", rune(s[j])) {
				j++
			}
			w := s[i:j]
			if !filterKeywords[w] && !filterValueRE.MatchString(w) {
				return nil, fmt.Errorf("unexpected word %q outside a string literal", w)
			}
			i = j
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced parentheses")
	}
	return literals, nil
}

// FuzzBuildAuditFilter: no panic; whatever the input, a filter that is built
// scans cleanly and the table name comes back out of its literal unchanged.
// The seeds run with every go test.
func FuzzBuildAuditFilter(f *testing.F) {
	f.Add("account", testRecordID, testUserID, 1, 2, 64, int64(1704067200), int64(1706745599), true, true)
	f.Add("o'brien", "", "", 0, 0, 0, int64(0), int64(0), false, false)
	f.Add("x' or 1 eq 1 or 'a", "not-a-guid", "", 5, -1, -3, int64(-1), int64(1), true, false)
	f.Add("'')(\"\\", testRecordID+")", testUserID, 4, 4, 0, int64(253402300799), int64(253402300800), false, true)
	f.Add("\x00\xff日本", "", strings.ToUpper(testUserID), 3, 1, 113, int64(1e9), int64(-1e9), true, true)
	f.Fuzz(func(t *testing.T, entity, record, user string, op1, op2, action int, from, to int64, hasFrom, hasTo bool) {
		q := AuditQuery{EntityLogicalName: entity, RecordID: record, UserID: user, Operations: []int{op1, op2}, Actions: []int{action}}
		if hasFrom {
			q.From = timePtr(time.Unix(from, 0))
		}
		if hasTo {
			q.To = timePtr(time.Unix(to, 999))
		}
		got, err := BuildAuditFilter(q)
		if err != nil {
			return
		}
		lits, err := checkFilterSyntax(got)
		if err != nil {
			t.Fatalf("filter %q: %v", got, err)
		}
		switch {
		case entity == "" && len(lits) != 0:
			t.Fatalf("filter %q has literals %q without a table name", got, lits)
		case entity != "" && (len(lits) != 1 || lits[0] != entity):
			t.Fatalf("filter %q: literals %q, want exactly [%q]", got, lits, entity)
		}
	})
}

func showValue(p *string) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *p)
}

func showChanges(cs []AuditChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s: %s → %s", c.Attribute, showValue(c.OldValue), showValue(c.NewValue))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func equalChanges(a, b []AuditChange) bool { return showChanges(a) == showChanges(b) }

func TestRenderAuditValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want *string
	}{
		{`88800`, strp("88800")},
		{`88800.5000`, strp("88800.5000")},
		{`1e3`, strp("1e3")},
		{`-0`, strp("-0")},
		{`1`, strp("1")},
		{`true`, strp("true")},
		{`false`, strp("false")},
		{`"1999-08-24T00:00:00Z"`, strp("1999-08-24T00:00:00Z")},
		{`"O'Neil \"Jr\" \u00e9"`, strp(`O'Neil "Jr" é`)},
		{`""`, strp("")},
		{`null`, nil},
		{` {"a": [1, 2]} `, strp(`{"a":[1,2]}`)},
	}
	for _, tt := range tests {
		got, err := RenderAuditValue(json.RawMessage(tt.raw))
		if err != nil || showValue(got) != showValue(tt.want) {
			t.Errorf("RenderAuditValue(%s) = %s, %v; want %s", tt.raw, showValue(got), err, showValue(tt.want))
		}
	}
	for _, bad := range []string{``, `nul`, `tru`, `"open`, `{`, `12a`} {
		if got, err := RenderAuditValue(json.RawMessage(bad)); err == nil {
			t.Errorf("RenderAuditValue(%q) = %s, want an error", bad, showValue(got))
		}
	}
}

func TestChangesFromDetail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		detail string
		want   string
	}{
		{
			"money, choice, lookup, date, null, annotations",
			`{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail",
			  "AuditRecord":{"auditid":"x"},
			  "OldValue":{"@odata.type":"#Microsoft.Dynamics.CRM.account","revenue":1000,"industrycode":2,
			    "industrycode@OData.Community.Display.V1.FormattedValue":"Agriculture",
			    "_primarycontactid_value":"11111111-1111-1111-1111-111111111111",
			    "_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"contact",
			    "lastonholdtime":null,"name":"Fourth Coffee"},
			  "NewValue":{"@odata.type":"#Microsoft.Dynamics.CRM.account","revenue":88800,"industrycode":1,
			    "_primarycontactid_value":null,"lastonholdtime":"1999-08-24T00:00:00Z","donotemail":true},
			  "InvalidNewValueAttributes":[],"LocLabelLanguageCode":0,"DeletedAttributes":{}}`,
			`[donotemail: nil → "true"; industrycode: "2" → "1"; lastonholdtime: nil → "1999-08-24T00:00:00Z"; ` +
				`name: "Fourth Coffee" → nil; primarycontactid: "11111111-1111-1111-1111-111111111111" → nil; revenue: "1000" → "88800"]`,
		},
		{
			"create: no old value",
			`{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail","OldValue":null,"NewValue":{"name":"A"}}`,
			`[name: nil → "A"]`,
		},
		{"no type, values present", `{"NewValue":{"name":"A"}}`, `[name: nil → "A"]`},
		{"attribute detail without values", `{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail"}`, `[]`},
		{"share detail", `{"@odata.type":"#Microsoft.Dynamics.CRM.ShareAuditDetail","OldValue":{"a":1}}`, `[]`},
		{"relationship detail", `{"@odata.type":"#Microsoft.Dynamics.CRM.RelationshipAuditDetail","RelationshipName":"x"}`, `[]`},
		{"null", `null`, `[]`},
		{"empty", ``, `[]`},
	}
	for _, tt := range tests {
		got, err := ChangesFromDetail(json.RawMessage(tt.detail))
		if err != nil || showChanges(got) != tt.want {
			t.Errorf("%s:\n got %s (err %v)\nwant %s", tt.name, showChanges(got), err, tt.want)
		}
	}
	for _, bad := range []string{`[1]`, `{"OldValue":[1]}`, `{"NewValue":{"a":nul}}`, `{`} {
		if got, err := ChangesFromDetail(json.RawMessage(bad)); err == nil {
			t.Errorf("ChangesFromDetail(%s) = %s, want an error", bad, showChanges(got))
		}
	}
}

func TestAuditAttributeName(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"name": "name", "_ownerid_value": "ownerid", "_value": "_value", "__value": "__value", "_x_value": "x",
		"@odata.type": "", "name@OData.Community.Display.V1.FormattedValue": "", "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "",
	} {
		if got := auditAttributeName(key); got != want {
			t.Errorf("auditAttributeName(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzChangesFromDetail(f *testing.F) {
	f.Add(`{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail","OldValue":{"a":1,"_b_value":"x","a@x":"y"},"NewValue":{"a":2.50,"c":null}}`)
	f.Add(`{"OldValue":null,"NewValue":{"":true,"@":false,"_value":"v","__value":1}}`)
	f.Add(`{"@odata.type":"#Microsoft.Dynamics.CRM.ShareAuditDetail"}`)
	f.Add(`{"OldValue":{"a":{"b":[1,"2",null]}},"NewValue":"x"}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, detail string) {
		changes, err := ChangesFromDetail(json.RawMessage(detail))
		if err != nil {
			return
		}
		for i, c := range changes {
			if strings.Contains(c.Attribute, "@") || (i > 0 && changes[i-1].Attribute >= c.Attribute) {
				t.Fatalf("changes %s", showChanges(changes))
			}
		}
	})
}
