package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

// One audit log record whose auditData never ends stops the read at
// msapi.MaxJSONValueBytes, with an error that names the request; the server
// offers 4 GiB, generated as it is sent.
func TestListRecordsGiantRecordIsCapped(t *testing.T) {
	t.Parallel()
	answer := &msapitest.Endless{Head: `{"value":[{"id":"rec-1","auditData":{"EntityName":"`, Repeat: "a"}
	c, _, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) { answer.ServeHTTP(w, r) })
	start := time.Now()
	_, _, err := c.ListRecords(context.Background(), queryID, 0, func(Record) error { return nil })
	var tooLarge *msapi.ResponseTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("want *msapi.ResponseTooLargeError, got %T %v", err, err)
	}
	for _, want := range []string{"Microsoft Graph GET security/auditLog/queries/" + queryID + "/records:", "16 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	msapitest.CheckStoppedSoon(t, start, answer.Written.Load(), msapi.MaxJSONValueBytes)
}

// A query status the client does not know is shown as sent, without
// terminal controls or bidirectional overrides.
func TestUnknownQueryStatusIsCleaned(t *testing.T) {
	t.Parallel()
	c, _, _ := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
		writeJSON(w, http.StatusOK, queryBody(queryID, "pend\x1b[8ming\u202E"))
	})
	q, err := c.GetQuery(context.Background(), queryID)
	if err != nil {
		t.Fatal(err)
	}
	if q.Status != "pend[8ming" {
		t.Errorf("Status = %q", q.Status)
	}
}
