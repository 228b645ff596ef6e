package dataverse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Defaults and limits of BatchOptions.
const (
	MaxBatchSize              = 1000 // requests in one $batch (Web API limit)
	DefaultBatchConcurrency   = 4
	retrieveAuditDetailsCall  = "/Microsoft.Dynamics.CRM.RetrieveAuditDetails()"
	maxBatchPartResponseBytes = 64 << 20 // one part's body; details are cut at ~5 KB a value
)

// BatchOptions configures RetrieveAuditDetails.
type BatchOptions struct {
	// BatchSize is the number of calls in one $batch request: at most 1000,
	// 0 means 1000.
	BatchSize int
	// Concurrency is the number of $batch requests (or, with Naive, GETs) in
	// flight at once; 0 means 4. Client-wide MaxConcurrentRequests still applies.
	Concurrency int
	// Naive sends one GET per audit row and no $batch: the benchmark baseline.
	Naive bool
	// OnPartError, when set, is called once for each audit id whose call
	// failed (a 404 for an audit row deleted since it was listed, a missing
	// privilege, …), on the calling goroutine after all requests ended, in
	// the order of the ids. The error is an *Error when the server answered
	// (IsNotFound and friends work). Without it such failures are logged.
	OnPartError func(auditID string, err error)
}

// RetrieveAuditDetails returns the changes of each audit row, keyed by the
// ids as given (duplicates are read once). The calls are
// audits(<id>)/Microsoft.Dynamics.CRM.RetrieveAuditDetails(), sent as $batch
// requests of up to BatchSize calls with Prefer: odata.continue-on-error, at
// most Concurrency batches in flight; each batch is an ordinary request of
// the client (retried as a whole on throttling and 5xx).
//
// A call that fails inside a batch is not a failure of RetrieveAuditDetails:
// its id has no key in the map and is reported to OnPartError. A batch
// request that fails (or whose answer cannot be read) fails the whole call;
// the batches still in flight are cancelled.
func (c *Client) RetrieveAuditDetails(ctx context.Context, auditIDs []string, opts BatchOptions) (map[string][]AuditChange, error) {
	size := opts.BatchSize
	switch {
	case size <= 0:
		size = MaxBatchSize
	case size > MaxBatchSize:
		return nil, fmt.Errorf("dataverse: batch size %d is over the Web API limit of %d requests", size, MaxBatchSize)
	}
	if opts.Naive {
		size = 1
	}
	concurrency := opts.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultBatchConcurrency
	}

	ids := make([]string, 0, len(auditIDs))
	seen := make(map[string]bool, len(auditIDs))
	for _, id := range auditIDs {
		if !IsGUID(id) {
			return nil, fmt.Errorf("dataverse: audit id %q is not a GUID", id)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var chunks [][]string
	for len(ids) > 0 {
		n := min(size, len(ids))
		chunks = append(chunks, ids[:n])
		ids = ids[n:]
	}

	// Each chunk writes only its own slot: no lock needed.
	results := make([][]auditDetailResult, len(chunks))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan int)
	for range min(concurrency, len(chunks)) {
		wg.Go(func() {
			for i := range work {
				var err error
				if opts.Naive {
					results[i], err = c.retrieveAuditDetailOne(runCtx, chunks[i][0])
				} else {
					results[i], err = c.retrieveAuditDetailsBatch(runCtx, chunks[i])
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range chunks {
		select {
		case work <- i:
		case <-runCtx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	out := make(map[string][]AuditChange, len(seen))
	for i, chunk := range chunks {
		for j, id := range chunk {
			r := results[i][j]
			if r.err == nil {
				out[id] = r.changes
				continue
			}
			if opts.OnPartError != nil {
				opts.OnPartError(id, r.err)
			} else {
				tflog.Warn(ctx, "Dataverse audit details could not be read", map[string]any{"audit_id": id, "error": r.err.Error()})
			}
		}
	}
	return out, nil
}

// auditDetailResult is the outcome of one RetrieveAuditDetails call.
type auditDetailResult struct {
	changes []AuditChange
	err     error
}

func auditDetailsPath(id string) string {
	return "audits(" + strings.ToLower(id) + ")" + retrieveAuditDetailsCall
}

// changesFromAuditDetailsResponse reads a RetrieveAuditDetailsResponse body.
func changesFromAuditDetailsResponse(body []byte) ([]AuditChange, error) {
	var w struct {
		AuditDetail json.RawMessage `json:"AuditDetail"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("dataverse: RetrieveAuditDetails answer: %w", err)
	}
	return ChangesFromDetail(w.AuditDetail)
}

// retrieveAuditDetailOne is the naive mode: one GET. An answer with an error
// status (after retries) fails this id only, unless it was throttling.
func (c *Client) retrieveAuditDetailOne(ctx context.Context, id string) ([]auditDetailResult, error) {
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: auditDetailsPath(id)})
	if err != nil {
		if e, ok := AsError(err); ok && !e.Throttled {
			return []auditDetailResult{{err: err}}, nil
		}
		return nil, err
	}
	ch, err := changesFromAuditDetailsResponse(resp.Body)
	return []auditDetailResult{{changes: ch, err: err}}, nil
}

// retrieveAuditDetailsBatch sends one $batch of RetrieveAuditDetails calls and
// maps its answers, in order, to ids.
func (c *Client) retrieveAuditDetailsBatch(ctx context.Context, ids []string) ([]auditDetailResult, error) {
	gets := make([]batchGet, len(ids))
	for i, id := range ids {
		gets[i] = batchGet{path: auditDetailsPath(id)}
	}
	answers, err := c.sendBatchGets(ctx, gets, nil, "RetrieveAuditDetails calls")
	if err != nil {
		return nil, err
	}
	out := make([]auditDetailResult, len(ids))
	for i, a := range answers {
		if a.err != nil {
			out[i].err = a.err
			continue
		}
		out[i].changes, out[i].err = changesFromAuditDetailsResponse(a.body)
	}
	return out, nil
}

// batchGet is one GET of a $batch: a path below the API base and the
// part's own headers.
type batchGet struct {
	path   string
	header http.Header
}

// batchAnswer is the answer to one batchGet: its body, or an error (an
// *Error when the part answered with an error status).
type batchAnswer struct {
	body []byte
	err  error
}

// sendBatchGets sends gets (at most MaxBatchSize) as one $batch request with
// Prefer: odata.continue-on-error and the extra header on the batch request
// itself, and returns one answer per get, in order. what names the calls in
// errors. A failed batch request fails the whole call.
func (c *Client) sendBatchGets(ctx context.Context, gets []batchGet, header http.Header, what string) ([]batchAnswer, error) {
	boundary := "batch_" + uuid.NewString()
	body := buildBatchRequests(boundary, c.apiBase, gets)
	h := http.Header{
		"Content-Type": {"multipart/mixed;boundary=" + boundary},
		"Prefer":       {"odata.continue-on-error"},
	}
	for k, v := range header {
		h[k] = v
	}
	// The answer is parsed as it arrives: at most one part per request is
	// read, so an answer with endless parts stops at the first extra one.
	var parts []batchPartResponse
	var parseErr error
	resp, err := c.api.DoStreamWithHeader(ctx, &Request{Method: http.MethodPost, Path: "$batch", Body: body, Header: h},
		func(header http.Header, answer io.Reader) error {
			parts, parseErr = parseBatchResponse(header.Get("Content-Type"), answer, len(gets))
			return parseErr
		})
	var tooLarge *msapi.ResponseTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("dataverse: reading the answer to %d %s: %w", len(gets), what, tooLarge)
	case err != nil && parseErr != nil:
		return nil, fmt.Errorf("dataverse: POST $batch (%d %s): reading the answer: %w", len(gets), what, err)
	case err != nil:
		return nil, err
	}
	if len(parts) > len(gets) || (len(parts) == 0 && len(gets) > 0) {
		return nil, fmt.Errorf("dataverse: POST $batch: %d answers for %d requests", len(parts), len(gets))
	}
	out := make([]batchAnswer, len(gets))
	for i, g := range gets {
		if i >= len(parts) {
			out[i].err = fmt.Errorf("dataverse: GET %s: no answer in the $batch response (%d answers for %d requests)", g.path, len(parts), len(gets))
			continue
		}
		p := parts[i]
		switch {
		case p.Err != nil:
			out[i].err = fmt.Errorf("dataverse: GET %s: unreadable $batch answer part %d: %w", g.path, i+1, p.Err)
		case p.StatusCode < 200 || p.StatusCode > 299:
			e := newErrorFromResponse(http.MethodGet, c.apiBase+g.path, g.path, p.StatusCode, p.Header, p.Body)
			e.Attempts = resp.Attempts
			out[i].err = e
		default:
			out[i].body = p.Body
		}
	}
	return out, nil
}

// buildBatchGets writes a $batch body of GET requests, one part each, with
// absolute URLs (apiBase + path).
func buildBatchGets(boundary, apiBase string, paths []string) []byte {
	gets := make([]batchGet, len(paths))
	for i, p := range paths {
		gets[i] = batchGet{path: p}
	}
	return buildBatchRequests(boundary, apiBase, gets)
}

// buildBatchRequests writes a $batch body of GET requests with their own
// headers, one part each, with absolute URLs (apiBase + path).
func buildBatchRequests(boundary, apiBase string, gets []batchGet) []byte {
	var b bytes.Buffer
	for _, g := range gets {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString("Content-Type: application/http\r\n")
		b.WriteString("Content-Transfer-Encoding: binary\r\n\r\n")
		b.WriteString("GET " + apiBase + g.path + " HTTP/1.1\r\n")
		b.WriteString("Accept: application/json\r\n")
		for _, k := range sortedNames(g.header) {
			for _, v := range g.header[k] {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
		// The CRLF before a delimiter belongs to the delimiter, not the part.
		b.WriteString("\r\n\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes()
}

// batchPartResponse is one answer of a $batch response. Err is set when the
// part was there but held no readable HTTP response.
type batchPartResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	Err        error
}

// parseBatchResponse splits a multipart/mixed $batch answer into its HTTP
// responses, in order. Lines may end in CRLF or LF. A part that is not a
// readable HTTP response is returned with Err; a broken multipart structure
// (a part cut short) or a nested changeset is an error. A body without the
// boundary has no parts; mime/multipart ends without an error when the body
// stops inside a part's headers, so the caller checks the part count. More
// than maxParts parts (one per request sent) is an error, found as soon as
// the extra part begins.
func parseBatchResponse(contentType string, body io.Reader, maxParts int) ([]batchPartResponse, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("content type %q: %w", contentType, err)
	}
	if !strings.EqualFold(mediaType, "multipart/mixed") || params["boundary"] == "" {
		return nil, fmt.Errorf("content type %q is not multipart/mixed with a boundary", contentType)
	}
	mr := multipart.NewReader(body, params["boundary"])
	var parts []batchPartResponse
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return parts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", len(parts)+1, err)
		}
		if len(parts) == maxParts {
			return nil, fmt.Errorf("the answer has more parts than the %d requests sent (one answer each)", maxParts)
		}
		if pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); strings.HasPrefix(strings.ToLower(pt), "multipart/") {
			return nil, fmt.Errorf("part %d is a changeset (%s); only single requests were sent", len(parts)+1, pt)
		}
		part, err := readBatchPart(p)
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", len(parts)+1, err)
		}
		parts = append(parts, part)
	}
}

// readBatchPart reads the raw HTTP response in one part. The part is read
// whole first, so that a truncated multipart body is an error of the batch
// while a part that holds no HTTP response is an error of that part.
func readBatchPart(p *multipart.Part) (batchPartResponse, error) {
	raw, err := io.ReadAll(io.LimitReader(p, maxBatchPartResponseBytes+1))
	if err != nil {
		return batchPartResponse{}, err
	}
	if len(raw) > maxBatchPartResponseBytes {
		return batchPartResponse{}, fmt.Errorf("answer larger than %d bytes", maxBatchPartResponseBytes)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return batchPartResponse{Err: err}, nil
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return batchPartResponse{Err: fmt.Errorf("invalid HTTP status %q", resp.Status)}, nil
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return batchPartResponse{Err: err}, nil
	}
	return batchPartResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
}
