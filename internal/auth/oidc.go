package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// githubAudience is the audience Entra ID expects in a federated token.
const githubAudience = "api://AzureADTokenExchange"

// defaultOIDCClient is used for the GitHub Actions request when Config.HTTPClient is nil.
var defaultOIDCClient = &http.Client{Timeout: 60 * time.Second}

// assertionSource returns the client-assertion callback for the configured federated token
// source and the attribute it comes from.
func assertionSource(cfg Config) (func(context.Context) (string, error), string, error) {
	source, _ := cfg.oidcSource()
	switch source {
	case AttrOIDCToken:
		return staticAssertion(strings.TrimSpace(cfg.OIDCToken)), source, nil
	case AttrOIDCTokenFilePath:
		return fileAssertion(strings.TrimSpace(cfg.OIDCTokenFilePath)), source, nil
	case AttrOIDCRequestURL:
		get, err := githubAssertion(cfg.HTTPClient, strings.TrimSpace(cfg.OIDCRequestURL), strings.TrimSpace(cfg.OIDCRequestToken))
		return get, source, err
	}
	// Select has already rejected this; keep the error anyway.
	return nil, "", validateOIDC(cfg)
}

func staticAssertion(token string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return token, nil }
}

// fileAssertion reads the token file on every call: Kubernetes rotates projected tokens.
func fileAssertion(path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading %s %q: %w", AttrOIDCTokenFilePath, path, unwrapPathError(err))
		}
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("%s %q is empty", AttrOIDCTokenFilePath, path)
		}
		return token, nil
	}
}

// githubAssertion fetches an ID token from GitHub Actions' OIDC endpoint on every call
// (azidentity caches the resulting access token, and GitHub's ID tokens are short-lived).
func githubAssertion(client *http.Client, requestURL, requestToken string) (func(context.Context) (string, error), error) {
	u, err := url.Parse(requestURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &ConfigError{
			Attribute: AttrOIDCRequestURL,
			Summary:   "Invalid OIDC request URL",
			Detail:    fmt.Sprintf("%s must be an http(s) URL", withEnv(AttrOIDCRequestURL)),
		}
	}
	// Keep the original query (GitHub's carries api-version) and add the audience.
	if u.RawQuery == "" {
		u.RawQuery = "audience=" + url.QueryEscape(githubAudience)
	} else {
		u.RawQuery += "&audience=" + url.QueryEscape(githubAudience)
	}
	target := u.String()
	// Describe the endpoint without its query in errors.
	where := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if client == nil {
		client = defaultOIDCClient
	}

	return func(ctx context.Context) (string, error) {
		fail := func(format string, args ...any) (string, error) {
			msg := fmt.Sprintf(format, args...)
			return "", fmt.Errorf("requesting a GitHub Actions OIDC token from %s: %s", where, redact(msg, requestToken))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return fail("%v", err)
		}
		req.Header.Set("Authorization", "Bearer "+requestToken)
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return fail("%v", err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fail("reading the response: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fail("HTTP %d: %s (check %s and that the workflow has `permissions: id-token: write`)",
				resp.StatusCode, snippet(body), AttrOIDCRequestToken)
		}
		var out struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			return fail("decoding the response: %v", err)
		}
		if out.Value == "" {
			return fail("the response has no \"value\"")
		}
		return out.Value, nil
	}, nil
}

// snippet shortens a response body for an error message.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}
