// Package dataverse is a client for the Dataverse (Dynamics 365) Web API.
//
// It knows nothing about Terraform: plain Go structs for the wire format, typed
// errors (*Error, *TransportError) and a transport that retries throttling,
// 5xx and connection errors, bounds concurrency and refreshes a rejected token
// once.
package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// APIPath is the Web API base path under the environment URL.
const APIPath = "/api/data/v9.2/"

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxRetries            = 6
	DefaultRequestTimeout        = 2 * time.Minute
	DefaultMaxConcurrentRequests = 16
	DefaultRetryWaitMin          = 1 * time.Second
	DefaultRetryWaitMax          = 30 * time.Second
	DefaultMaxRetryAfter         = 5 * time.Minute
	DefaultUserAgent             = "terraform-provider-dynamics365"
)

// Caps on how much of a body is kept: error bodies only need the OData error.
const maxErrorBodyBytes = 1 << 20

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// EnvironmentURL is e.g. https://contoso.crm.dynamics.com; http is allowed
	// for loopback hosts only. The API base is EnvironmentURL + "/api/data/v9.2/".
	EnvironmentURL string
	// Credential provides tokens for Scope(). Required.
	Credential azcore.TokenCredential
	// HTTPClient supplies the base Transport (TLS roots, proxy); nil means
	// cleanhttp.DefaultPooledClient(). Its Timeout, Jar and redirect policy are
	// not used: RequestTimeout applies per attempt and redirects are not followed.
	HTTPClient *http.Client
	UserAgent  string
	// MaxRetries is the number of retries after the first attempt: 0 means
	// DefaultMaxRetries, a negative value disables retries.
	MaxRetries int
	// RequestTimeout bounds one attempt, from sending to reading the whole body.
	RequestTimeout time.Duration
	// MaxConcurrentRequests bounds HTTP attempts in flight through this Client
	// (Dataverse allows 52 per user).
	MaxConcurrentRequests int
	// RetryWaitMin and RetryWaitMax bound the computed exponential backoff
	// (RetryWaitMax is not a cap on Retry-After).
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// MaxRetryAfter: a Retry-After longer than this fails at once with a
	// throttling *Error instead of sleeping.
	MaxRetryAfter time.Duration
	// APIBase is the path under EnvironmentURL that relative request paths
	// start from; "" means APIPath ("/api/data/v9.2/"). Other services
	// reusing this transport set their own (Microsoft Graph: "/beta/").
	APIBase string
	// Scope overrides the token scope; "" means "<EnvironmentURL>/.default".
	Scope string
}

// Client calls one Dataverse environment. It is safe for concurrent use.
type Client struct {
	envURL  string // scheme://host[:port], no trailing slash
	apiBase string // envURL + APIPath
	host    string // scheme://host[:port] as parsed, to check absolute URLs (nextLink)
	scope   string

	cred       azcore.TokenCredential
	httpClient *http.Client
	userAgent  string

	maxRetries    int
	retryWaitMin  time.Duration
	retryWaitMax  time.Duration
	maxRetryAfter time.Duration

	// now is the clock used to evaluate Retry-After dates; tests replace it.
	now func() time.Time
}

// New validates cfg and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	envURL, err := normalizeEnvironmentURL(cfg.EnvironmentURL)
	if err != nil {
		return nil, err
	}
	if cfg.Credential == nil {
		return nil, errors.New("dataverse: Config.Credential is required")
	}
	apiPath, err := normalizeAPIBase(cfg.APIBase)
	if err != nil {
		return nil, err
	}
	scope := strings.TrimSpace(cfg.Scope)
	if scope == "" {
		scope = envURL + "/.default"
	}
	c := &Client{
		envURL:        envURL,
		apiBase:       envURL + apiPath,
		host:          envURL,
		scope:         scope,
		cred:          cfg.Credential,
		userAgent:     cfg.UserAgent,
		maxRetries:    cfg.MaxRetries,
		retryWaitMin:  cfg.RetryWaitMin,
		retryWaitMax:  cfg.RetryWaitMax,
		maxRetryAfter: cfg.MaxRetryAfter,
		now:           time.Now,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.retryWaitMin <= 0 {
		c.retryWaitMin = DefaultRetryWaitMin
	}
	if c.retryWaitMax <= 0 {
		c.retryWaitMax = DefaultRetryWaitMax
	}
	if c.retryWaitMax < c.retryWaitMin {
		c.retryWaitMax = c.retryWaitMin
	}
	if c.maxRetryAfter <= 0 {
		c.maxRetryAfter = DefaultMaxRetryAfter
	}
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	concurrency := cfg.MaxConcurrentRequests
	if concurrency <= 0 {
		concurrency = DefaultMaxConcurrentRequests
	}
	base := cfg.HTTPClient
	if base == nil {
		base = cleanhttp.DefaultPooledClient()
	}
	c.httpClient = newHTTPClient(base.Transport, concurrency, timeout)
	return c, nil
}

