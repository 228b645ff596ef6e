package graph

import (
	"context"
	"net/http"
	"testing"
)

// The record-count properties of a v1.0 auditLogQuery are read where the
// answer carries them (as numbers, or as strings with IEEE754Compatible),
// and are nil where it does not (beta).
func TestQueryRecordCounts(t *testing.T) {
	t.Parallel()
	v1 := func(count, exceeded, limit any) map[string]any {
		b := queryBody(queryID, "succeeded")
		delete(b, "serviceFilter")
		b["serviceFilters"] = []string{}
		b["approximateReturnedRecordCount"] = count
		b["isRecordCountLimitExceeded"] = exceeded
		b["recordCountLimit"] = limit
		return b
	}
	i64 := func(n int64) *int64 { return &n }
	flag := func(b bool) *bool { return &b }
	for name, tc := range map[string]struct {
		body            any
		count, limit    *int64
		exceeded        *bool
		wantID, wantSts string
	}{
		"v1.0 exceeded":      {v1(1000123, true, 1000000), i64(1000123), i64(1000000), flag(true), queryID, StatusSucceeded},
		"v1.0 within":        {v1(12, false, 1000000), i64(12), i64(1000000), flag(false), queryID, StatusSucceeded},
		"v1.0 as strings":    {v1("12", false, "1000000"), i64(12), i64(1000000), flag(false), queryID, StatusSucceeded},
		"v1.0 count not yet": {v1(nil, false, 1000000), nil, i64(1000000), flag(false), queryID, StatusSucceeded},
		"beta":               {queryBody(queryID, "succeeded"), nil, nil, nil, queryID, StatusSucceeded},
		// The "Get auditLogQuery" example wraps the entity in "value".
		"wrapped": {map[string]any{"value": v1(3, false, 10)}, i64(3), i64(10), flag(false), queryID, StatusSucceeded},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _, _ := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
				writeJSON(w, http.StatusOK, tc.body)
			}, func(cfg *Config) { cfg.APIVersion = "v1.0" })
			q, err := c.GetQuery(context.Background(), queryID)
			if err != nil {
				t.Fatal(err)
			}
			if q.ID != tc.wantID || q.Status != tc.wantSts {
				t.Errorf("id %q status %q", q.ID, q.Status)
			}
			if !sameInt(q.ApproximateRecordCount, tc.count) || !sameInt(q.RecordCountLimit, tc.limit) || !sameBool(q.RecordCountLimitExceeded, tc.exceeded) {
				t.Errorf("counts: approximate %v, limit %v, exceeded %v", show(q.ApproximateRecordCount), show(q.RecordCountLimit), show(q.RecordCountLimitExceeded))
			}
		})
	}
}

func sameInt(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func sameBool(a, b *bool) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}
