package emulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// POST $batch: a multipart/mixed body of raw GET requests, each run through
// the environment's handler (so it is authenticated with the batch's
// token and counted under its own route), answered as one multipart/mixed
// body of raw HTTP responses. Change sets and methods other than GET are
// refused (the provider only reads in batches).

const (
	batchRoute       = "$batch"
	maxBatchRequests = 1000
	maxBatchBody     = 32 << 20
)

type batchPart struct {
	method string
	target string // path?query below the environment
	header http.Header
}

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request, req apiRequest) {
	if req.hasKey || len(req.rest) > 0 {
		writeODataError(w, http.StatusNotFound, codeSegmentNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", strings.TrimPrefix(r.URL.Path, apiPrefix)))
		return
	}
	if r.Method != http.MethodPost {
		writeMethodNotAllowed(w, r, http.MethodPost)
		return
	}
	bad := func(msg string) { writeODataError(w, http.StatusBadRequest, codeNone, msg) }
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/mixed" || params["boundary"] == "" {
		bad("The batch request must have a 'Content-Type' header of 'multipart/mixed' with a boundary parameter.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBatchBody))
	if err != nil {
		writeODataError(w, http.StatusRequestEntityTooLarge, codeBadPayload, "The batch request body is too large.")
		return
	}
	parts, msg := parseBatchParts(body, params["boundary"])
	if msg != "" {
		bad(msg)
		return
	}
	prefs := parsePreferences(r.Header)

	boundary := "batchresponse_" + uuid.NewString()
	var out bytes.Buffer
	for _, p := range parts {
		rec := s.runBatchPart(r, p)
		out.WriteString("--" + boundary + "\r\n")
		out.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n")
		fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
		keys := make([]string, 0, len(rec.header))
		for k := range rec.header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "Content-Length" {
				continue
			}
			for _, v := range rec.header[k] {
				out.WriteString(k + ": " + v + "\r\n")
			}
		}
		out.WriteString("\r\n")
		out.Write(rec.body.Bytes())
		out.WriteString("\r\n")
		if rec.status >= 400 && !prefs.continueOnError {
			break
		}
	}
	out.WriteString("--" + boundary + "--\r\n")
	if prefs.continueOnError {
		w.Header().Set("Preference-Applied", "odata.continue-on-error")
	}
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+boundary)
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}

// parseBatchParts reads every part before anything runs, so a batch that
// is too large or malformed fails as a whole.
func parseBatchParts(body []byte, boundary string) ([]batchPart, string) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []batchPart
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "The batch request body is not a valid multipart/mixed message: " + err.Error()
		}
		if len(parts) == maxBatchRequests {
			return nil, fmt.Sprintf("The current batch message contains too many parts. Only batch messages with a maximum number of '%d' query operations, including changeset operations, are allowed.", maxBatchRequests)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if ct == "multipart/mixed" {
			return nil, "Change sets are not supported in $batch by the Dynamics 365 emulator: send GET requests only."
		}
		if ct != "application/http" {
			return nil, fmt.Sprintf("The batch part %d must have 'Content-Type: application/http', not '%s'.", len(parts)+1, part.Header.Get("Content-Type"))
		}
		raw, err := io.ReadAll(part)
		if err != nil {
			return nil, "The batch request body is not a valid multipart/mixed message: " + err.Error()
		}
		p, msg := parseBatchRequest(raw, len(parts)+1)
		if msg != "" {
			return nil, msg
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil, "The batch request contains no requests."
	}
	return parts, ""
}

// parseBatchRequest reads "GET <url> HTTP/1.1", headers and an (ignored)
// body. The URL may be absolute, an absolute path, or relative to the
// service root.
func parseBatchRequest(raw []byte, n int) (batchPart, string) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	line, err := tp.ReadLine()
	for err == nil && strings.TrimSpace(line) == "" {
		line, err = tp.ReadLine()
	}
	if err != nil {
		return batchPart{}, fmt.Sprintf("The batch part %d has no request line.", n)
	}
	fields := strings.Fields(line)
	if len(fields) != 3 || !strings.HasPrefix(fields[2], "HTTP/") {
		return batchPart{}, fmt.Sprintf("The batch part %d has an invalid request line '%s'.", n, line)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return batchPart{}, fmt.Sprintf("The batch part %d has invalid headers.", n)
	}
	method, target := fields[0], fields[1]
	if method != http.MethodGet {
		return batchPart{}, fmt.Sprintf("The batch part %d is a %s request: the Dynamics 365 emulator supports only GET requests in $batch.", n, method)
	}
	u, err := url.Parse(target)
	if err != nil {
		return batchPart{}, fmt.Sprintf("The batch part %d has an invalid URL '%s'.", n, target)
	}
	path := u.EscapedPath()
	if !u.IsAbs() && !strings.HasPrefix(path, "/") {
		path = apiPrefix + path
	}
	if req, ok := parseAPIPath(u.Path); (ok && req.name == batchRoute) || strings.HasSuffix(path, "/"+batchRoute) {
		return batchPart{}, "A batch request cannot contain another batch request."
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return batchPart{method: method, target: path, header: http.Header(hdr)}, ""
}

// batchRecorder captures one part's response.
type batchRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *batchRecorder) Header() http.Header { return b.header }
func (b *batchRecorder) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *batchRecorder) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (s *Server) runBatchPart(outer *http.Request, p batchPart) *batchRecorder {
	rec := &batchRecorder{header: http.Header{}}
	ctx := context.WithValue(outer.Context(), ctxBatchPart, true)
	inner, err := http.NewRequestWithContext(ctx, p.method, "https://"+outer.Host+p.target, nil)
	if err != nil {
		rec.status = http.StatusBadRequest
		return rec
	}
	inner.Header = p.header.Clone()
	if inner.Header == nil {
		inner.Header = http.Header{}
	}
	inner.Header.Set("Authorization", outer.Header.Get("Authorization"))
	inner.RemoteAddr = outer.RemoteAddr
	inner.Host = outer.Host
	s.envHandler.ServeHTTP(rec, inner)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}
