// Package dataverse is a client for the Dataverse (Dynamics 365) Web API.
//
// It knows nothing about Terraform: plain Go structs for the wire format and
// the operations on them. HTTP — tokens, retries, throttling, the
// concurrency bound, typed errors, logging — is internal/msapi's, which
// Client wraps.
package dataverse

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// APIPath is the Web API base path under the environment URL.
const APIPath = "/api/data/v9.2/"

// APIName names Dataverse in logs and errors (msapi.Error.API).
const APIName = "Dataverse"

// rejectedTokenHint says what to check when Dataverse rejects a freshly
// issued token as well.
const rejectedTokenHint = "the client is an application user in this environment with a security role,"

// Config configures a Client. Zero Settings fields take msapi's defaults.
type Config struct {
	// EnvironmentURL is e.g. https://contoso.crm.dynamics.com; http is allowed
	// for loopback hosts only. The API base is EnvironmentURL + APIPath and
	// the token scope EnvironmentURL + "/.default".
	EnvironmentURL string
	msapi.Settings
}

// Client calls one Dataverse environment. It is safe for concurrent use.
type Client struct {
	api     *msapi.Client
	envURL  string // scheme://host[:port], lower case, no trailing slash
	apiBase string // envURL + APIPath
	// solutionOps keeps this client's metadata PUTs and publishes apart.
	solutionOps *solutionGate
}

// Request and Response are those of the transport.
type (
	Request  = msapi.Request
	Response = msapi.Response
)

// New validates cfg and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	api, err := msapi.New(msapi.Config{
		API:               APIName,
		BaseURL:           cfg.EnvironmentURL,
		APIPath:           APIPath,
		RejectedTokenHint: rejectedTokenHint,
		Settings:          cfg.Settings,
	})
	if err != nil {
		return nil, err
	}
	return &Client{api: api, envURL: api.BaseURL(), apiBase: api.APIBase(), solutionOps: newSolutionGate()}, nil
}

// EnvironmentURL returns the normalised environment URL (scheme://host[:port]).
func (c *Client) EnvironmentURL() string { return c.envURL }

// Scope returns the token scope, "<scheme>://<host[:port]>/.default".
func (c *Client) Scope() string { return c.api.Scope() }

// ScopeFor returns the token scope for an environment URL, validating it as New does.
func ScopeFor(environmentURL string) (string, error) { return msapi.ScopeFor(environmentURL) }

// Do sends req with retries and returns the 2xx answer; any other status is an
// *Error, a call without an answer a *TransportError (see msapi.Client.Do).
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	return c.api.Do(ctx, req)
}

// DoStream is Do for large answers: fn reads the live body of a 2xx answer
// (see msapi.Client.DoStream).
func (c *Client) DoStream(ctx context.Context, req *Request, fn func(body io.Reader) error) (*Response, error) {
	return c.api.DoStream(ctx, req, fn)
}

// getJSON is GET path?query decoded into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	_, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Query: query, Out: out})
	return err
}