// EnvironmentURL returns the normalised environment URL (scheme://host[:port]).
func (c *Client) EnvironmentURL() string { return c.envURL }

// Scope returns the token scope, "<scheme>://<host[:port]>/.default".
func (c *Client) Scope() string { return c.scope }

// ScopeFor returns the token scope for an environment URL, validating it as New does.
func ScopeFor(environmentURL string) (string, error) {
	u, err := normalizeEnvironmentURL(environmentURL)
	if err != nil {
		return "", err
	}
	return u + "/.default", nil
}

// normalizeAPIBase returns Config.APIBase as "/segment/…/": APIPath when
// empty, with a leading and trailing slash added, and no query, fragment,
// dot segment or escape.
func normalizeAPIBase(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return APIPath, nil
	}
	if strings.ContainsAny(s, "?#%\\ ") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("dataverse: API base %q must be a plain path such as %q", s, APIPath)
	}
	for _, seg := range strings.Split(strings.Trim(s, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("dataverse: API base %q must be a plain path such as %q", s, APIPath)
		}
	}
	return "/" + strings.Trim(s, "/") + "/", nil
}

// normalizeEnvironmentURL checks that s is an https (or loopback http) URL
// with a host and no path, and returns "scheme://host[:port]" in lower case.
func normalizeEnvironmentURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("dataverse: environment URL is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("dataverse: environment URL %q is not a valid URL: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("dataverse: environment URL %q has no host (expected e.g. https://contoso.crm.dynamics.com)", s)
	}
	if u.User != nil {
		return "", fmt.Errorf("dataverse: environment URL %q must not contain user information", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("dataverse: environment URL %q must be only scheme and host (e.g. https://contoso.crm.dynamics.com), without a path or query", s)
	}
	switch scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return "", fmt.Errorf("dataverse: environment URL %q must use https (http is allowed for loopback hosts only)", s)
		}
	default:
		return "", fmt.Errorf("dataverse: environment URL %q must use https", s)
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

// Request is one Web API call.
type Request struct {
	Method string
	// Path is relative to the API base ("organizations(…)", "WhoAmI"), already
	// escaped; it may carry its own query. An absolute URL (an @odata.nextLink)
	// is accepted only on the environment's own scheme and host.
	Path string
	// Query is appended to Path's query. Keys are sorted; "$", ",", "'", "(",
	// ")", ":", "@" and "/" are left readable, spaces become %20.
	Query url.Values
	// Body is nil (no body); []byte, json.RawMessage, string or io.Reader
	// (sent as is, read once and replayed on retries); or any other value,
	// marshalled to JSON. Content-Type defaults to JSON; set it in Header for
	// anything else ($batch).
	Body any
	// Header holds extra headers (If-Match, Prefer, MSCRM.MergeLabels, …); they
	// override the defaults, including Content-Type and Accept.
	Header http.Header
	// Out, when non-nil, receives the JSON body of a 2xx answer. Numbers
	// decoded into interface{} values are json.Number, so they keep their text.
	Out any
}

// Response is a successful (2xx) answer, with its body read.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// Attempts made for this call (1 = no retry).
	Attempts int
}

// Do sends req with retries and returns the 2xx answer; any other status is an
// *Error, a call without an answer a *TransportError.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	resp, cl, err := c.do(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if req.Out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(resp.Body))
		dec.UseNumber()
		if err := dec.Decode(req.Out); err != nil {
			return resp, fmt.Errorf("dataverse: %s %s: decoding response (HTTP %d): %w", cl.method, cl.path, resp.StatusCode, err)
		}
	}
	return resp, nil
}

// DoStream is Do for large answers: on a 2xx it hands the live body to fn
// instead of reading it into memory, and returns the Response without Body.
// Retries, the token refresh and error typing are those of Do, and all
// happen before fn is called; once fn has the body nothing is retried, and
// fn's error (a read error mid-stream included) is returned as is. The body
// is closed when fn returns, also when fn stops early, which releases the
// request's concurrency slot. RequestTimeout bounds the attempt including
// fn's reading. req.Out must be nil.
func (c *Client) DoStream(ctx context.Context, req *Request, fn func(body io.Reader) error) (*Response, error) {
	if fn == nil {
		return nil, errors.New("dataverse: DoStream needs a body function")
	}
	if req != nil && req.Out != nil {
		return nil, errors.New("dataverse: DoStream does not decode into Request.Out")
	}
	resp, _, err := c.do(ctx, req, fn)
	return resp, err
}

