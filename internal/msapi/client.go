// Package msapi is the one HTTP client for Microsoft APIs: the Dataverse Web
// API and Microsoft Graph.
//
// It takes tokens from an azcore credential (and one fresh token when a
// token is rejected with 401), retries throttling, 5xx and connection errors
// with backoff that honours Retry-After (go-retryablehttp) up to a cap,
// bounds the attempts in flight and the time of each, returns typed errors
// (*Error, *TransportError), logs through tflog with secrets masked, and
// checks service URLs and TLS roots. It knows no API's operations:
// internal/dataverse and internal/graph wrap it, and every log line and
// error names the API (Config.API) it calls.
package msapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Defaults applied by New to zero Settings fields. Dataverse allows 52
// concurrent requests per user; staying well below leaves room for other
// tools on the same application user.
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

// Settings are the transport settings every API client shares: credential,
// base HTTP client, retries, timeouts and the concurrency bound. Zero values
// take the defaults above.
type Settings struct {
	// Credential provides tokens for the client's scope. Required.
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
	// MaxConcurrentRequests bounds HTTP attempts in flight through one Client
	// (Dataverse allows 52 per user).
	MaxConcurrentRequests int
	// RetryWaitMin and RetryWaitMax bound the computed exponential backoff
	// (RetryWaitMax is not a cap on Retry-After).
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// MaxRetryAfter: a Retry-After longer than this fails at once with a
	// throttling *Error instead of sleeping.
	MaxRetryAfter time.Duration
	// MaxResponseBytes caps the body of a 2xx answer, counted after
	// decompression, buffered (Do) or streamed (DoStream); 0 means
	// DefaultMaxResponseBytes. A larger body fails the call with a
	// *ResponseTooLargeError.
	MaxResponseBytes int64
}

// Config configures a Client for one API.
type Config struct {
	// API names the API in logs and errors: "Dataverse", "Microsoft Graph". Required.
	API string
	// BaseURL is the service's scheme://host[:port] (see NormalizeHostURL):
	// https, or http for loopback hosts only.
	BaseURL string
	// APIPath is the path under BaseURL that relative request paths start
	// from, e.g. "/api/data/v9.2/" or "/beta/". Required.
	APIPath string
	// Scope is the token scope; "" means "<BaseURL>/.default".
	Scope string
	// RejectedTokenHint completes "check that …" when a freshly issued
	// token is rejected as well, e.g. "the client is an application user in
	// this environment with a security role,"; the token audience follows.
	RejectedTokenHint string
	Settings
}

// Client calls one API of one service. It is safe for concurrent use.
type Client struct {
	api     string
	baseURL string // scheme://host[:port] in lower case, no trailing slash
	apiBase string // baseURL + APIPath
	scope   string
	hint    string // RejectedTokenHint

	cred       azcore.TokenCredential
	httpClient *http.Client
	userAgent  string

	maxRetries    int
	retryWaitMin  time.Duration
	retryWaitMax  time.Duration
	maxRetryAfter time.Duration
	maxBody       int64 // Settings.MaxResponseBytes

	// now is the clock used to evaluate Retry-After dates; tests replace it.
	now func() time.Time
}

// New validates cfg and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.API) == "" {
		return nil, errors.New("msapi: Config.API is required")
	}
	baseURL, err := NormalizeHostURL(cfg.BaseURL, "the scheme and host of "+cfg.API)
	if err != nil {
		return nil, fmt.Errorf("%s URL: %w", cfg.API, err)
	}
	baseURL = strings.ToLower(baseURL)
	if cfg.Credential == nil {
		return nil, fmt.Errorf("%s client: a credential is required", cfg.API)
	}
	apiPath, err := normalizeAPIPath(cfg.APIPath)
	if err != nil {
		return nil, fmt.Errorf("%s client: %w", cfg.API, err)
	}
	scope := strings.TrimSpace(cfg.Scope)
	if scope == "" {
		scope = baseURL + "/.default"
	}
	s := cfg.withDefaults() // Settings.withDefaults
	return &Client{
		api:           cfg.API,
		baseURL:       baseURL,
		apiBase:       baseURL + apiPath,
		scope:         scope,
		hint:          cfg.RejectedTokenHint,
		cred:          s.Credential,
		httpClient:    newHTTPClient(s.HTTPClient.Transport, s.MaxConcurrentRequests, s.RequestTimeout),
		userAgent:     s.UserAgent,
		maxRetries:    s.MaxRetries,
		retryWaitMin:  s.RetryWaitMin,
		retryWaitMax:  s.RetryWaitMax,
		maxRetryAfter: s.MaxRetryAfter,
		maxBody:       s.MaxResponseBytes,
		now:           time.Now,
	}, nil
}

