package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Record is one audit log record (auditLogRecord).
type Record struct {
	ID              string
	CreatedDateTime time.Time // zero when missing or unreadable
	// RecordType is auditLogRecordType ("crm" for Dynamics 365).
	RecordType        string
	Operation         string
	Service           string
	UserID            string
	UserPrincipalName string
	UserType          string
	ObjectID          string
	ClientIP          string
	OrganizationID    string
	// AuditData is the service-specific JSON, byte for byte as received
	// (nil when the record has none).
	AuditData json.RawMessage
}

// wireRecord is the auditLogRecord entity, leniently typed.
type wireRecord struct {
	ID                 flexString      `json:"id"`
	CreatedDateTime    flexString      `json:"createdDateTime"`
	AuditLogRecordType flexString      `json:"auditLogRecordType"`
	Operation          flexString      `json:"operation"`
	Service            flexString      `json:"service"`
	UserID             flexString      `json:"userId"`
	UserPrincipalName  flexString      `json:"userPrincipalName"`
	UserType           flexString      `json:"userType"`
	ObjectID           flexString      `json:"objectId"`
	ClientIP           flexString      `json:"clientIp"`
	OrganizationID     flexString      `json:"organizationId"`
	AuditData          json.RawMessage `json:"auditData"`
}

func (w *wireRecord) record() Record {
	return Record{
		ID:                string(w.ID),
		CreatedDateTime:   parseTime(string(w.CreatedDateTime)),
		RecordType:        string(w.AuditLogRecordType),
		Operation:         string(w.Operation),
		Service:           string(w.Service),
		UserID:            string(w.UserID),
		UserPrincipalName: string(w.UserPrincipalName),
		UserType:          string(w.UserType),
		ObjectID:          string(w.ObjectID),
		ClientIP:          string(w.ClientIP),
		OrganizationID:    string(w.OrganizationID),
		AuditData:         w.AuditData,
	}
}

// errLimitReached stops reading a page that holds more records than wanted.
var errLimitReached = errors.New("record limit reached")

// callbackError carries the caller's error through the page decoder, so it
// is returned as is.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// ListRecords reads the records of a succeeded query (GET
// …/queries/{id}/records), following @odata.nextLink, and calls fn for each
// in order. Pages are decoded as a stream, one record at a time. With
// limit > 0 it stops after limit records: truncated reports that more
// existed (another record in the page, or a next page); no further page is
// requested. limit <= 0 reads everything. pages is the number of page
// requests made. An error from fn stops the listing and is returned as is.
//
// Config.PageSize, when set, is sent as $top (lowered to limit when smaller).
// A page that fails mid-stream is not retried: records already passed to fn
// would be passed again.
func (c *Client) ListRecords(ctx context.Context, id string, limit int, fn func(Record) error) (truncated bool, pages int, err error) {
	if fn == nil {
		return false, 0, errors.New("microsoft graph: listing audit log records: no record function")
	}
	p, err := queryPath(id)
	if err != nil {
		return false, 0, fmt.Errorf("microsoft graph: listing audit log records: %w", err)
	}
	what := "reading the records of audit log query " + id
	var query url.Values
	if top := c.pageSize; top > 0 {
		if limit > 0 && limit < top {
			top = limit
		}
		query = url.Values{"$top": {strconv.Itoa(top)}}
	}
	next := p + "/records"
	requested := map[string]bool{}
	count := 0
	for {
		if err := ctx.Err(); err != nil {
			return false, pages, fmt.Errorf("microsoft graph: %s: %w", what, err)
		}
		pages++
		var page pageState
		_, err := c.api.DoStream(ctx, &msapi.Request{Method: http.MethodGet, Path: next, Query: query},
			func(body io.Reader) error {
				return decodePage(body, &page, func(r Record) (bool, error) {
					if limit > 0 && count >= limit {
						return false, nil
					}
					count++
					return true, fn(r)
				})
			})
		var cbErr *callbackError
		var tooLarge *msapi.ResponseTooLargeError
		switch {
		case errors.Is(err, errLimitReached):
			return true, pages, nil
		case errors.As(err, &cbErr):
			return false, pages, cbErr.err
		case errors.As(err, &tooLarge):
			// It names the request and the limit: the decoder's context adds nothing.
			return false, pages, fmt.Errorf("microsoft graph: %s: page %d: %w", what, pages, tooLarge)
		case err != nil:
			var te *msapi.TransportError
			if _, ok := msapi.AsError(err); ok || errors.As(err, &te) {
				return false, pages, wrap(what, err, aboutOneQuery)
			}
			return false, pages, fmt.Errorf("microsoft graph: %s: page %d: %w", what, pages, err)
		}
		if page.nextLink == "" {
			return false, pages, nil
		}
		if limit > 0 && count >= limit {
			return true, pages, nil
		}
		requested[next] = true
		next = page.nextLink
		if strings.HasPrefix(next, "/") {
			next = c.GraphURL() + next
		}
		if requested[next] {
			return false, pages, fmt.Errorf("microsoft graph: %s: page %d links back to a page already read (%s)", what, pages, next)
		}
		query = nil // the next link carries its own query
	}
}

