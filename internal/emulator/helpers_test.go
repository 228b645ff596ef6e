package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
