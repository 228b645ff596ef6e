package msapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi/msapitest"
)

const (
	gib = 1 << 30
	mib = 1 << 20
)

// A 2xx body over Settings.MaxResponseBytes stops the read at the limit
// with an error that names the request (without its query) and the limit,
// soon after the limit: the server offers 4 GiB, the client takes ~1 MiB.
func TestResponseBodyIsCapped(t *testing.T) {
	t.Parallel()
	body := &msapitest.Endless{Head: `{"value":"`, Repeat: "x"}
	c, _, _ := newTestServer(t, body.ServeHTTP, func(cfg *Config) { cfg.MaxResponseBytes = mib })

	start := time.Now()
	_, err := c.Do(context.Background(), &Request{Path: "organizations", Query: map[string][]string{"$select": {"secretish"}}})
	var tooLarge *ResponseTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("want *ResponseTooLargeError, got %T %v", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"Dataverse GET organizations", "1 MiB", "response body"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "secretish") {
		t.Errorf("error %q carries the query", msg)
	}
	msapitest.CheckStoppedSoon(t, start, body.Written.Load(), mib)
}

// A body that announces its size is refused before it is read.
func TestAnnouncedBodyOverLimitIsNotRead(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "3221225472") // 3 GiB, never sent
		w.WriteHeader(http.StatusOK)
	}, func(cfg *Config) { cfg.MaxResponseBytes = mib })
	_, err := c.Do(context.Background(), &Request{Path: "organizations"})
	var tooLarge *ResponseTooLargeError
	if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "would be 3 GiB") {
		t.Fatalf("want *ResponseTooLargeError naming 3 GiB, got %T %v", err, err)
	}
}

// A small gzip answer that expands without end is capped after
// decompression: Go's transport asked for gzip itself and decompresses
// transparently, so the limit applies to the JSON text.
func TestDecompressedBodyIsCapped(t *testing.T) {
	t.Parallel()
	body := &msapitest.Endless{Head: `{"value":"`, Repeat: " "}
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("Accept-Encoding = %q; the transport no longer asks for gzip", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		body.WriteBody(zw)
		_ = zw.Close()
	}, func(cfg *Config) { cfg.MaxResponseBytes = mib })

	start := time.Now()
	_, err := c.Do(context.Background(), &Request{Path: "organizations"})
	var tooLarge *ResponseTooLargeError
	if !errors.As(err, &tooLarge) || !tooLarge.Decompressed {
		t.Fatalf("want a decompressed *ResponseTooLargeError, got %T %v", err, err)
	}
	if !strings.Contains(err.Error(), "after decompression") {
		t.Errorf("error %q does not say the limit applies after decompression", err)
	}
	// Deflate turns megabytes of spaces into kilobytes, so the server runs
	// ahead of the client by far more than for plain text (480 MiB more are
	// allowed); it must still stop long before its 4 GiB.
	msapitest.CheckStoppedSoon(t, start, body.Written.Load(), 480*mib)
}

// A streamed answer (DoStream) is capped as a whole, and each JSON value
// read through NewStreamDecoder is capped at MaxJSONValueBytes: one giant
// value fails soon after the value limit, naming the request.
func TestStreamedJSONValueIsCapped(t *testing.T) {
	t.Parallel()
	body := &msapitest.Endless{Head: `{"value":[{"auditid":"`, Repeat: "a"}
	c, _, _ := newTestServer(t, body.ServeHTTP)

	start := time.Now()
	_, err := c.DoStream(context.Background(), &Request{Path: "audits", Query: map[string][]string{"$filter": {"x"}}}, func(r io.Reader) error {
		dec := NewStreamDecoder(r)
		for {
			if _, err := dec.Token(); err != nil {
				return err
			}
		}
	})
	var tooLarge *ResponseTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("want *ResponseTooLargeError, got %T %v", err, err)
	}
	for _, want := range []string{"Dataverse GET audits", "one JSON value", "16 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	msapitest.CheckStoppedSoon(t, start, body.Written.Load(), MaxJSONValueBytes)
}