// pageState is what a page says besides its records.
type pageState struct {
	nextLink string
}

// decodePage reads one page ({"value":[…],"@odata.nextLink":"…"}, keys in
// any order) from body, each record and member value capped at
// msapi.MaxJSONValueBytes. take is called for each record: it returns false
// when no more records are wanted (the page then ends with
// errLimitReached), or an error from the caller (wrapped in callbackError).
func decodePage(body io.Reader, page *pageState, take func(Record) (bool, error)) error {
	dec := msapi.NewStreamDecoder(body)
	if err := expectDelim(dec, '{'); err != nil {
		return fmt.Errorf("decoding page: %w", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decoding page: %w", err)
		}
		key, _ := tok.(string)
		switch {
		case key == "value":
			if err := decodeRecords(dec, take); err != nil {
				return err
			}
		case strings.EqualFold(key, "@odata.nextLink"):
			var link *string
			if err := dec.Decode(&link); err != nil {
				return fmt.Errorf("decoding page: @odata.nextLink: %w", err)
			}
			if link != nil {
				page.nextLink = strings.TrimSpace(*link)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("decoding page: %s: %w", key, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("decoding page: %w", err)
	}
	return nil
}

// decodeRecords reads the "value" array one record at a time.
func decodeRecords(dec *msapi.StreamDecoder, take func(Record) (bool, error)) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("decoding page: value: %w", err)
	}
	if tok == nil { // "value": null
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("decoding page: value is %v, not an array", tok)
	}
	for i := 0; dec.More(); i++ {
		var w *wireRecord
		if err := dec.Decode(&w); err != nil {
			return fmt.Errorf("decoding page: record %d: %w", i, err)
		}
		if w == nil {
			continue
		}
		ok, err := take(w.record())
		if !ok {
			return errLimitReached
		}
		if err != nil {
			return &callbackError{err: err}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return fmt.Errorf("decoding page: value: %w", err)
	}
	return nil
}

func expectDelim(dec *msapi.StreamDecoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// nilGUID never names a record.
const nilGUID = "00000000-0000-0000-0000-000000000000"

// EntityOf returns the Dynamics 365 table (EntityName) and record
// (EntityId) named in a record's auditData. Keys match case-insensitively
// (an exact match wins); a value that is absent, null, not text or the nil
// GUID gives "". auditData sent as a JSON string holding the object is
// unwrapped.
func EntityOf(auditData json.RawMessage) (table, recordID string) {
	data := bytes.TrimSpace(auditData)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if json.Unmarshal(data, &s) != nil {
			return "", ""
		}
		data = bytes.TrimSpace([]byte(s))
	}
	if len(data) == 0 || data[0] != '{' {
		return "", ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return "", ""
	}
	table = lookupText(m, "EntityName")
	recordID = lookupText(m, "EntityId")
	if strings.EqualFold(strings.Trim(recordID, "{}"), nilGUID) {
		recordID = ""
	}
	return table, recordID
}

// lookupText returns the text of key in m, matched exactly or else
// case-insensitively (the first such key in sorted order).
func lookupText(m map[string]json.RawMessage, key string) string {
	raw, ok := m[key]
	if !ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			if strings.EqualFold(k, key) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return ""
		}
		sort.Strings(keys)
		raw = m[keys[0]]
	}
	var s flexString
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(string(s))
}
