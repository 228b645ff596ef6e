package dataverse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// batchUnwrapper serves POST $batch for a fake handler by running each GET
// part through it, as the service does; other requests go to h directly.
// It counts the HTTP requests it receives (a $batch once).
type batchUnwrapper struct {
	h        http.HandlerFunc
	requests atomic.Int64
	batches  atomic.Int64
}

func (b *batchUnwrapper) handler(w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	if !strings.HasSuffix(r.URL.Path, "/$batch") {
		b.h(w, r)
		return
	}
	b.batches.Add(1)
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var out bytes.Buffer
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		inner, err := http.ReadRequest(bufio.NewReader(p))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := httptest.NewRequest(inner.Method, inner.RequestURI, nil)
		req.Header = inner.Header
		rec := httptest.NewRecorder()
		publishedViews(b.h)(rec, req)
		out.WriteString("--resp\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n")
		fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n\r\n", rec.Code, http.StatusText(rec.Code))
		out.Write(rec.Body.Bytes())
		out.WriteString("\r\n")
	}
	out.WriteString("--resp--\r\n")
	w.Header().Set("Content-Type", "multipart/mixed; boundary=resp")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}