// The streamed body as a whole is capped too, however small its values.
func TestStreamedBodyIsCapped(t *testing.T) {
	t.Parallel()
	body := &msapitest.Endless{Head: `{"value":[`, Repeat: " "}
	c, _, _ := newTestServer(t, body.ServeHTTP, func(cfg *Config) { cfg.MaxResponseBytes = mib })
	start := time.Now()
	_, err := c.DoStream(context.Background(), &Request{Path: "audits"}, func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	var tooLarge *ResponseTooLargeError
	if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "Dataverse GET audits") {
		t.Fatalf("want *ResponseTooLargeError naming the request, got %T %v", err, err)
	}
	msapitest.CheckStoppedSoon(t, start, body.Written.Load(), mib)
}

// At TRACE, a response body is logged truncated: its first 64 KiB and its
// size, never the whole body in one log line.
func TestTraceLogTruncatesBodies(t *testing.T) {
	t.Parallel()
	big := `{"value":"` + strings.Repeat("y", 300<<10) + `"}`
	c, _, _ := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, big)
	})
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(context.Background(), &buf)
	if _, err := c.Do(ctx, &Request{Path: "organizations"}); err != nil {
		t.Fatal(err)
	}
	// A streamed body is logged the same way, from what the function read.
	if _, err := c.DoStream(ctx, &Request{Path: "audits"}, func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	if n := strings.Count(logs, "(truncated, 307212 bytes)"); n != 2 {
		t.Errorf("log marks %d truncated bodies, want 2 (buffered and streamed):\n%.300s", n, logs)
	}
	if !strings.Contains(logs, "Dataverse response body (streamed)") {
		t.Error("the streamed body is not logged")
	}
	if len(logs) > 200<<10 {
		t.Errorf("log is %d bytes long for two 300 KiB bodies", len(logs))
	}
}

// A body that stops arriving ends with the attempt's timeout, not with the
// connection error the timeout caused.
func TestSlowBodyEndsWithTimeout(t *testing.T) {
	t.Parallel()
	trickle := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		for range 1000 {
			if _, err := io.WriteString(w, " "); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	c, _, _ := newTestServer(t, trickle, func(cfg *Config) { cfg.RequestTimeout = 300 * time.Millisecond })

	for name, call := range map[string]func() error{
		"Do": func() error {
			_, err := c.Do(context.Background(), &Request{Path: "organizations"})
			return err
		},
		"DoStream": func() error {
			_, err := c.DoStream(context.Background(), &Request{Path: "audits"}, func(r io.Reader) error {
				_, err := io.Copy(io.Discard, r)
				return err
			})
			return err
		},
	} {
		err := call()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		msg := err.Error()
		if !strings.HasSuffix(msg, "timed out after 300ms") || strings.Contains(msg, "closed network connection") {
			t.Errorf("%s: error = %q; want it to end with %q", name, msg, "timed out after 300ms")
		}
	}
}

// A token that straddles the cut of a logged body is masked whole: the cut
// cannot leave a fragment that no longer looks like a token.
func TestLoggedBodyMasksBeforeCutting(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"
	body := []byte(strings.Repeat("a", maxLoggedBodyBytes-20) + " " + jwt + " " + strings.Repeat("b", 1000))
	got := loggedBody(body, int64(len(body)))
	if strings.Contains(got, "eyJhbGci") || !strings.Contains(got, "***") {
		t.Errorf("token fragment in the log: …%s", got[len(got)-80:])
	}
	if !strings.HasSuffix(got, "… (truncated, "+strconv.Itoa(len(body))+" bytes)") {
		t.Errorf("no truncation note: …%s", got[len(got)-80:])
	}
	if small := loggedBody([]byte(`{"a":1}`), 7); small != `{"a":1}` {
		t.Errorf("small body logged as %q", small)
	}
}
