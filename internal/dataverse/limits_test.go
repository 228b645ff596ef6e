package dataverse

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

// streamAuditsTooLarge streams an audits page from answer and wants the read
// refused with *msapi.ResponseTooLargeError, which it returns.
func streamAuditsTooLarge(t *testing.T, answer *msapitest.Endless) error {
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
	answer := &msapitest.Endless{
		ContentType: "application/json; odata.metadata=minimal",
		Head:        `{"@odata.context":"x","value":[{"auditid":"`,
		Repeat:      "0",
	}
	start := time.Now()
	err := streamAuditsTooLarge(t, answer)
	for _, want := range []string{"Dataverse GET audits:", "one JSON value", "16 MiB", "page 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	msapitest.CheckStoppedSoon(t, start, answer.Written.Load(), msapi.MaxJSONValueBytes)
}

// A giant value in a member the decoder skips is capped too.
func TestStreamAuditsGiantSkippedValueIsCapped(t *testing.T) {
	t.Parallel()
	answer := &msapitest.Endless{
		ContentType: "application/json",
		Head:        `{"@odata.context":"`, Repeat: "x",
	}
	start := time.Now()
	_ = streamAuditsTooLarge(t, answer) // the error type is what this test checks
	msapitest.CheckStoppedSoon(t, start, answer.Written.Load(), msapi.MaxJSONValueBytes)
}

// A $batch answer with endless parts stops at the first part beyond one per
// request sent, long before the body limit.
func TestRetrieveAuditDetailsEndlessPartsAreCapped(t *testing.T) {
	t.Parallel()
	const part = "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\n\r\n" +
		`{"AuditDetail":null}` + "\r\n"
	answer := &msapitest.Endless{ContentType: "multipart/mixed; boundary=batchresponse_1", Repeat: part}
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
	msapitest.CheckStoppedSoon(t, start, answer.Written.Load(), 0)
}

// The $batch answer as a whole is capped at the client's MaxResponseBytes.
func TestRetrieveAuditDetailsHugeAnswerIsCapped(t *testing.T) {
	t.Parallel()
	// One part whose body never ends: within the part's own 64 MiB cap, over
	// the 8 MiB the client allows for an answer.
	answer := &msapitest.Endless{
		ContentType: "multipart/mixed; boundary=batchresponse_1",
		Head: "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
		Repeat: " ",
	}
	c, _, _ := newTestServer(t, answer.ServeHTTP, func(cfg *Config) { cfg.MaxResponseBytes = 8 << 20 })
	ids, _ := auditIDs(5)
	start := time.Now()
	_, err := c.RetrieveAuditDetails(context.Background(), ids, BatchOptions{})
	var tooLarge *msapi.ResponseTooLargeError
	if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "Dataverse POST $batch:") || !strings.Contains(err.Error(), "8 MiB") {
		t.Fatalf("want *msapi.ResponseTooLargeError naming POST $batch and 8 MiB, got %T %v", err, err)
	}
	msapitest.CheckStoppedSoon(t, start, answer.Written.Load(), 8<<20)
}
