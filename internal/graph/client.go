// Package graph is a client for the Microsoft Graph audit log query API
// (Microsoft Purview unified audit log), used to search Dynamics 365 activity
// (record type "crm") that Dataverse does not keep in its own audit table:
// reads, retrieve-multiple and exports.
//
// HTTP is internal/msapi's: retries with backoff honouring Retry-After, a cap
// on Retry-After, a concurrency bound, one token refresh on 401, tflog
// logging with secrets masked, and typed errors: failed calls return an
// *msapi.Error (API "Microsoft Graph") or *msapi.TransportError in the
// chain, so msapi.AsError, IsForbidden, IsThrottled, … work.
package graph

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultGraphURL is Microsoft Graph in the global cloud, the only one
	// where the audit log query API is available.
	DefaultGraphURL   = "https://graph.microsoft.com"
	DefaultAPIVersion = "beta"
)

// ServiceName names Microsoft Graph in error messages.
const ServiceName = "Microsoft Graph"

// PermissionHint says what a 403 from the audit log query API usually means.
// It is set as the Hint of a 403 *msapi.Error returned by this package.
const PermissionHint = "Searching the Purview audit log needs the Microsoft Graph application permission " +
	"AuditLogsQuery-CRM.Read.All (or AuditLogsQuery.Read.All) on the app registration, with admin consent " +
	"granted in the tenant; a newly granted permission reaches new tokens only, which can take a few minutes"

// rejectedTokenHint says what to check when Graph rejects a freshly issued
// token as well.
const rejectedTokenHint = "the credential belongs to the tenant of the audit log"

// notFoundHint explains a 404 for a query id.
const notFoundHint = "No audit log query with this id is visible to this app: check the id " +
	"(query_id), the tenant, and that the query has not expired"

// Config configures a Client. Zero values take the defaults (msapi's for
// Settings).
type Config struct {
	// GraphURL is scheme://host[:port] without a version, e.g.
	// https://graph.microsoft.com ("" means DefaultGraphURL); http is
	// allowed for loopback hosts only. The token scope is GraphURL + "/.default".
	GraphURL string
	// APIVersion is the URL version segment: "beta" (default; Microsoft moved
	// the query API back to beta in 2025) or "v1.0".
	APIVersion string
	// PageSize, when positive, is sent as $top when listing records (the
	// server's page size otherwise). A smaller limit given to ListRecords
	// lowers it further.
	PageSize int
	msapi.Settings
}

// Client calls the audit log query API. It is safe for concurrent use.
type Client struct {
	api      *msapi.Client
	version  string
	pageSize int
}

var versionPattern = regexp.MustCompile(`^(beta|v[0-9]+\.[0-9]+)$`)

// New validates cfg and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	graphURL := strings.TrimSpace(cfg.GraphURL)
	if graphURL == "" {
		graphURL = DefaultGraphURL
	}
	version := strings.TrimSpace(cfg.APIVersion)
	if version == "" {
		version = DefaultAPIVersion
	}
	if !versionPattern.MatchString(version) {
		return nil, fmt.Errorf("graph: API version %q is not valid: use %q or %q", cfg.APIVersion, "beta", "v1.0")
	}
	if cfg.PageSize < 0 {
		return nil, fmt.Errorf("graph: page size %d must not be negative", cfg.PageSize)
	}
	api, err := msapi.New(msapi.Config{
		API:               ServiceName,
		BaseURL:           graphURL,
		APIPath:           "/" + version + "/",
		RejectedTokenHint: rejectedTokenHint,
		Settings:          cfg.Settings,
	})
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return &Client{api: api, version: version, pageSize: cfg.PageSize}, nil
}

// GraphURL returns the normalised Graph URL (scheme://host[:port]).
func (c *Client) GraphURL() string { return c.api.BaseURL() }

// APIVersion returns the version segment used in URLs ("beta", "v1.0").
func (c *Client) APIVersion() string { return c.version }

// Scope returns the token scope, "<GraphURL>/.default".
func (c *Client) Scope() string { return c.api.Scope() }

// namesQuery says whether a call names one query, so that a 404 means an unknown id.
type namesQuery bool

const (
	aboutQueries  namesQuery = false
	aboutOneQuery namesQuery = true
)

// do sends one request through the transport and adapts its errors.
func (c *Client) do(ctx context.Context, what string, target namesQuery, req *msapi.Request) (*msapi.Response, error) {
	resp, err := c.api.Do(ctx, req)
	if err != nil {
		return resp, wrap(what, err, target)
	}
	return resp, nil
}

// wrap prefixes err with what was being done and gives an *msapi.Error in
// its chain the hints of this API.
func wrap(what string, err error, target namesQuery) error {
	if e, ok := msapi.AsError(err); ok {
		switch {
		case e.StatusCode == http.StatusForbidden:
			e.Hint = PermissionHint
		case e.StatusCode == http.StatusNotFound && target == aboutOneQuery:
			e.Hint = notFoundHint
		}
	}
	return fmt.Errorf("microsoft graph: %s: %w", what, err)
}
