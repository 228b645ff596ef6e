package dataverse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// auditDetailJSON is the RetrieveAuditDetails answer of a fake audit row: the
// "revenue" column changed from i to i+1.
func auditDetailJSON(id string, i int) string {
	return fmt.Sprintf(`{"@odata.context":"x","AuditDetail":{"@odata.type":"#Microsoft.Dynamics.CRM.AttributeAuditDetail",`+
		`"AuditRecord":{"auditid":%q},"OldValue":{"@odata.type":"#Microsoft.Dynamics.CRM.account","revenue":%d},`+
		`"NewValue":{"@odata.type":"#Microsoft.Dynamics.CRM.account","revenue":%d},"InvalidNewValueAttributes":[]}}`, id, i, i+1)
}

var detailsPathRE = regexp.MustCompile(`/api/data/v9\.2/audits\(([0-9a-f-]{36})\)/Microsoft\.Dynamics\.CRM\.RetrieveAuditDetails\(\)$`)

// batchFake answers $batch requests of RetrieveAuditDetails calls (and, for
// the naive mode, single GETs). Ids in missing answer 404.
type batchFake struct {
	t       *testing.T
	index   map[string]int // audit id → its number, for the values
	missing map[string]bool
	delay   time.Duration
	// dropLast answers one part fewer than asked.
	dropLast bool

	batches, gets     atomic.Int64
	inFlight, maxSeen atomic.Int64
	mu                sync.Mutex
	sizes             []int
	headers           []http.Header
}

