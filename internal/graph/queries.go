package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// queriesPath is the audit log query collection, relative to the version.
const queriesPath = "security/auditLog/queries"

// auditLogQueryType is the @odata.type of a new query.
const auditLogQueryType = "#microsoft.graph.security.auditLogQuery"

// RecordTypeCRM is the audit log record type of Dynamics 365.
const RecordTypeCRM = "crm"

// DefaultDisplayName names a query created without a DisplayName.
const DefaultDisplayName = "terraform-provider-dynamics365 audit search"

// Query statuses (auditLogQueryStatus).
const (
	StatusNotStarted = "notStarted"
	StatusRunning    = "running"
	StatusSucceeded  = "succeeded"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
)

// Poll defaults for WaitForQuery.
const (
	DefaultPollMin = 2 * time.Second
	DefaultPollMax = 30 * time.Second
)

// QueryRequest describes a new audit log query. Empty filters are left out.
type QueryRequest struct {
	// DisplayName shows in the Purview portal; "" means DefaultDisplayName.
	DisplayName string
	// From and To bound the records' creation time (filterStartDateTime,
	// filterEndDateTime); both are required and From must be before To.
	From, To time.Time
	// RecordTypes defaults to ["crm"] (Dynamics 365).
	RecordTypes        []string
	Operations         []string
	UserPrincipalNames []string
	ObjectIDs          []string
	IPAddresses        []string
	Keyword            string
}

// Query is an audit log query as Graph reports it.
type Query struct {
	ID          string
	DisplayName string
	// Status is one of the Status constants (or a value this client does
	// not know yet, kept as sent).
	Status   string
	From, To time.Time
	// The record-count properties v1.0 documents (beta does not): nil where
	// the answer does not carry them. ApproximateRecordCount may be above
	// or below RecordCountLimit ("distributed counting");
	// RecordCountLimitExceeded is authoritative.
	ApproximateRecordCount   *int64
	RecordCountLimitExceeded *bool
	RecordCountLimit         *int64
}

// createQueryBody is the POST body; field order is the wire order.
type createQueryBody struct {
	ODataType                string   `json:"@odata.type"`
	DisplayName              string   `json:"displayName"`
	FilterStartDateTime      string   `json:"filterStartDateTime"`
	FilterEndDateTime        string   `json:"filterEndDateTime"`
	RecordTypeFilters        []string `json:"recordTypeFilters"`
	OperationFilters         []string `json:"operationFilters,omitempty"`
	UserPrincipalNameFilters []string `json:"userPrincipalNameFilters,omitempty"`
	ObjectIDFilters          []string `json:"objectIdFilters,omitempty"`
	IPAddressFilters         []string `json:"ipAddressFilters,omitempty"`
	KeywordFilter            string   `json:"keywordFilter,omitempty"`
}

// wireQuery is the auditLogQuery entity, leniently typed. Value holds the
// entity where an answer wraps it in "value", as the example of "Get
// auditLogQuery" shows.
type wireQuery struct {
	ID                             flexString `json:"id"`
	DisplayName                    flexString `json:"displayName"`
	Status                         flexString `json:"status"`
	FilterStartDateTime            flexString `json:"filterStartDateTime"`
	FilterEndDateTime              flexString `json:"filterEndDateTime"`
	ApproximateReturnedRecordCount flexString `json:"approximateReturnedRecordCount"`
	IsRecordCountLimitExceeded     flexString `json:"isRecordCountLimitExceeded"`
	RecordCountLimit               flexString `json:"recordCountLimit"`
	Value                          *wireQuery `json:"value"`
}

func (w *wireQuery) query() *Query {
	if w.ID == "" && w.Value != nil {
		w = w.Value
	}
	return &Query{
		ID:                       string(w.ID),
		DisplayName:              string(w.DisplayName),
		Status:                   canonicalStatus(string(w.Status)),
		From:                     parseTime(string(w.FilterStartDateTime)),
		To:                       parseTime(string(w.FilterEndDateTime)),
		ApproximateRecordCount:   parseCount(string(w.ApproximateReturnedRecordCount)),
		RecordCountLimitExceeded: parseFlag(string(w.IsRecordCountLimitExceeded)),
		RecordCountLimit:         parseCount(string(w.RecordCountLimit)),
	}
}

// parseCount reads an Int64 sent as a number or, with IEEE754Compatible,
// as a string; absent, null or unreadable is nil.
func parseCount(s string) *int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// parseFlag reads a Boolean; absent, null or unreadable is nil.
func parseFlag(s string) *bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	return &b
}

// canonicalStatus returns a known status in its documented spelling.
func canonicalStatus(s string) string {
	for _, known := range []string{StatusNotStarted, StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled} {
		if strings.EqualFold(s, known) {
			return known
		}
	}
	if strings.EqualFold(s, "canceled") {
		return StatusCancelled
	}
	// An unknown status is shown in diagnostics as the server sent it.
	return msapi.SanitizeServerText(s)
}

