package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

const requestToken = "gh-request-token-SECRET"

func TestGitHubAssertion(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if got := r.Header.Get("Authorization"); got != "Bearer "+requestToken {
			t.Errorf("Authorization = %q", got)
		}
		if got := r.URL.Query().Get("audience"); got != "api://AzureADTokenExchange" {
			t.Errorf("audience = %q (query %q)", got, r.URL.RawQuery)
		}
		if strings.HasPrefix(r.URL.Path, "/with-query") && r.URL.Query().Get("api-version") != "2.0" {
			t.Errorf("lost the original query: %q", r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"count":1,"value":"github-jwt"}`))
	}))
	defer srv.Close()

	for _, path := range []string{"/plain", "/with-query?api-version=2.0"} {
		t.Run(path, func(t *testing.T) {
			get, err := githubAssertion(srv.Client(), srv.URL+path, requestToken)
			if err != nil {
				t.Fatal(err)
			}
			got, err := get(context.Background())
			if err != nil {
				t.Fatalf("assertion error = %v", err)
			}
			if got != "github-jwt" {
				t.Fatalf("assertion = %q", got)
			}
		})
	}
	if calls.Load() != 2 {
		t.Fatalf("server saw %d requests, want 2", calls.Load())
	}
}

func TestGitHubAssertionErrorsHideRequestToken(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		mention string
	}{
		// A server that echoes the token back must not leak it through our error.
		{"unauthorized", http.StatusUnauthorized, `{"message":"bad token ` + requestToken + `"}`, "HTTP 401"},
		{"server error", http.StatusInternalServerError, ``, "HTTP 500"},
		{"no value", http.StatusOK, `{"count":0}`, `no "value"`},
		{"not json", http.StatusOK, `<html>`, "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			get, err := githubAssertion(srv.Client(), srv.URL+"/token?api-version=2.0", requestToken)
			if err != nil {
				t.Fatal(err)
			}
			_, err = get(context.Background())
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), requestToken) {
				t.Fatalf("error contains the request token: %v", err)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		get, err := githubAssertion(nil, url+"/token", requestToken)
		if err != nil {
			t.Fatal(err)
		}
		_, err = get(context.Background())
		if err == nil || strings.Contains(err.Error(), requestToken) {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestGitHubAssertionThroughNewCredential(t *testing.T) {
	// The GitHub request uses Config.HTTPClient: a TLS server only that client trusts.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"value":"jwt-from-tls"}`))
	}))
	defer srv.Close()
	cfg := Config{TenantID: testTenant, ClientID: testClient, UseOIDC: true,
		OIDCRequestURL: srv.URL + "/t?api-version=2.0", OIDCRequestToken: requestToken, HTTPClient: srv.Client()}
	get, source, err := assertionSource(cfg)
	if err != nil || source != AttrOIDCRequestURL {
		t.Fatalf("assertionSource() = %q, %v", source, err)
	}
	if got, err := get(context.Background()); err != nil || got != "jwt-from-tls" {
		t.Fatalf("assertion = %q, %v", got, err)
	}
	cred, m, err := NewCredential(cfg)
	if err != nil || m != MethodOIDC {
		t.Fatalf("NewCredential() = %q, %v", m, err)
	}
	if s := cred.(*Credential).String(); strings.Contains(s, requestToken) || !strings.Contains(s, "source=oidc_request_url") {
		t.Errorf("String() = %q", s)
	}
}

func TestFileAssertionRereads(t *testing.T) {
	path := writeFile(t, "token", []byte("first-token\n"))
	get := fileAssertion(path)
	if got, err := get(context.Background()); err != nil || got != "first-token" {
		t.Fatalf("first call = %q, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("rotated-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := get(context.Background()); err != nil || got != "rotated-token" {
		t.Fatalf("second call = %q, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := get(context.Background()); err == nil || !strings.Contains(err.Error(), "oidc_token_file_path") {
		t.Fatalf("empty file error = %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := get(context.Background()); err == nil || !strings.Contains(err.Error(), "oidc_token_file_path") {
		t.Fatalf("missing file error = %v", err)
	}
}

func TestStaticAssertion(t *testing.T) {
	get, source, err := assertionSource(Config{TenantID: testTenant, ClientID: testClient, OIDCToken: " given-jwt "})
	if err != nil || source != AttrOIDCToken {
		t.Fatalf("assertionSource() = %q, %v", source, err)
	}
	if got, _ := get(context.Background()); got != "given-jwt" {
		t.Fatalf("assertion = %q", got)
	}
}