// withDefaults returns s with the defaults for zero fields, and no retries
// for a negative MaxRetries.
func (s Settings) withDefaults() Settings {
	if s.UserAgent == "" {
		s.UserAgent = DefaultUserAgent
	}
	switch {
	case s.MaxRetries == 0:
		s.MaxRetries = DefaultMaxRetries
	case s.MaxRetries < 0:
		s.MaxRetries = 0
	}
	if s.RetryWaitMin <= 0 {
		s.RetryWaitMin = DefaultRetryWaitMin
	}
	if s.RetryWaitMax <= 0 {
		s.RetryWaitMax = DefaultRetryWaitMax
	}
	s.RetryWaitMax = max(s.RetryWaitMax, s.RetryWaitMin)
	if s.MaxRetryAfter <= 0 {
		s.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = DefaultRequestTimeout
	}
	if s.MaxConcurrentRequests <= 0 {
		s.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if s.MaxResponseBytes <= 0 {
		s.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if s.HTTPClient == nil {
		s.HTTPClient = cleanhttp.DefaultPooledClient()
	}
	return s
}

// BaseURL returns the normalised service URL (scheme://host[:port], lower case).
func (c *Client) BaseURL() string { return c.baseURL }

// APIBase returns the URL relative request paths start from (BaseURL + APIPath).
func (c *Client) APIBase() string { return c.apiBase }

// Scope returns the token scope.
func (c *Client) Scope() string { return c.scope }

// API returns the API's name (Config.API).
func (c *Client) API() string { return c.api }

// Request is one API call.
type Request struct {
	Method string
	// Path is relative to the API base ("organizations(…)", "WhoAmI"), already
	// escaped; it may carry its own query. An absolute URL (an @odata.nextLink)
	// is accepted only on the service's own scheme and host.
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
	resp, call, err := c.do(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if req.Out != nil && len(bytes.TrimSpace(resp.Body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(resp.Body))
		dec.UseNumber()
		if err := dec.Decode(req.Out); err != nil {
			return resp, fmt.Errorf("%s: %s %s: decoding response (HTTP %d): %w", c.api, call.method, call.path, resp.StatusCode, err)
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
// fn's reading. The body fn reads is capped at MaxResponseBytes, and a
// decoder made with NewStreamDecoder(body) caps each JSON value; both fail
// with a *ResponseTooLargeError naming the request. req.Out must be nil.
func (c *Client) DoStream(ctx context.Context, req *Request, fn func(body io.Reader) error) (*Response, error) {
	if fn == nil {
		return nil, fmt.Errorf("%s: DoStream needs a body function", c.api)
	}
	return c.DoStreamWithHeader(ctx, req, func(_ http.Header, body io.Reader) error { return fn(body) })
}

// DoStreamWithHeader is DoStream for answers that are read according to
// their headers (a $batch answer's boundary is in its Content-Type): fn
// also gets the answer's headers.
func (c *Client) DoStreamWithHeader(ctx context.Context, req *Request, fn func(header http.Header, body io.Reader) error) (*Response, error) {
	if fn == nil {
		return nil, fmt.Errorf("%s: DoStream needs a body function", c.api)
	}
	if req != nil && req.Out != nil {
		return nil, fmt.Errorf("%s: DoStream does not decode into Request.Out", c.api)
	}
	resp, _, err := c.do(ctx, req, fn)
	return resp, err
}

// do runs a call: one pass of retries, and a second with a fresh token if the
// first was rejected with 401. With stream set, a 2xx body goes to stream.
func (c *Client) do(ctx context.Context, req *Request, stream func(http.Header, io.Reader) error) (*Response, *apiCall, error) {
	if req == nil {
		return nil, nil, fmt.Errorf("%s: nil request", c.api)
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
		return nil, nil, fmt.Errorf("%s: %s %s: encoding request body: %w", c.api, method, rel, err)
	}

	ctx = maskSecrets(ctx)
	call := &apiCall{
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
		tflog.Trace(ctx, c.api+" request body", map[string]any{"method": method, "url": u, "body": loggedBody(body, int64(len(body)))})
	}

	tok, err := c.token(ctx, tokenFromCache)
	if err != nil {
		return nil, call, err
	}
	resp, err := call.send(tok)
	// A 401 returned by stream itself is not the server rejecting this token.
	if IsUnauthorized(err) && !call.streamed {
		// A token can be rejected before MSAL considers it expired (revocation,
		// clock skew, a new application user): ask for a fresh one, once.
		tflog.Debug(ctx, c.api+" rejected the access token; requesting a fresh token and retrying once",
			map[string]any{"method": method, "url": u})
		fresh, terr := c.token(ctx, freshToken)
		if terr != nil {
			return nil, call, fmt.Errorf("%w; requesting a fresh token also failed: %w", err, terr)
		}
		resp, err = call.send(fresh)
		if e, ok := AsError(err); ok && e.StatusCode == http.StatusUnauthorized && !call.streamed {
			e.Hint = "The access token was rejected, also a freshly issued one: check that " + c.hint +
				" and that the token audience is " + strings.TrimSuffix(c.scope, "/.default")
		}
	}
	if err != nil {
		return nil, call, err
	}
	return resp, call, nil
}

// tokenFreshness says whether a token may come from the credential's cache.
type tokenFreshness bool

const (
	tokenFromCache tokenFreshness = false
	freshToken     tokenFreshness = true
)

// token gets an access token for the scope. A fresh one bypasses the
// credential's cache: azidentity (MSAL) skips cached tokens when claims are
// requested, so ask for a token not valid before now.
func (c *Client) token(ctx context.Context, freshness tokenFreshness) (azcore.AccessToken, error) {
	opts := policy.TokenRequestOptions{Scopes: []string{c.scope}}
	if freshness == freshToken {
		opts.Claims = `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(c.now().Unix(), 10) + `"}}}`
	}
	tok, err := c.cred.GetToken(ctx, opts)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("%s: getting an access token for %s: %w", c.api, c.scope, err)
	}
	if tok.Token == "" {
		return azcore.AccessToken{}, fmt.Errorf("%s: the credential returned an empty access token for %s", c.api, c.scope)
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
			return "", "", fmt.Errorf("%s: invalid URL %q: %w", c.api, path, err)
		}
		// The bearer token goes with the request: never to another host.
		if !strings.EqualFold(u.Scheme+"://"+u.Host, c.baseURL) {
			return "", "", fmt.Errorf("%s: refusing to call %s://%s: not %s", c.api, u.Scheme, u.Host, c.baseURL)
		}
	} else {
		u, err = url.Parse(c.apiBase + strings.TrimPrefix(path, "/"))
		if err != nil {
			return "", "", fmt.Errorf("%s: invalid path %q: %w", c.api, path, err)
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