// formatTime writes t as RFC 3339 in UTC, with fractional seconds only when set.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTime reads an RFC 3339 timestamp, or one without a zone (taken as
// UTC); anything else is the zero time.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// cleanList trims values and drops empty ones.
func cleanList(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// CreateQuery starts an audit log query (POST {version}/security/auditLog/queries).
// Graph answers 201 with the query, usually in status notStarted.
//
// Note that the transport retries a POST answered with 429 or 5xx, like any
// call: after a 5xx the service may have created a query that is then never
// read (queries are not billed, but count against the daily submission limit).
func (c *Client) CreateQuery(ctx context.Context, r QueryRequest) (*Query, error) {
	if r.From.IsZero() || r.To.IsZero() {
		return nil, errors.New("microsoft graph: creating audit log query: the time window needs both a start and an end")
	}
	if !r.From.Before(r.To) {
		return nil, fmt.Errorf("microsoft graph: creating audit log query: the time window starts at %s, not before its end %s",
			formatTime(r.From), formatTime(r.To))
	}
	body := createQueryBody{
		ODataType:                auditLogQueryType,
		DisplayName:              strings.TrimSpace(r.DisplayName),
		FilterStartDateTime:      formatTime(r.From),
		FilterEndDateTime:        formatTime(r.To),
		RecordTypeFilters:        cleanList(r.RecordTypes),
		OperationFilters:         cleanList(r.Operations),
		UserPrincipalNameFilters: cleanList(r.UserPrincipalNames),
		ObjectIDFilters:          cleanList(r.ObjectIDs),
		IPAddressFilters:         cleanList(r.IPAddresses),
		KeywordFilter:            strings.TrimSpace(r.Keyword),
	}
	if body.DisplayName == "" {
		body.DisplayName = DefaultDisplayName
	}
	if len(body.RecordTypeFilters) == 0 {
		body.RecordTypeFilters = []string{RecordTypeCRM}
	}
	var w wireQuery
	resp, err := c.do(ctx, "creating audit log query", aboutQueries, &msapi.Request{
		Method: http.MethodPost,
		Path:   queriesPath,
		Body:   body,
		Out:    &w,
	})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("microsoft graph: creating audit log query: unexpected HTTP %d (expected 201 Created)", resp.StatusCode)
	}
	q := w.query()
	if q.ID == "" {
		return nil, fmt.Errorf("microsoft graph: creating audit log query: the answer (HTTP %d) carries no query id", resp.StatusCode)
	}
	if err := ValidateQueryID(q.ID); err != nil {
		return nil, fmt.Errorf("microsoft graph: creating audit log query: the answer carries an unusable id: %w", err)
	}
	return q, nil
}

// ValidateQueryID checks that id can name a query in a URL path: not empty,
// no spaces or control characters, no "/", "\", "?", "#", "%", and not "."
// or "..". Graph's ids are GUIDs.
func ValidateQueryID(id string) error {
	switch {
	case id == "":
		return errors.New("the audit log query id is empty")
	case len(id) > 256:
		return fmt.Errorf("the audit log query id is %d characters long; expected a GUID", len(id))
	case id == "." || id == "..":
		return fmt.Errorf("%q is not an audit log query id", id)
	case strings.ContainsAny(id, "/\\?#%"), strings.ContainsFunc(id, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}):
		return fmt.Errorf("audit log query id %q contains characters an id cannot have (expected a GUID)", id)
	}
	return nil
}

// queryPath returns queries/{id}, validated and escaped.
func queryPath(id string) (string, error) {
	if err := ValidateQueryID(id); err != nil {
		return "", err
	}
	return queriesPath + "/" + url.PathEscape(id), nil
}

// GetQuery reads a query's status (GET …/queries/{id}).
func (c *Client) GetQuery(ctx context.Context, id string) (*Query, error) {
	p, err := queryPath(id)
	if err != nil {
		return nil, fmt.Errorf("microsoft graph: getting audit log query: %w", err)
	}
	var w wireQuery
	if _, err := c.do(ctx, "getting audit log query "+id, aboutOneQuery, &msapi.Request{Method: http.MethodGet, Path: p, Out: &w}); err != nil {
		return nil, err
	}
	q := w.query()
	if q.ID == "" {
		q.ID = id
	}
	return q, nil
}

// WaitOptions tunes WaitForQuery.
type WaitOptions struct {
	// PollMin is the first wait between polls (default 2s); each next wait is
	// 1.5 to 2 times the last (random), capped at PollMax (default 30s), and
	// never below PollMin.
	PollMin, PollMax time.Duration
	// OnProgress, when set, is called after each successful poll.
	OnProgress func(status string, polls int, elapsed time.Duration)
	// Sleep waits d or until ctx ends (returning ctx's error); nil means
	// msapi.Sleep, a real timer. Tests inject one.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of Elapsed and OnProgress; nil means time.Now. Tests
	// inject one that their Sleep advances.
	Now func() time.Time
}

