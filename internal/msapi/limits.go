package msapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits on what a server may send. A misbehaving or hostile HTTPS server
// (a wrong environment_url, a proxy) must not be able to make the provider
// run out of memory; the limits are far above anything Dataverse or Graph
// send (see DESIGN.md, "Limits on answers").
const (
	// DefaultMaxResponseBytes caps a 2xx body, counted after Go's transport
	// has decompressed it (Settings.MaxResponseBytes). The largest legitimate
	// answers are the audit fields of every table with every column (tens of
	// MB in a large environment) and a $batch of 1,000 audit details.
	DefaultMaxResponseBytes = 256 << 20
	// MaxJSONValueBytes caps one JSON value (a row, a record, a member's
	// value) read through a StreamDecoder: an audit row is about 1 KB, a
	// Graph audit record a few KB.
	MaxJSONValueBytes = 16 << 20
	// maxLoggedBodyBytes is how much of a body a TRACE log line keeps.
	maxLoggedBodyBytes = 64 << 10
	// maskMargin is read past maxLoggedBodyBytes before masking, so that a
	// token that straddles the cut is still recognised and masked whole.
	maskMargin = 16 << 10
)

// ResponseTooLargeError is a 2xx answer, or one JSON value of a streamed
// answer, larger than its limit. Reading stopped at the limit.
type ResponseTooLargeError struct {
	// API, Method and Path name the request; Path carries no query.
	API, Method, Path string
	// What is "the response body" or "one JSON value of the answer".
	What string
	// Limit is the limit in bytes; Announced, when > 0, the Content-Length
	// the server announced (the body was then not read at all).
	Limit, Announced int64
	// Decompressed: the body arrived compressed and the limit applied to
	// its decompressed size.
	Decompressed bool
}

func (e *ResponseTooLargeError) Error() string {
	var b strings.Builder
	if e.API != "" {
		fmt.Fprintf(&b, "%s %s %s: ", e.API, e.Method, e.Path)
	}
	switch {
	case e.Announced > 0:
		fmt.Fprintf(&b, "%s would be %s (Content-Length), over the %s limit; it was not read", e.What, formatBytes(e.Announced), formatBytes(e.Limit))
	default:
		fmt.Fprintf(&b, "%s is larger than the %s limit", e.What, formatBytes(e.Limit))
		if e.Decompressed {
			b.WriteString(" (after decompression)")
		}
		b.WriteString("; reading stopped there")
	}
	service := e.API
	if service == "" {
		service = "the service"
	}
	fmt.Fprintf(&b, ". %s does not send answers this large: check that the URL points at %s itself, not at another server or a proxy", service, service)
	return b.String()
}

// streamBody is the body a DoStream function reads: capped, and knowing
// its request, so that a StreamDecoder over it names the request in its
// errors.
type streamBody struct {
	r    io.Reader
	call *apiCall
}

func (b *streamBody) Read(p []byte) (int, error) { return b.r.Read(p) }

// pathWithoutQuery drops the query of a request path: error messages name
// the request, and a query may carry values that do not belong in a diagnostic.
func pathWithoutQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if u, err := url.Parse(p); err == nil && u.Scheme != "" {
		u.RawQuery, u.Fragment = "", ""
		return u.String()
	}
	return p
}

// formatBytes writes n in the largest binary unit that divides it, else in bytes.
func formatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// cappedReader reads at most limit bytes of r; one byte more is an error
// made by tooLarge. It reads at most one byte past the limit, so it never
// holds more than the caller asked for.
type cappedReader struct {
	r        io.Reader
	left     int64
	tooLarge func() error
	err      error
}

func newCappedReader(r io.Reader, limit int64, tooLarge func() error) *cappedReader {
	return &cappedReader{r: r, left: limit, tooLarge: tooLarge}
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) <= c.left {
		c.left -= int64(n)
		return n, err
	}
	n, c.left = int(c.left), 0
	c.err = c.tooLarge()
	return n, c.err
}

// reset allows limit more bytes.
func (c *cappedReader) reset(limit int64) {
	c.left, c.err = limit, nil
}

// StreamDecoder is a json.Decoder for streamed answers (DoStream) that caps
// each value it reads, Token by Token or Decode by Decode, at
// MaxJSONValueBytes: a server cannot make one value grow without end.
// Numbers decoded into interface{} values are json.Number.
type StreamDecoder struct {
	dec    *json.Decoder
	capped *cappedReader
}

// NewStreamDecoder reads JSON from body. An over-limit value is a
// *ResponseTooLargeError, which names the request when body is the one a
// DoStream function was given.
func NewStreamDecoder(body io.Reader) *StreamDecoder {
	tooLarge := ResponseTooLargeError{What: "one JSON value of the answer", Limit: MaxJSONValueBytes}
	if sb, ok := body.(*streamBody); ok {
		tooLarge.API, tooLarge.Method, tooLarge.Path = sb.call.c.api, sb.call.method, pathWithoutQuery(sb.call.path)
	}
	capped := newCappedReader(body, MaxJSONValueBytes, func() error {
		e := tooLarge
		return &e
	})
	dec := json.NewDecoder(capped)
	dec.UseNumber()
	return &StreamDecoder{dec: dec, capped: capped}
}

// Token is json.Decoder.Token with the value cap.
func (d *StreamDecoder) Token() (json.Token, error) {
	d.capped.reset(MaxJSONValueBytes)
	return d.dec.Token()
}

// Decode is json.Decoder.Decode with the value cap.
func (d *StreamDecoder) Decode(v any) error {
	d.capped.reset(MaxJSONValueBytes)
	return d.dec.Decode(v)
}

// More reports whether the current array or object has another element.
func (d *StreamDecoder) More() bool {
	d.capped.reset(MaxJSONValueBytes)
	return d.dec.More()
}

// bodyHead keeps the first bytes written to it, and counts them all: the
// part of a streamed body a TRACE log line shows.
type bodyHead struct {
	head  []byte
	total int64
}

func (h *bodyHead) Write(p []byte) (int, error) {
	if room := maxLoggedBodyBytes + maskMargin - len(h.head); room > 0 {
		h.head = append(h.head, p[:min(room, len(p))]...)
	}
	h.total += int64(len(p))
	return len(p), nil
}

// loggedBody renders a body for a TRACE log line: masked, and cut after
// maxLoggedBodyBytes with its size noted. Masking comes first, on a margin
// past the cut, so that the cut cannot leave half a token unmasked.
func loggedBody(head []byte, total int64) string {
	head = maskSecretsBytes(head[:min(len(head), maxLoggedBodyBytes+maskMargin)])
	if total <= maxLoggedBodyBytes {
		return string(head)
	}
	cut := min(len(head), maxLoggedBodyBytes)
	for cut > 0 && cut < len(head) && !utf8.RuneStart(head[cut]) {
		cut-- // do not split a character
	}
	return fmt.Sprintf("%s… (truncated, %d bytes)", head[:cut], total)
}
