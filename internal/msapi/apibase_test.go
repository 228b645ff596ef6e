package msapi

import (
	"context"
	"net/http"
	"testing"
)

// Config.APIPath and Config.Scope let every API (Dataverse, Microsoft
// Graph) share the transport.
func TestAPIBaseAndScope(t *testing.T) {
	t.Parallel()
	checkNormalizer(t, "normalizeAPIPath", normalizeAPIPath, map[string]string{
		"/beta/":          "/beta/",
		"beta":            "/beta/",
		" /v1.0 ":         "/v1.0/",
		"/api/data/v9.1/": "/api/data/v9.1/",
	}, []string{"", "/", "//", "/a//b/", "/../x/", "/./", "/a?b/", "/a#/", "/a%2F/", "/a b/", "/a\\b/"})

	var path string
	c, cred, srv := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		writeJSON(w, http.StatusOK, map[string]any{})
	}, func(cfg *Config) {
		cfg.APIPath = "/beta/"
		cfg.Scope = "https://graph.example.com/.default"
	})
	if c.Scope() != "https://graph.example.com/.default" {
		t.Errorf("Scope %q", c.Scope())
	}
	if _, err := c.Do(context.Background(), &Request{Path: "security/auditLog/queries"}); err != nil {
		t.Fatal(err)
	}
	if path != "/beta/security/auditLog/queries" || cred.Scopes()[0] != "https://graph.example.com/.default" {
		t.Errorf("path %q scopes %q", path, cred.Scopes())
	}
	if _, err := c.Do(context.Background(), &Request{Path: srv.URL + "/beta/next?$skiptoken=x"}); err != nil || path != "/beta/next" {
		t.Errorf("absolute link: path %q, %v", path, err)
	}
}
