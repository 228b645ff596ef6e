package msapitest

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// EndlessTotal is what an Endless answer offers: far more than any limit.
const EndlessTotal = 4 << 30

// Endless is a misbehaving server's 200 answer: Head, then Repeat again and
// again until EndlessTotal bytes were written or the client went away. It
// is generated chunk by chunk as it is sent, so a test that offers
// gigabytes uses a few kilobytes itself. Written counts the bytes handed to
// the connection (before any compression).
type Endless struct {
	ContentType string // "" means application/json
	Head        string
	Repeat      string
	Written     atomic.Int64
}

// ServeHTTP reads the request and sends the answer, uncompressed.
func (e *Endless) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	contentType := e.ContentType
	if contentType == "" {
		contentType = "application/json"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	e.WriteBody(w)
}

// WriteBody writes the body to w, e.g. a compressing writer.
func (e *Endless) WriteBody(w io.Writer) {
	chunk := bytes.Repeat([]byte(e.Repeat), max(1, (32<<10)/len(e.Repeat)))
	n, err := io.WriteString(w, e.Head)
	e.Written.Add(int64(n))
	for err == nil && e.Written.Load() < EndlessTotal {
		n, err = w.Write(chunk)
		e.Written.Add(int64(n))
	}
}

// CheckStoppedSoon checks that the client stopped reading soon after limit
// bytes: the server wrote at most limit plus what socket and TLS buffers
// hold (32 MiB), and the error came within seconds of start.
func CheckStoppedSoon(t testing.TB, start time.Time, written, limit int64) {
	t.Helper()
	if slack := int64(32 << 20); written > limit+slack {
		t.Errorf("the server wrote %d bytes before the client stopped; limit %d", written, limit)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the error came after %s", d)
	}
}