// QueryFailedError is a query that ended in status failed or cancelled.
type QueryFailedError struct {
	ID     string
	Status string
}

func (e *QueryFailedError) Error() string {
	what := "failed in Microsoft Purview"
	if e.Status == StatusCancelled {
		what = "was cancelled (by an administrator or by Microsoft Purview)"
	}
	return fmt.Sprintf("audit log query %s %s (status %q) and has no records to read: "+
		"create a new query (leave query_id unset, or set it to a new query's id); if queries keep failing, "+
		"narrow the time window or filters, check the query in the Purview portal (Audit > Search), and "+
		"remember the limits of about 200 queries a day and 50 queued at a time", e.ID, what, e.Status)
}

// QueryWaitError is WaitForQuery ending because its context ended (deadline
// or cancellation) before the query succeeded. The query keeps running in
// Purview: its id can be used later. errors.Is(err, context.DeadlineExceeded)
// works through it.
type QueryWaitError struct {
	ID string
	// LastStatus is the status seen at the last successful poll ("" when
	// none completed).
	LastStatus string
	Polls      int
	Elapsed    time.Duration
	// Err is the context's error.
	Err error
}

func (e *QueryWaitError) Error() string {
	status := "unknown (no poll completed)"
	if e.LastStatus != "" {
		status = e.LastStatus
	}
	why := "the wait was cancelled"
	if errors.Is(e.Err, context.DeadlineExceeded) {
		why = "the timeout was reached"
	}
	return fmt.Sprintf("audit log query %s did not finish: %s after %s and %d polls, last status %s (%v). "+
		"The query keeps running in Microsoft Purview: set query_id = %q to read its records later "+
		"instead of creating a new query, or raise the timeout (Purview queries can take many minutes)",
		e.ID, why, e.Elapsed.Round(time.Millisecond), e.Polls, status, e.Err, e.ID)
}

func (e *QueryWaitError) Unwrap() error { return e.Err }

// WaitForQuery polls the query until its status is succeeded and returns it.
// The first poll is immediate. A failed or cancelled query is a
// *QueryFailedError; the context ending is a *QueryWaitError; any other
// status (notStarted, running, unknown values) keeps polling.
func (c *Client) WaitForQuery(ctx context.Context, id string, opts WaitOptions) (*Query, error) {
	if err := ValidateQueryID(id); err != nil {
		return nil, fmt.Errorf("microsoft graph: waiting for audit log query: %w", err)
	}
	minWait, maxWait := opts.PollMin, opts.PollMax
	if minWait <= 0 {
		minWait = DefaultPollMin
	}
	if maxWait <= 0 {
		maxWait = DefaultPollMax
	}
	if maxWait < minWait {
		maxWait = minWait
	}
	sleep := opts.Sleep
	if sleep == nil {
		sleep = msapi.Sleep
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	var last string
	polls := 0
	waitErr := func(err error) error {
		return &QueryWaitError{ID: id, LastStatus: last, Polls: polls, Elapsed: now().Sub(start), Err: err}
	}
	wait := minWait
	for {
		if err := ctx.Err(); err != nil {
			return nil, waitErr(err)
		}
		q, err := c.GetQuery(ctx, id)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, waitErr(ctxErr)
			}
			if last != "" {
				return nil, fmt.Errorf("waiting for audit log query %s (last status %s after %s): %w",
					id, last, now().Sub(start).Round(time.Millisecond), err)
			}
			return nil, err
		}
		polls++
		last = q.Status
		if opts.OnProgress != nil {
			opts.OnProgress(q.Status, polls, now().Sub(start))
		}
		switch q.Status {
		case StatusSucceeded:
			return q, nil
		case StatusFailed, StatusCancelled:
			return nil, &QueryFailedError{ID: id, Status: q.Status}
		}
		if err := sleep(ctx, wait); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				err = ctxErr
			}
			return nil, waitErr(err)
		}
		wait = nextPollWait(wait, minWait, maxWait)
	}
}

// nextPollWait grows d by a random factor in [1.5, 2] (twice d, less up to
// a quarter of it), within [minWait, maxWait].
func nextPollWait(d, minWait, maxWait time.Duration) time.Duration {
	return msapi.NextPollWait(d, minWait, maxWait)
}

// flexString decodes a JSON string, number or boolean as its text, and null
// as "": Graph enums are strings, but a lenient reader costs nothing.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	t := strings.TrimSpace(string(b))
	switch {
	case t == "null":
		*f = ""
	case t == "true" || t == "false":
		*f = flexString(t)
	case len(t) > 0 && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9')):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	default:
		// Objects and arrays are not text: ignore rather than fail the record.
		*f = ""
	}
	return nil
}
