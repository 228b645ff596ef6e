package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

type batchAnswer struct {
	status int
	header http.Header
	parts  []*http.Response
	bodies []string
}

func postBatch(t *testing.T, s *Server, token string, requests []string, prefer string) batchAnswer {
	t.Helper()
	var body strings.Builder
	for _, r := range requests {
		body.WriteString("--batch_test\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n")
		body.WriteString(r)
		body.WriteString("\r\n")
	}
	body.WriteString("--batch_test--\r\n")
	headers := map[string]string{"Content-Type": "multipart/mixed;boundary=batch_test"}
	if prefer != "" {
		headers["Prefer"] = prefer
	}
	resp := callAPI(t, s, http.MethodPost, "$batch", token, body.String(), headers)
	out := batchAnswer{status: resp.status, header: resp.header}
	if resp.status != http.StatusOK {
		out.bodies = []string{string(resp.body)}
		return out
	}
	mt, params, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || !strings.HasPrefix(params["boundary"], "batchresponse_") {
		t.Fatalf("Content-Type %q", resp.header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Type") != "application/http" || p.Header.Get("Content-Transfer-Encoding") != "binary" {
			t.Fatalf("part headers %v", p.Header)
		}
		hr, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(hr.Body)
		_ = hr.Body.Close()
		out.parts = append(out.parts, hr) //nolint:bodyclose // closed above; only the status and headers are kept
		out.bodies = append(out.bodies, string(b))
	}
	return out
}