func (f *batchFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A request is in flight until its answer starts: the client may read
	// a whole $batch answer (it stops at the last part it asked for) and
	// send its next request before this handler has returned.
	n := f.inFlight.Add(1)
	answering := sync.OnceFunc(func() { f.inFlight.Add(-1) })
	defer answering()
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(f.delay)
	if r.Method == http.MethodGet {
		f.gets.Add(1)
		m := detailsPathRE.FindStringSubmatch(r.URL.Path)
		if m == nil || f.missing[m[1]] {
			writeJSON(w, http.StatusNotFound, odataErr("0x80040217", "audit Does Not Exist"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		answering()
		_, _ = io.WriteString(w, auditDetailJSON(m[1], f.index[m[1]]))
		return
	}
	f.batches.Add(1)
	reqs, err := readBatchRequest(r)
	if err != nil {
		f.t.Errorf("batch request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.sizes = append(f.sizes, len(reqs))
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if f.dropLast {
		reqs = reqs[:len(reqs)-1]
	}
	const boundary = "batchresponse_5b3ec2a1-aaaa-4bbb-8ccc-000000000000"
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+boundary)
	var b bytes.Buffer
	for _, req := range reqs {
		b.WriteString("--" + boundary + "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n")
		m := detailsPathRE.FindStringSubmatch(req.URL.Path)
		if m == nil || f.missing[m[1]] {
			body := `{"error":{"code":"0x80040217","message":"audit With Id = x Does Not Exist"}}`
			fmt.Fprintf(&b, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n%s\r\n", body)
			continue
		}
		body := auditDetailJSON(m[1], f.index[m[1]])
		fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n%s\r\n", body)
	}
	b.WriteString("--" + boundary + "--\r\n")
	answering()
	_, _ = w.Write(b.Bytes())
}

// readBatchRequest parses a $batch body into its requests.
func readBatchRequest(r *http.Request) ([]*http.Request, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || !strings.HasPrefix(params["boundary"], "batch_") {
		return nil, fmt.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var out []*http.Request
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if p.Header.Get("Content-Type") != "application/http" || p.Header.Get("Content-Transfer-Encoding") != "binary" {
			return nil, fmt.Errorf("part headers %v", p.Header)
		}
		req, err := http.ReadRequest(bufio.NewReader(p))
		if err != nil {
			return nil, err
		}
		out = append(out, req)
	}
}

func auditIDs(n int) ([]string, map[string]int) {
	ids := make([]string, n)
	index := make(map[string]int, n)
	for i := range ids {
		ids[i] = auditID(i)
		index[ids[i]] = i
	}
	return ids, index
}

func strp(s string) *string { return &s }

func checkRevenueChanges(t *testing.T, got map[string][]AuditChange, index map[string]int) {
	t.Helper()
	for id, changes := range got {
		i := index[id]
		want := []AuditChange{{Attribute: "revenue", OldValue: strp(fmt.Sprint(i)), NewValue: strp(fmt.Sprint(i + 1))}}
		if !equalChanges(changes, want) {
			t.Fatalf("%s: changes %s, want %s", id, showChanges(changes), showChanges(want))
		}
	}
}

func TestBatchBodyRoundTrip(t *testing.T) {
	t.Parallel()
	const apiBase = "https://org.crm.dynamics.com/api/data/v9.2/"
	paths := []string{auditDetailsPath(auditID(1)), auditDetailsPath(strings.ToUpper(auditID(2)))}
	body := buildBatchGets("batch_abc", apiBase, paths)
	if !bytes.HasPrefix(body, []byte("--batch_abc\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET "+apiBase+"audits(00000001-0000-4000-8000-000000000001)/Microsoft.Dynamics.CRM.RetrieveAuditDetails() HTTP/1.1\r\nAccept: application/json\r\n\r\n")) ||
		!bytes.HasSuffix(body, []byte("\r\n--batch_abc--\r\n")) {
		t.Errorf("body:\n%s", body)
	}
	r, _ := http.NewRequest(http.MethodPost, apiBase+"$batch", bytes.NewReader(body))
	r.Header.Set("Content-Type", "multipart/mixed;boundary=batch_abc")
	reqs, err := readBatchRequest(r)
	if err != nil || len(reqs) != 2 {
		t.Fatalf("%d requests, err %v", len(reqs), err)
	}
	for i, req := range reqs {
		if req.Method != http.MethodGet || req.URL.String() != apiBase+paths[i] || req.Header.Get("Accept") != "application/json" {
			t.Errorf("request %d: %s %s %v", i, req.Method, req.URL, req.Header)
		}
	}

	// And an answer in the Web API's shape parses back part by part.
	resp := "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n" +
		auditDetailJSON(auditID(1), 7) + "\r\n" +
		"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":\"0x80040217\",\"message\":\"gone\"}}\r\n" +
		"--batchresponse_1--\r\n"
	parts, err := parseBatchResponse("multipart/mixed; boundary=batchresponse_1", strings.NewReader(resp), MaxBatchSize)
	if err != nil || len(parts) != 2 {
		t.Fatalf("%d parts, err %v", len(parts), err)
	}
	if parts[0].StatusCode != http.StatusOK || parts[1].StatusCode != http.StatusNotFound || parts[1].Header.Get("Content-Type") != "application/json" {
		t.Errorf("parts %+v", parts)
	}
	ch, err := changesFromAuditDetailsResponse(parts[0].Body)
	if err != nil || !equalChanges(ch, []AuditChange{{"revenue", strp("7"), strp("8")}}) {
		t.Errorf("changes %s err %v", showChanges(ch), err)
	}
}

func TestParseBatchResponse(t *testing.T) {
	t.Parallel()
	part := func(nl, status string) string {
		return "Content-Type: application/http" + nl + "Content-Transfer-Encoding: binary" + nl + nl +
			"HTTP/1.1 " + status + nl + "Content-Type: application/json" + nl + nl + `{"a":1}` + nl
	}
	crlf := "--b\r\n" + part("\r\n", "200 OK") + "--b\r\n" + part("\r\n", "204 No Content") + "--b--\r\n"
	lf := "--b\n" + part("\n", "200 OK") + "--b\n" + part("\n", "404 Not Found") + "--b--\n"
	tests := []struct {
		name, ct, body string
		statuses       []int
		errorHas       string
	}{
		{"CRLF", "multipart/mixed; boundary=b", crlf, []int{200, 204}, ""},
		{"LF only", "multipart/mixed;boundary=\"b\"", lf, []int{200, 404}, ""},
		{"preamble and epilogue", "multipart/mixed; boundary=b", "ignored\r\n" + crlf + "trailing", []int{200, 204}, ""},
		{"no parts", "multipart/mixed; boundary=b", "--b--\r\n", nil, ""},
		{"garbage part", "multipart/mixed; boundary=b", "--b\r\n\r\nnot http\r\n--b--\r\n", []int{-1}, ""},
		{"status 000", "multipart/mixed; boundary=b", "--b\n\nHTTP/1.1 000 X\n\n\n--b--", []int{-1}, ""},
		{"wrong boundary", "multipart/mixed; boundary=c", crlf, nil, ""},
		{"missing close", "multipart/mixed; boundary=b", "--b\r\n" + part("\r\n", "200 OK"), nil, "EOF"},
		// mime/multipart reports a cut inside part headers as a plain EOF: the
		// parts before it are kept, and the ids after them count as unanswered.
		{"cut in the second part's headers", "multipart/mixed; boundary=b", "--b\r\n" + part("\r\n", "200 OK") + "--b\r\nContent-Type: app", []int{200}, ""},
		{"cut in the second part's body", "multipart/mixed; boundary=b", "--b\r\n" + part("\r\n", "200 OK") + "--b\r\n\r\nHTTP/1.1 200 OK\r\n", nil, "part 2"},
		{"not multipart", "application/json", `{}`, nil, "not multipart/mixed"},
		{"no boundary", "multipart/mixed", crlf, nil, "not multipart/mixed"},
		{"bad content type", "multipart/mixed; boundary=", crlf, nil, "content type"},
		{"nested changeset", "multipart/mixed; boundary=b", "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c--\r\n--b--\r\n", nil, "changeset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parts, err := parseBatchResponse(tt.ct, strings.NewReader(tt.body), MaxBatchSize)
			if tt.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errorHas) {
					t.Fatalf("parts %+v err %v, want error %q", parts, err, tt.errorHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, p := range parts {
				if p.Err != nil {
					got = append(got, -1)
					continue
				}
				got = append(got, p.StatusCode)
				if p.StatusCode == http.StatusOK && string(p.Body) != `{"a":1}` && string(p.Body) != "{\"a\":1}\r\n" && string(p.Body) != "{\"a\":1}\n" {
					t.Errorf("body %q", p.Body)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.statuses) {
				t.Errorf("statuses %v, want %v", got, tt.statuses)
			}
		})
	}
}

// FuzzParseBatchResponse: no panic on any answer, and parts without an
// error have a real status. The seeds run with every go test.
func FuzzParseBatchResponse(f *testing.F) {
	ok := "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}\r\n--b--\r\n"
	f.Add("multipart/mixed; boundary=b", []byte(ok))
	f.Add("multipart/mixed; boundary=b", []byte(strings.ReplaceAll(ok, "\r\n", "\n")))
	f.Add("multipart/mixed; boundary=b", []byte(strings.ReplaceAll(ok, "--b--", "--x--")))
	f.Add("multipart/mixed; boundary=b", []byte("--b\r\n\r\nHTTP/1.1 999999999999 X\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n--b--"))
	f.Add("multipart/mixed; boundary=b", []byte("--b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort\r\n--b--\r\n"))
	f.Add("multipart/mixed; boundary=\"b\"; charset=x", []byte("--b\r\n--b\r\n--b--"))
	f.Add("multipart/mixed; boundary=b", []byte("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nHTTP/1.1 200 OK\r\n\r\n--c--\r\n--b--\r\n"))
	f.Add("text/plain", []byte(""))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		parts, err := parseBatchResponse(ct, bytes.NewReader(body), 3)
		if err != nil {
			return
		}
		for i, p := range parts {
			if p.Err == nil && (p.StatusCode < 100 || p.StatusCode > 599) {
				t.Fatalf("part %d: status %d without an error", i, p.StatusCode)
			}
		}
	})
}

func TestRetrieveAuditDetailsBatches(t *testing.T) {
	t.Parallel()
	ids, index := auditIDs(2500)
	fake := &batchFake{t: t, index: index}
	c, _, _ := newTestServer(t, fake.ServeHTTP)
	got, err := c.RetrieveAuditDetails(context.Background(), append(ids, ids[0]), BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fake.batches.Load() != 3 || fake.gets.Load() != 0 || len(got) != 2500 {
		t.Fatalf("%d batches, %d GETs, %d results; want 3, 0, 2500", fake.batches.Load(), fake.gets.Load(), len(got))
	}
	checkRevenueChanges(t, got, index)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	sizes := append([]int(nil), fake.sizes...)
	sort.Ints(sizes)
	if fmt.Sprint(sizes) != "[500 1000 1000]" {
		t.Errorf("batch sizes %v", sizes)
	}
	for _, h := range fake.headers {
		if h.Get("Prefer") != "odata.continue-on-error" || !strings.HasPrefix(h.Get("Content-Type"), "multipart/mixed;boundary=batch_") {
			t.Errorf("headers %v", h)
		}
	}
}

func TestRetrieveAuditDetailsConcurrency(t *testing.T) {
	t.Parallel()
	ids, index := auditIDs(1000)
	fake := &batchFake{t: t, index: index, delay: 20 * time.Millisecond}
	c, _, _ := newTestServer(t, fake.ServeHTTP)
	got, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{BatchSize: 100, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1000 || fake.batches.Load() != 10 {
		t.Fatalf("%d results in %d batches", len(got), fake.batches.Load())
	}
	if m := fake.maxSeen.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d batches in flight, want 3 (at least 2)", m)
	}
	t.Logf("max in flight %d", fake.maxSeen.Load())
}

func TestRetrieveAuditDetailsFailedPart(t *testing.T) {
	t.Parallel()
	ids, index := auditIDs(10)
	for _, naive := range []bool{false, true} {
		t.Run(fmt.Sprintf("naive=%v", naive), func(t *testing.T) {
			t.Parallel()
			fake := &batchFake{t: t, index: index, missing: map[string]bool{ids[3]: true, ids[7]: true}}
			c, _, _ := newTestServer(t, fake.ServeHTTP)
			var failed []string
			got, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{Naive: naive, OnPartError: func(id string, err error) {
				if !IsNotFound(err) {
					t.Errorf("%s: %v is not a 404", id, err)
				}
				failed = append(failed, id)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 8 || fmt.Sprint(failed) != fmt.Sprint([]string{ids[3], ids[7]}) {
				t.Errorf("%d results, failed %v", len(got), failed)
			}
			if _, ok := got[ids[3]]; ok {
				t.Error("a failed id has a key")
			}
			checkRevenueChanges(t, got, index)
			wantBatches, wantGets := int64(1), int64(0)
			if naive {
				wantBatches, wantGets = 0, 10
			}
			if fake.batches.Load() != wantBatches || fake.gets.Load() != wantGets {
				t.Errorf("%d batches, %d GETs", fake.batches.Load(), fake.gets.Load())
			}
		})
	}
}

func TestRetrieveAuditDetailsMissingParts(t *testing.T) {
	t.Parallel()
	ids, index := auditIDs(5)
	fake := &batchFake{t: t, index: index, dropLast: true}
	c, _, _ := newTestServer(t, fake.ServeHTTP)
	var failed []error
	got, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{OnPartError: func(id string, err error) {
		failed = append(failed, err)
	}})
	if err != nil || len(got) != 4 || len(failed) != 1 || !strings.Contains(failed[0].Error(), "no answer") {
		t.Errorf("%d results, err %v, failed %v", len(got), err, failed)
	}
}

func TestRetrieveAuditDetailsFailedBatch(t *testing.T) {
	t.Parallel()
	ids, _ := auditIDs(2500)
	var n atomic.Int64
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // an unread body makes net/http wait 500 ms before closing
		writeJSON(w, http.StatusForbidden, odataErr("0x80040220", "missing prvReadAuditSummary"))
	})
	got, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{Concurrency: 1})
	if !IsForbidden(err) || got != nil {
		t.Fatalf("got %d results, err %v", len(got), err)
	}
	if n.Load() != 1 {
		t.Errorf("%d batch requests: the others should not start after a failure", n.Load())
	}
}

func TestRetrieveAuditDetailsRetriesTheBatch(t *testing.T) {
	t.Parallel()
	ids, index := auditIDs(3)
	fake := &batchFake{t: t, index: index}
	var n atomic.Int64
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "0")
			writeJSON(w, http.StatusTooManyRequests, odataErr("0x80072322", "Number of requests exceeded the limit"))
			return
		}
		fake.ServeHTTP(w, r)
	}, fastRetries)
	got, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{})
	if err != nil || len(got) != 3 || n.Load() != 2 {
		t.Fatalf("%d results, %d requests, err %v", len(got), n.Load(), err)
	}
	checkRevenueChanges(t, got, index)
}

func TestRetrieveAuditDetailsBadArguments(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected request") })
	if _, err := c.RetrieveAuditDetails(context.Background(), []string{"x"}, BatchOptions{}); err == nil {
		t.Error("bad id accepted")
	}
	if _, err := c.RetrieveAuditDetails(context.Background(), []string{auditID(1)}, BatchOptions{BatchSize: 1001}); err == nil {
		t.Error("batch size 1001 accepted")
	}
	got, err := c.RetrieveAuditDetails(context.Background(), nil, BatchOptions{})
	if err != nil || len(got) != 0 {
		t.Errorf("no ids: %v %v", got, err)
	}
}
