package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *Server) testTokenEndpoint() string {
	return s.AuthorityHost() + s.TenantID() + "/oauth2/v2.0/token"
}

// postToken posts a token request and decodes the JSON answer.
func postToken(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.testTokenEndpoint(), form)
	if err != nil {
		t.Fatalf("POST token: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return resp.StatusCode, body
}

func secretForm(s *Server, clientID, secret string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"scope":         {s.EnvironmentURL() + "/.default openid offline_access profile"},
	}
}

// login gets a token for a secret client through the token endpoint.
func login(t *testing.T, s *Server, clientID, secret string) string {
	t.Helper()
	status, body := postToken(t, s, secretForm(s, clientID, secret))
	if status != http.StatusOK {
		t.Fatalf("token: status %d: %v", status, body)
	}
	return body["access_token"].(string)
}

// getJSON GETs url with the server's client, decodes the JSON answer into
// out and returns the answer's status.
func getJSON(t *testing.T, s *Server, url string, out any) int {
	t.Helper()
	resp, err := s.HTTPClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// odataError returns the code and message of a Dataverse error body.
func (r apiResponse) odataError(t *testing.T) (string, string) {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.body)
	}
	return e["code"].(string), e["message"].(string)
}

func callAPI(t *testing.T, s *Server, method, path, token string, body any, headers map[string]string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.EnvironmentURL()+"/api/data/v9.2/"+path, requestBody(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// requestBody is a request body: none for nil, a string as it is, anything
// else as JSON.
func requestBody(body any) io.Reader {
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	}
	buf, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return bytes.NewReader(buf)
}

// startAppServer starts an emulator with the secret client "app" and returns
// it with that client's access token: the set-up most API tests share.
func startAppServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s := startServer(t, opts)
	s.AddSecretClient("app", "secret")
	return s, login(t, s, "app", "secret")
}

// putEntityDefinition changes a table's stored definition with a metadata PUT
// (MSCRM.MergeLabels, as the provider sends it) and does not publish it.
func putEntityDefinition(t *testing.T, s *Server, token, table string, edit func(def map[string]any)) {
	t.Helper()
	raw, _ := s.EntityDefinitionJSON(table)
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatalf("definition of %s: %v", table, err)
	}
	edit(def)
	r := callAPI(t, s, http.MethodPut, "EntityDefinitions(LogicalName='"+table+"')", token, def, map[string]string{"MSCRM.MergeLabels": "true"})
	if r.status != http.StatusNoContent {
		t.Fatalf("PUT %s: %d %s", table, r.status, r.body)
	}
}

// wantRequestCounts checks the server's request count of each route key.
func wantRequestCounts(t *testing.T, s *Server, want map[string]int) {
	t.Helper()
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if got := s.RequestCount(key); got != want[key] {
			t.Errorf("%s = %d requests, want %d", key, got, want[key])
		}
	}
}