func TestBatch(t *testing.T) {
	t.Parallel()
	s, token := auditServer(t)
	u := s.AddUser("Batch User")
	id, err := s.SimulateCreate(simStart, u, "account", map[string]any{"name": "Contoso"})
	mustNoErr(t, err)
	mustNoErr(t, s.SimulateUpdate(simStart.Add(time.Minute), u, "account", id, map[string]any{"name": "Contoso 2"}))
	recs := s.AuditRecords()
	env := s.EnvironmentURL()
	s.ResetCounters()

	// Three parts: absolute URL, absolute path, relative to the service root.
	a := postBatch(t, s, token, []string{
		"GET " + env + "/api/data/v9.2/audits(" + recs[len(recs)-1].AuditID + ")/Microsoft.Dynamics.CRM.RetrieveAuditDetails HTTP/1.1\r\nAccept: application/json\r\n",
		"GET /api/data/v9.2/audits?$select=action&$top=1 HTTP/1.1\r\nPrefer: odata.include-annotations=\"*\"\r\n",
		"GET WhoAmI HTTP/1.1\r\n",
	}, "")
	if a.status != http.StatusOK || len(a.parts) != 3 {
		t.Fatalf("%d %d parts %v", a.status, len(a.parts), a.bodies)
	}
	for i, p := range a.parts {
		if p.StatusCode != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "application/json") {
			t.Errorf("part %d: %d %v", i, p.StatusCode, p.Header)
		}
	}
	if !strings.Contains(a.bodies[0], `"NewValue":{"@odata.type":"#Microsoft.Dynamics.CRM.account","name":"Contoso 2"}`) ||
		!strings.Contains(a.bodies[1], "action@OData.Community.Display.V1.FormattedValue") ||
		!strings.Contains(a.bodies[2], `"UserId":"`+s.ApplicationUserID("app")+`"`) {
		t.Errorf("bodies: %v", a.bodies)
	}
	wantRequestCounts(t, s, map[string]int{"POST $batch": 1, "GET RetrieveAuditDetails": 1, "GET audits": 1, "GET WhoAmI": 1})

	// Stop at the first failure unless odata.continue-on-error.
	parts := []string{
		"GET /api/data/v9.2/audits(" + recs[0].AuditID + ")/Microsoft.Dynamics.CRM.RetrieveAuditDetails HTTP/1.1\r\n",
		"GET /api/data/v9.2/audits(00000000-0000-0000-0000-000000000001)/Microsoft.Dynamics.CRM.RetrieveAuditDetails HTTP/1.1\r\n",
		"GET /api/data/v9.2/WhoAmI HTTP/1.1\r\n",
	}
	a = postBatch(t, s, token, parts, "")
	if len(a.parts) != 2 || a.parts[1].StatusCode != http.StatusNotFound || !strings.Contains(a.bodies[1], "0x80040217") {
		t.Errorf("stop: %d parts %v", len(a.parts), a.bodies)
	}
	a = postBatch(t, s, token, parts, "odata.continue-on-error")
	if len(a.parts) != 3 || a.parts[1].StatusCode != http.StatusNotFound || a.parts[2].StatusCode != http.StatusOK {
		t.Errorf("continue: %d parts %v", len(a.parts), a.bodies)
	}
	if got := a.header.Get("Preference-Applied"); got != "odata.continue-on-error" {
		t.Errorf("Preference-Applied %q", got)
	}

	// 1000 parts run; 1001 are refused as a whole.
	many := make([]string, 1000)
	for i := range many {
		many[i] = "GET /api/data/v9.2/audits(" + recs[i%len(recs)].AuditID + ")/Microsoft.Dynamics.CRM.RetrieveAuditDetails HTTP/1.1\r\n"
	}
	s.ResetCounters()
	start := time.Now()
	a = postBatch(t, s, token, many, "")
	t.Logf("batch of 1000: %v", time.Since(start))
	if a.status != http.StatusOK || len(a.parts) != 1000 {
		t.Fatalf("1000: %d, %d parts", a.status, len(a.parts))
	}
	if got := s.RequestCount("GET RetrieveAuditDetails"); got != 1000 {
		t.Errorf("inner count %d", got)
	}
	a = postBatch(t, s, token, append(many, many[0]), "")
	if a.status != http.StatusBadRequest || !strings.Contains(a.bodies[0], "maximum number of '1000'") {
		t.Errorf("1001: %d %v", a.status, a.bodies)
	}
	if got := s.RequestCount("GET RetrieveAuditDetails"); got != 1000 {
		t.Errorf("1001 ran parts: %d", got)
	}

	// Refused batches.
	for name, body := range map[string][]string{
		"nested": {"GET /api/data/v9.2/$batch HTTP/1.1\r\n"},
		"post":   {"POST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{}"},
		"empty":  nil,
	} {
		if a := postBatch(t, s, token, body, ""); a.status != http.StatusBadRequest {
			t.Errorf("%s: %d %v", name, a.status, a.bodies)
		}
	}
	changeset := "--batch_test\r\nContent-Type: multipart/mixed;boundary=changeset_1\r\n\r\n--changeset_1\r\nContent-Type: application/http\r\n\r\nGET /api/data/v9.2/WhoAmI HTTP/1.1\r\n\r\n--changeset_1--\r\n--batch_test--\r\n"
	r := callAPI(t, s, http.MethodPost, "$batch", token, changeset, map[string]string{"Content-Type": "multipart/mixed;boundary=batch_test"})
	if r.status != http.StatusBadRequest {
		t.Errorf("changeset: %d %s", r.status, r.body)
	}
	if r := callAPI(t, s, http.MethodPost, "$batch", token, "{}", nil); r.status != http.StatusBadRequest {
		t.Errorf("json body: %d", r.status)
	}
	if r := callAPI(t, s, http.MethodGet, "$batch", token, nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET $batch: %d", r.status)
	}
	// The batch's token authenticates the parts; without one, nothing runs.
	if r := callAPI(t, s, http.MethodPost, "$batch", "", "x", map[string]string{"Content-Type": "multipart/mixed;boundary=b"}); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.status)
	}
	// A restricted user's parts fail on their own.
	s.AddSecretClient("reader", "secret", WithPrivileges(PrivReadOrganization))
	a = postBatch(t, s, login(t, s, "reader", "secret"), []string{fmt.Sprintf("GET audits(%s)/Microsoft.Dynamics.CRM.RetrieveAuditDetails HTTP/1.1\r\n", recs[0].AuditID)}, "")
	if len(a.parts) != 1 || a.parts[0].StatusCode != http.StatusForbidden {
		t.Errorf("restricted: %v", a.bodies)
	}
}
