package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// auditSelect is the $select of every audit trail read.
const auditSelect = "auditid,createdon,action,operation,objecttypecode,_objectid_value,_userid_value,_callinguserid_value,transactionid"

// AuditRecord is one row of the audit trail.
type AuditRecord struct {
	ID        string // auditid
	CreatedOn time.Time
	Action    int
	// ActionLabel is the action's FormattedValue annotation, "" if absent.
	ActionLabel       string
	Operation         int
	EntityLogicalName string // objecttypecode
	RecordID          string // _objectid_value
	UserID            string // _userid_value
	UserName          string // _userid_value's FormattedValue, "" if absent
	CallingUserID     string // _callinguserid_value (impersonation), "" if none
	TransactionID     string
}

// auditRowWire is an audits row as sent. It is decoded one row at a time
// into the same variable, so it is reset before each row.
type auditRowWire struct {
	AuditID        string    `json:"auditid"`
	CreatedOn      time.Time `json:"createdon"`
	Action         int       `json:"action"`
	ActionLabel    string    `json:"action@OData.Community.Display.V1.FormattedValue"`
	Operation      int       `json:"operation"`
	ObjectTypeCode string    `json:"objecttypecode"`
	ObjectID       string    `json:"_objectid_value"`
	UserID         string    `json:"_userid_value"`
	UserName       string    `json:"_userid_value@OData.Community.Display.V1.FormattedValue"`
	CallingUserID  string    `json:"_callinguserid_value"`
	TransactionID  string    `json:"transactionid"`
}

func (w *auditRowWire) record() AuditRecord {
	return AuditRecord{
		ID:                w.AuditID,
		CreatedOn:         w.CreatedOn.UTC(),
		Action:            w.Action,
		ActionLabel:       w.ActionLabel,
		Operation:         w.Operation,
		EntityLogicalName: w.ObjectTypeCode,
		RecordID:          w.ObjectID,
		UserID:            w.UserID,
		UserName:          w.UserName,
		CallingUserID:     w.CallingUserID,
		TransactionID:     w.TransactionID,
	}
}

// StreamAudits reads the audit trail newest first ($orderby=createdon desc)
// and calls fn for each row, at most q.Limit times, following
// @odata.nextLink. Each page is decoded from the live response body one row
// at a time, so memory does not grow with the page or the row count.
//
// truncated reports that more rows matched than were delivered: a further
// row in the page or a next link after the Limit-th row (the page is then
// closed unread and no further page is requested). pages counts the page
// requests made. An error from fn stops the read and is returned as is.
func (c *Client) StreamAudits(ctx context.Context, q AuditQuery, fn func(AuditRecord) error) (truncated bool, pages int, err error) {
	if fn == nil {
		return false, 0, errors.New("dataverse: StreamAudits needs a row function")
	}
	if q.Limit <= 0 {
		return false, 0, fmt.Errorf("dataverse: audit query: limit must be greater than 0, got %d", q.Limit)
	}
	filter, err := BuildAuditFilter(q)
	if err != nil {
		return false, 0, err
	}
	pageSize := q.PageSize
	if pageSize <= 0 {
		pageSize = min(q.Limit, MaxAuditPageSize)
	}
	pageSize = min(pageSize, MaxAuditPageSize)

	query := url.Values{"$select": {auditSelect}, "$orderby": {"createdon desc"}}
	if filter != "" {
		query.Set("$filter", filter)
	}
	// The Prefer header goes with every page: the next link does not carry it.
	header := http.Header{"Prefer": {fmt.Sprintf(`odata.maxpagesize=%d,odata.include-annotations="OData.Community.Display.V1.FormattedValue"`, pageSize)}}

	path, delivered := "audits", 0
	for {
		pages++
		var (
			next           string
			more           bool
			decErr, fnErr  error
			remainingLimit = q.Limit - delivered
		)
		_, err := c.DoStream(ctx, &Request{Method: http.MethodGet, Path: path, Query: query, Header: header}, func(body io.Reader) error {
			next, more, decErr = decodeAuditPage(body, remainingLimit, func(w *auditRowWire) error {
				delivered++
				if err := fn(w.record()); err != nil {
					fnErr = err
					return err
				}
				return nil
			})
			return decErr
		})
		var tooLarge *msapi.ResponseTooLargeError
		switch {
		case fnErr != nil:
			return false, pages, fnErr
		case errors.As(err, &tooLarge):
			// It names the request and the limit: no need for the decoder's context.
			return false, pages, fmt.Errorf("dataverse: reading page %d of the audit trail: %w", pages, tooLarge)
		case err != nil && errors.Is(err, decErr):
			return false, pages, fmt.Errorf("dataverse: GET audits: reading page %d: %w", pages, err)
		case err != nil:
			return false, pages, err
		case more:
			return true, pages, nil
		case next == "":
			return false, pages, nil
		case delivered >= q.Limit:
			return true, pages, nil
		case next == path:
			return false, pages, fmt.Errorf("dataverse: GET audits: page %d links to itself as the next page", pages)
		}
		path, query = next, nil
	}
}

// decodeAuditPage reads one page ({"value":[rows…],"@odata.nextLink":…}, in
// any member order) token by token, handing each row to deliver; each
// token and row is capped at msapi.MaxJSONValueBytes. After
// remaining rows it stops reading: more then reports a further row in the
// page. When the rows end within remaining, the rest of the page is read for
// the next link.
func decodeAuditPage(r io.Reader, remaining int, deliver func(*auditRowWire) error) (next string, more bool, err error) {
	dec := msapi.NewStreamDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return "", false, err
	}
	sawValue := false
	var row auditRowWire
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return "", false, err
		}
		switch key {
		case "value":
			sawValue = true
			if err := expectDelim(dec, '['); err != nil {
				return "", false, fmt.Errorf("value: %w", err)
			}
			for dec.More() {
				if remaining <= 0 {
					return next, true, nil
				}
				row = auditRowWire{}
				if err := dec.Decode(&row); err != nil {
					return "", false, fmt.Errorf("value row: %w", err)
				}
				if err := deliver(&row); err != nil {
					return "", false, err
				}
				remaining--
			}
			if err := expectDelim(dec, ']'); err != nil {
				return "", false, err
			}
		case "@odata.nextLink":
			if err := dec.Decode(&next); err != nil {
				return "", false, fmt.Errorf("@odata.nextLink: %w", err)
			}
		default:
			if err := skipJSONValue(dec); err != nil {
				return "", false, err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return "", false, err
	}
	if !sawValue {
		return "", false, errors.New(`the answer has no "value" array`)
	}
	return next, false, nil
}

// expectDelim reads the next token and checks that it is the delimiter d.
func expectDelim(dec *msapi.StreamDecoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("expected %q, got %v", string(d), tok)
	}
	return nil
}

// objectKey reads an object member's name.
func objectKey(dec *msapi.StreamDecoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("expected an object key, got %v", tok)
	}
	return key, nil
}

// skipJSONValue reads past one value without keeping it.
func skipJSONValue(dec *msapi.StreamDecoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
