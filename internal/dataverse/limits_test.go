package dataverse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// endlessAnswer is a misbehaving server's 200 answer: head, then repeat
// again and again until total bytes were written or the client went away.
// It is generated as it is sent, so the test itself uses little memory.
type endlessAnswer struct {
	contentType string
	head        string
	repeat      string
	total       int64
	written     atomic.Int64
}

// endlessTotal is what a misbehaving server offers: far more than any limit.
const endlessTotal = 4 << 30

func (e *endlessAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", e.contentType)
	w.WriteHeader(http.StatusOK)
	chunk := bytes.Repeat([]byte(e.repeat), max(1, (32<<10)/len(e.repeat)))
	n, err := io.WriteString(w, e.head)
	e.written.Add(int64(n))
	for err == nil && e.written.Load() < e.total {
		n, err = w.Write(chunk)
		e.written.Add(int64(n))
	}
}

// checkStoppedSoon checks that the client stopped reading soon after limit
// bytes (socket and TLS buffers hold some more) and failed within seconds.
func checkStoppedSoon(t *testing.T, start time.Time, written, limit int64) {
	t.Helper()
	if written > limit+32<<20 {
		t.Errorf("the server wrote %d bytes before the client stopped (limit %d)", written, limit)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the error came after %s", d)
	}
}

// streamAuditsTooLarge streams an audits page from answer and wants the read
// refused with *msapi.ResponseTooLargeError, which it returns.
func streamAuditsTooLarge(t *testing.T, answer *endlessAnswer) error {
	t.Helper()
	c, _, _ := newTestServer(t, answer.ServeHTTP)
	_, _, err := c.StreamAudits(context.Background(), AuditQuery{Limit: 10}, func(AuditRecord) error { return nil })
	var tooLarge *msapi.ResponseTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("want *msapi.ResponseTooLargeError, got %T %v", err, err)
	}
	return err
}

// One giant JSON value inside a streamed audits page (here an auditid that
// never ends) stops the read at msapi.MaxJSONValueBytes with an error that
// names the request and the limit.
func TestStreamAuditsGiantValueIsCapped(t *testing.T) {
	t.Parallel()
	answer := &endlessAnswer{
		contentType: "application/json; odata.metadata=minimal",
		head:        `{"@odata.context":"x","value":[{"auditid":"`,
		repeat:      "0", total: endlessTotal,
	}
	start := time.Now()
	err := streamAuditsTooLarge(t, answer)
	for _, want := range []string{"Dataverse GET audits:", "one JSON value", "16 MiB", "page 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	checkStoppedSoon(t, start, answer.written.Load(), msapi.MaxJSONValueBytes)
}

// A giant value in a member the decoder skips is capped too.
func TestStreamAuditsGiantSkippedValueIsCapped(t *testing.T) {
	t.Parallel()
	answer := &endlessAnswer{
		contentType: "application/json",
		head:        `{"@odata.context":"`, repeat: "x", total: endlessTotal,
	}
	start := time.Now()
	_ = streamAuditsTooLarge(t, answer) // the error type is what this test checks
	checkStoppedSoon(t, start, answer.written.Load(), msapi.MaxJSONValueBytes)
}

// A $batch answer with endless parts stops at the first part beyond one per
// request sent, long before the body limit.
func TestRetrieveAuditDetailsEndlessPartsAreCapped(t *testing.T) {
	t.Parallel()
	const part = "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\n\r\n" +
		`{"AuditDetail":null}` + "\r\n"
	answer := &endlessAnswer{contentType: "multipart/mixed; boundary=batchresponse_1", repeat: part, total: endlessTotal}
	c, _, _ := newTestServer(t, answer.ServeHTTP)
	ids, _ := auditIDs(5)
	start := time.Now()
	got, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{})
	if err == nil || got != nil {
		t.Fatalf("got %d results, err %v", len(got), err)
	}
	if !strings.Contains(err.Error(), "POST $batch") || !strings.Contains(err.Error(), "more parts than the 5 requests sent") {
		t.Errorf("error %q does not name the request and the limit", err)
	}
	checkStoppedSoon(t, start, answer.written.Load(), 0)
}

// The $batch answer as a whole is capped at the client's MaxResponseBytes.
func TestRetrieveAuditDetailsHugeAnswerIsCapped(t *testing.T) {
	t.Parallel()
	// One part whose body never ends: within the part's own 64 MiB cap, over
	// the 8 MiB the client allows for an answer.
	answer := &endlessAnswer{
		contentType: "multipart/mixed; boundary=batchresponse_1",
		head: "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
		repeat: " ", total: endlessTotal,
	}
	c, _, _ := newTestServer(t, answer.ServeHTTP, func(cfg *Config) { cfg.MaxResponseBytes = 8 << 20 })
	ids, _ := auditIDs(5)
	start := time.Now()
	_, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{})
	var tooLarge *msapi.ResponseTooLargeError
	if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "Dataverse POST $batch:") || !strings.Contains(err.Error(), "8 MiB") {
		t.Fatalf("want *msapi.ResponseTooLargeError naming POST $batch and 8 MiB, got %T %v", err, err)
	}
	checkStoppedSoon(t, start, answer.written.Load(), 8<<20)
}