// do runs a call: one pass of retries, and a second with a fresh token if the
// first was rejected with 401. With stream set, a 2xx body goes to stream.
func (c *Client) do(ctx context.Context, req *Request, stream func(io.Reader) error) (*Response, *call, error) {
	if req == nil {
		return nil, nil, errors.New("dataverse: nil request")
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	u, rel, err := c.resolve(req.Path, req.Query)
	if err != nil {
		return nil, nil, err
	}
	body, err := encodeBody(req.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("dataverse: %s %s: encoding request body: %w", method, rel, err)
	}

	ctx = maskSecrets(ctx)
	cl := &call{
		c:      c,
		ctx:    ctx,
		method: method,
		url:    u,
		path:   rel,
		body:   body,
		header: req.Header,
		stream: stream,
	}
	if body != nil && tflog.IsTrace(ctx) {
		tflog.Trace(ctx, "Dataverse request body", map[string]any{"method": method, "url": u, "body": string(body)})
	}

	tok, err := c.token(ctx, false)
	if err != nil {
		return nil, cl, err
	}
	resp, err := cl.send(tok)
	// A 401 returned by stream itself is not the server rejecting this token.
	if IsUnauthorized(err) && !cl.streamed {
		// A token can be rejected before MSAL considers it expired (revocation,
		// clock skew, a new application user): ask for a fresh one, once.
		tflog.Debug(ctx, "Dataverse rejected the access token; requesting a fresh token and retrying once",
			map[string]any{"method": method, "url": u})
		fresh, terr := c.token(ctx, true)
		if terr != nil {
			return nil, cl, fmt.Errorf("%w; requesting a fresh token also failed: %w", err, terr)
		}
		resp, err = cl.send(fresh)
		if e, ok := AsError(err); ok && e.StatusCode == http.StatusUnauthorized && !cl.streamed {
			e.Hint = "The access token was rejected, also a freshly issued one: check that the client is an application user " +
				"in this environment with a security role, and that the token audience is " + strings.TrimSuffix(c.scope, "/.default")
		}
	}
	if err != nil {
		return nil, cl, err
	}
	return resp, cl, nil
}

// getJSON is GET path?query decoded into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	_, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Query: query, Out: out})
	return err
}

// token gets an access token for the environment. fresh bypasses the
// credential's cache: azidentity (MSAL) skips cached tokens when claims are
// requested, so ask for a token not valid before now.
func (c *Client) token(ctx context.Context, fresh bool) (azcore.AccessToken, error) {
	opts := policy.TokenRequestOptions{Scopes: []string{c.scope}}
	if fresh {
		opts.Claims = `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(c.now().Unix(), 10) + `"}}}`
	}
	tok, err := c.cred.GetToken(ctx, opts)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("dataverse: getting an access token for %s: %w", c.scope, err)
	}
	if tok.Token == "" {
		return azcore.AccessToken{}, fmt.Errorf("dataverse: the credential returned an empty access token for %s", c.scope)
	}
	return tok, nil
}

// resolve builds the absolute URL of a request and its form relative to the
// API base.
func (c *Client) resolve(path string, query url.Values) (abs, rel string, err error) {
	var u *url.URL
	lower := strings.ToLower(path)
	if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
		u, err = url.Parse(path)
		if err != nil {
			return "", "", fmt.Errorf("dataverse: invalid URL %q: %w", path, err)
		}
		// The bearer token goes with the request: never to another host.
		if !strings.EqualFold(u.Scheme+"://"+u.Host, c.host) {
			return "", "", fmt.Errorf("dataverse: refusing to call %s://%s: not the environment %s", u.Scheme, u.Host, c.envURL)
		}
	} else {
		u, err = url.Parse(c.apiBase + strings.TrimPrefix(path, "/"))
		if err != nil {
			return "", "", fmt.Errorf("dataverse: invalid path %q: %w", path, err)
		}
	}
	if len(query) > 0 {
		if u.RawQuery != "" {
			u.RawQuery += "&" + encodeQuery(query)
		} else {
			u.RawQuery = encodeQuery(query)
		}
	}
	abs = u.String()
	rel = abs
	if len(abs) >= len(c.apiBase) && strings.EqualFold(abs[:len(c.apiBase)], c.apiBase) {
		rel = abs[len(c.apiBase):]
	}
	return abs, rel, nil
}

// queryUnescape lists escapes that OData query text reads better without;
// all are legal in a URL query.
var queryUnescape = strings.NewReplacer(
	"+", "%20", // url.QueryEscape writes spaces as "+"; OData wants %20
	"%24", "$", "%2C", ",", "%27", "'", "%28", "(", "%29", ")",
	"%3A", ":", "%40", "@", "%2F", "/",
)

// encodeQuery is url.Values.Encode with readable OData text. Every "%" in
// QueryEscape's output starts an escape, so the replacements cannot misfire.
func encodeQuery(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, val := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(queryUnescape.Replace(url.QueryEscape(k)))
			b.WriteByte('=')
			b.WriteString(queryUnescape.Replace(url.QueryEscape(val)))
		}
	}
	return b.String()
}

func encodeBody(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	case string:
		return []byte(b), nil
	case io.Reader:
		return io.ReadAll(b)
	default:
		return json.Marshal(v)
	}
}
