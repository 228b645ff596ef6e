// Package graph is a client for the Microsoft Graph audit log query API
// (Microsoft Purview unified audit log), used to search Dynamics 365 activity
// (record type "crm") that Dataverse does not keep in its own audit table:
// reads, retrieve-multiple and exports.
//
// It shares the Dataverse transport (internal/dataverse): retries with
// backoff honouring Retry-After, a cap on Retry-After, a concurrency bound,
// one token refresh on 401, tflog logging with secrets masked, and typed
// errors: failed calls return a *dataverse.Error (or *dataverse.TransportError)
// in the chain, so dataverse.AsError, IsForbidden, IsThrottled, … work.
package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
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
// It is set as the Hint of a 403 *dataverse.Error returned by this package.
const PermissionHint = "Searching the Purview audit log needs the Microsoft Graph application permission " +
	"AuditLogsQuery-CRM.Read.All (or AuditLogsQuery.Read.All) on the app registration, with admin consent " +
	"granted in the tenant; a newly granted permission reaches new tokens only, which can take a few minutes"

// unauthorizedHint replaces the Dataverse-specific hint of a 401 that
// survived a token refresh.
const unauthorizedHint = "The access token was rejected, also a freshly issued one: check that the credential " +
	"belongs to the tenant of the audit log and that the token audience is "

// notFoundHint explains a 404 for a query id.
const notFoundHint = "No audit log query with this id is visible to this app: check the id " +
	"(query_id), the tenant, and that the query has not expired"

// Config configures a Client. Zero values take the defaults.
type Config struct {
	// GraphURL is scheme://host[:port] without a version, e.g.
	// https://graph.microsoft.com ("" means DefaultGraphURL); http is
	// allowed for loopback hosts only. The token scope is GraphURL + "/.default".
	GraphURL string
	// APIVersion is the URL version segment: "beta" (default; Microsoft moved
	// the query API back to beta in 2025) or "v1.0".
	APIVersion string
	// Credential provides tokens for the Graph scope. Required.
	Credential azcore.TokenCredential
	// HTTPClient supplies the base Transport (TLS roots, proxy); nil means a
	// pooled default. As for dataverse.Config, its Timeout is not used.
	HTTPClient *http.Client
	UserAgent  string
	// MaxRetries, RequestTimeout, MaxConcurrentRequests, RetryWaitMin,
	// RetryWaitMax and MaxRetryAfter are passed to the transport: see
	// dataverse.Config.
	MaxRetries            int
	RequestTimeout        time.Duration
	MaxConcurrentRequests int
	RetryWaitMin          time.Duration
	RetryWaitMax          time.Duration
	MaxRetryAfter         time.Duration
	// PageSize, when positive, is sent as $top when listing records (the
	// server's page size otherwise). A smaller limit given to ListRecords
	// lowers it further.
	PageSize int
}

// Client calls the audit log query API. It is safe for concurrent use.
type Client struct {
	t        *dataverse.Client
	graphURL string
	version  string
	scope    string
	pageSize int
}

var versionPattern = regexp.MustCompile(`^(beta|v[0-9]+\.[0-9]+)$`)

// New validates cfg and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	graphURL, err := normalizeGraphURL(cfg.GraphURL)
	if err != nil {
		return nil, err
	}
	if cfg.Credential == nil {
		return nil, errors.New("graph: Config.Credential is required")
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
	scope := graphURL + "/.default"
	t, err := dataverse.New(dataverse.Config{
		EnvironmentURL:        graphURL,
		APIBase:               "/" + version + "/",
		Scope:                 scope,
		Credential:            cfg.Credential,
		HTTPClient:            cfg.HTTPClient,
		UserAgent:             cfg.UserAgent,
		MaxRetries:            cfg.MaxRetries,
		RequestTimeout:        cfg.RequestTimeout,
		MaxConcurrentRequests: cfg.MaxConcurrentRequests,
		RetryWaitMin:          cfg.RetryWaitMin,
		RetryWaitMax:          cfg.RetryWaitMax,
		MaxRetryAfter:         cfg.MaxRetryAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return &Client{t: t, graphURL: graphURL, version: version, scope: scope, pageSize: cfg.PageSize}, nil
}

// GraphURL returns the normalised Graph URL (scheme://host[:port]).
func (c *Client) GraphURL() string { return c.graphURL }

// APIVersion returns the version segment used in URLs ("beta", "v1.0").
func (c *Client) APIVersion() string { return c.version }

// Scope returns the token scope, "<GraphURL>/.default".
func (c *Client) Scope() string { return c.scope }

// normalizeGraphURL checks that s is an https (or loopback http) URL with a
// host and no path, and returns "scheme://host[:port]" in lower case.
func normalizeGraphURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultGraphURL, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("graph: Graph URL %q is not a valid URL: %w", s, err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("graph: Graph URL %q has no host (expected e.g. %s)", s, DefaultGraphURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("graph: Graph URL %q must not contain user information", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("graph: Graph URL %q must be only scheme and host (e.g. %s), without a version or path", s, DefaultGraphURL)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return "", fmt.Errorf("graph: Graph URL %q must use https (http is allowed for loopback hosts only)", s)
		}
	default:
		return "", fmt.Errorf("graph: Graph URL %q must use https", s)
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// do sends one request through the shared transport and adapts its errors.
func (c *Client) do(ctx context.Context, what string, queryID bool, req *dataverse.Request) (*dataverse.Response, error) {
	resp, err := c.t.Do(ctx, req)
	if err != nil {
		return resp, c.wrap(what, err, queryID)
	}
	return resp, nil
}

// wrap prefixes err with what was being done and makes a *dataverse.Error
// in its chain speak of Graph: service name and hints. queryID marks calls
// naming a query, where a 404 means an unknown id.
func (c *Client) wrap(what string, err error, queryID bool) error {
	if e, ok := dataverse.AsError(err); ok {
		e.Service = ServiceName
		switch e.StatusCode {
		case http.StatusForbidden:
			e.Hint = PermissionHint
		case http.StatusUnauthorized:
			if e.Hint != "" { // set by the transport after a failed refresh
				e.Hint = unauthorizedHint + strings.TrimSuffix(c.scope, "/.default")
			}
		case http.StatusNotFound:
			if queryID {
				e.Hint = notFoundHint
			}
		}
	}
	return fmt.Errorf("microsoft graph: %s: %w", what, err)
}
