package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// tryWhoAmI calls WhoAmI and returns the status, 0 for a transport error
// (a reset).
func tryWhoAmI(t *testing.T, s *Server, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.EnvironmentURL()+apiPrefix+"WhoAmI", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return 0, nil, nil
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestFaultRulesReproducible(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	run := func() []int {
		s.SetFaultRules(42, FaultRule{Route: "GET WhoAmI", Fraction: 0.3, Statuses: []int{500, 503, 0}, RetryAfter: 1500 * time.Millisecond})
		var got []int
		for range 40 {
			status, h, _ := tryWhoAmI(t, s, token)
			got = append(got, status)
			if status == http.StatusServiceUnavailable && h.Get("Retry-After") != "2" {
				t.Errorf("503 Retry-After = %q", h.Get("Retry-After"))
			}
			if status == http.StatusInternalServerError && h.Get("Retry-After") != "" {
				t.Errorf("500 with Retry-After %q", h.Get("Retry-After"))
			}
		}
		return got
	}
	first := run()
	second := run()
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("same seed, different outcomes:\n%v\n%v", first, second)
	}
	// Failures take the statuses in turn.
	var failed []int
	for _, st := range first {
		if st != http.StatusOK {
			failed = append(failed, st)
		}
	}
	if len(failed) < 4 || len(failed) > 25 {
		t.Fatalf("%d of 40 failed: %v", len(failed), first)
	}
	for i, st := range failed {
		if want := []int{500, 503, 0}[i%3]; st != want {
			t.Errorf("failure %d = %d, want %d (%v)", i, st, want, failed)
		}
	}
	if got := s.InjectedFaultCount(); got != 2*len(failed) {
		t.Errorf("InjectedFaultCount = %d, want %d", got, 2*len(failed))
	}
	s.SetFaultRules(7, FaultRule{Route: "GET WhoAmI", Fraction: 0.3})
	third := run() // the same seed again after another one
	if fmt.Sprint(first) != fmt.Sprint(third) {
		t.Errorf("outcome changed after another seed")
	}

	// Exact sequences win over rules; no rules, no faults.
	s.SetFaultRules(1, FaultRule{Fraction: 1, Statuses: []int{502}})
	s.InjectFaults("GET WhoAmI", Fault{}, Fault{Status: http.StatusGatewayTimeout})
	for i, want := range []int{200, 504, 502} {
		if status, _, _ := tryWhoAmI(t, s, token); status != want {
			t.Errorf("request %d: %d, want %d", i, status, want)
		}
	}
	// "" (every route) leaves the login listener alone.
	if status, body := postToken(t, s, secretForm(s, "app", "secret")); status != http.StatusOK {
		t.Errorf("login under a catch-all rule: %d %v", status, body)
	}
	s.SetFaultRules(1)
	if status, _, _ := tryWhoAmI(t, s, token); status != http.StatusOK {
		t.Errorf("no rules: %d", status)
	}
	s.ResetCounters()
	if s.InjectedFaultCount() != 0 {
		t.Error("ResetCounters left InjectedFaultCount")
	}
}

func TestFaultRuleLatencyAndLoginRoute(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	s.SetFaultRules(3,
		FaultRule{Route: "GET WhoAmI", Latency: 150 * time.Millisecond},
		FaultRule{Route: "*", Latency: 50 * time.Millisecond},
		FaultRule{Route: "POST token", Fraction: 1, Statuses: []int{http.StatusTooManyRequests}, RetryAfter: time.Millisecond},
	)
	start := time.Now()
	if status, _, _ := tryWhoAmI(t, s, token); status != http.StatusOK {
		t.Fatalf("WhoAmI: %d", status)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("WhoAmI took %s, want ≥ 200ms", d)
	}
	resp, err := s.HTTPClient().PostForm(s.testTokenEndpoint(), secretForm(s, "app", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"error":"temporarily_unavailable"`) {
		t.Errorf("token: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	log := s.RequestLog()
	if len(log) != 3 {
		t.Fatalf("log = %+v", log)
	}
	if r := log[1]; r.Listener != ListenerEnvironment || r.Route != "WhoAmI" || r.Status != 200 || r.User != s.ApplicationUserID("app") || r.ClientID != "app" || r.End.Sub(r.Start) < 200*time.Millisecond {
		t.Errorf("WhoAmI record = %+v", r)
	}
	if r := log[2]; r.Listener != ListenerLogin || r.Route != "token" || r.Status != 429 || r.User != "" {
		t.Errorf("token record = %+v", r)
	}
}

func TestFaultRuleAfterHandler(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	path := "organizations(" + s.OrganizationID() + ")"

	// Before the handler (default): nothing applied.
	s.SetFaultRules(1, FaultRule{Route: "PATCH organizations", Fraction: 1, Statuses: []int{http.StatusBadGateway}})
	r := callAPI(t, s, http.MethodPatch, path, token, map[string]any{"auditretentionperiodv2": 60}, nil)
	if code, _ := r.odataError(t); r.status != http.StatusBadGateway || code != "" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := s.Organization().AuditRetentionPeriodV2; got != 30 {
		t.Errorf("before-handler fault applied the change: %d", got)
	}

	// After the handler: applied, audited, but the client sees a 502.
	s.SetFaultRules(1, FaultRule{Route: "PATCH organizations", Fraction: 1, Statuses: []int{http.StatusBadGateway}, AfterHandler: true})
	r = callAPI(t, s, http.MethodPatch, path, token, map[string]any{"auditretentionperiodv2": 60}, nil)
	if r.status != http.StatusBadGateway || r.header.Get("OData-EntityId") != "" {
		t.Fatalf("%d %v %s", r.status, r.header, r.body)
	}
	if got := s.Organization().AuditRetentionPeriodV2; got != 60 {
		t.Errorf("after-handler fault: change not applied (%d)", got)
	}
	rows := len(s.AuditRecords())
	if rows == 0 {
		t.Error("no audit row")
	}
	// A reset after the handler, then the client's retry: no second row.
	s.SetFaultRules(1, FaultRule{Route: "PATCH organizations", Fraction: 1, Statuses: []int{0}, AfterHandler: true})
	req, _ := http.NewRequest(http.MethodPatch, s.EnvironmentURL()+apiPrefix+path, strings.NewReader(`{"auditretentionperiodv2":90}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := s.HTTPClient().Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("reset expected, got %d", resp.StatusCode)
	}
	if got := s.Organization().AuditRetentionPeriodV2; got != 90 {
		t.Errorf("after-handler reset: change not applied (%d)", got)
	}
	s.SetFaultRules(1)
	if r := callAPI(t, s, http.MethodPatch, path, token, map[string]any{"auditretentionperiodv2": 90}, nil); r.status != http.StatusNoContent {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	if got := len(s.AuditRecords()); got != rows+1 {
		t.Errorf("audit rows %d, want %d", got, rows+1)
	}
	if got := s.InjectedFaultCount(); got != 3 {
		t.Errorf("InjectedFaultCount = %d", got)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{MaxConcurrentPerUser: 4})
	s.AddSecretClient("app", "secret")
	s.AddSecretClient("other", "secret")
	token := login(t, s, "app", "secret")
	other := login(t, s, "other", "secret")
	s.SetFaultRules(1, FaultRule{Route: "GET WhoAmI", Latency: 400 * time.Millisecond})

	type result struct {
		status int
		header http.Header
		body   []byte
	}
	results := make([]result, 10)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			st, h, b := tryWhoAmI(t, s, token)
			results[i] = result{st, h, b}
		})
	}
	time.Sleep(100 * time.Millisecond)
	// Another user has a budget of its own.
	if st, _, b := tryWhoAmI(t, s, other); st != http.StatusOK {
		t.Errorf("other user: %d %s", st, b)
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			var e struct {
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal(r.body, &e)
			if e.Error.Code != "0x80072326" || e.Error.Message != "Number of concurrent requests exceeded the limit of 4." || r.header.Get("Retry-After") != "1" {
				t.Errorf("refusal: %v %s", r.header, r.body)
			}
		default:
			t.Errorf("status %d %s", r.status, r.body)
		}
	}
	if ok != 4 || refused != 6 {
		t.Errorf("ok %d, refused %d", ok, refused)
	}
	// Refused requests are never in flight: at most 4 of "app" + 1 of "other".
	if hw := s.ConcurrencyHighWater(); hw < 4 || hw > 5 {
		t.Errorf("ConcurrencyHighWater = %d", hw)
	}
	if s.RequestCount("GET WhoAmI") != 11 {
		t.Errorf("GET WhoAmI = %d", s.RequestCount("GET WhoAmI"))
	}
	// Finished requests leave at once: sequential requests are never refused.
	s.SetFaultRules(1)
	for range 10 {
		if st, _, b := tryWhoAmI(t, s, token); st != http.StatusOK {
			t.Fatalf("sequential: %d %s", st, b)
		}
	}
	n := 0
	for _, r := range s.RequestLog() {
		if r.Listener == ListenerEnvironment && r.User == s.ApplicationUserID("app") {
			n++
		}
	}
	if n != 20 {
		t.Errorf("log has %d WhoAmI of app", n)
	}
	s.ResetCounters()
	if s.ConcurrencyHighWater() != 0 || len(s.RequestLog()) != 0 {
		t.Error("ResetCounters left the high-water mark or the log")
	}
}

func TestRequestBudget(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{RequestsPerWindow: 3, LimitWindow: 2 * time.Second})
	// Requests without a valid token are not limited and do not count.
	for range 5 {
		if st, _, _ := tryWhoAmI(t, s, "not-a-token"); st != http.StatusUnauthorized {
			t.Fatalf("no token: %d", st)
		}
	}
	for i := range 3 {
		if st, _, b := tryWhoAmI(t, s, token); st != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, st, b)
		}
	}
	st, h, b := tryWhoAmI(t, s, token)
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(b, &e)
	if st != http.StatusTooManyRequests || e.Error.Code != "0x80072322" || e.Error.Message != "Number of requests exceeded the limit of 3 over time window of 2 seconds." {
		t.Fatalf("4th: %d %s", st, b)
	}
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2 {
		t.Fatalf("Retry-After %q", h.Get("Retry-After"))
	}
	time.Sleep(time.Duration(ra) * time.Second)
	if st, _, b := tryWhoAmI(t, s, token); st != http.StatusOK {
		t.Errorf("after Retry-After: %d %s", st, b)
	}
	s.ResetLimits()
	for i := range 3 {
		if st, _, b := tryWhoAmI(t, s, token); st != http.StatusOK {
			t.Fatalf("after ResetLimits %d: %d %s", i, st, b)
		}
	}
}

func TestBatchCountsOnceForLimits(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{RequestsPerWindow: 2, MaxConcurrentPerUser: 1})
	a := postBatch(t, s, token, []string{"GET WhoAmI HTTP/1.1\r\n", "GET WhoAmI HTTP/1.1\r\n", "GET WhoAmI HTTP/1.1\r\n", "GET organizations HTTP/1.1\r\n"}, "")
	if a.status != http.StatusOK || len(a.parts) != 4 {
		t.Fatalf("batch: %d %v", a.status, a.bodies)
	}
	for i, p := range a.parts {
		if p.StatusCode != http.StatusOK {
			t.Errorf("part %d: %d %s", i, p.StatusCode, a.bodies[i])
		}
	}
	if st, _, b := tryWhoAmI(t, s, token); st != http.StatusOK {
		t.Fatalf("second request: %d %s", st, b)
	}
	if st, _, b := tryWhoAmI(t, s, token); st != http.StatusTooManyRequests || !strings.Contains(string(b), "0x80072322") {
		t.Errorf("third request: %d %s", st, b)
	}
	if hw := s.ConcurrencyHighWater(); hw != 1 {
		t.Errorf("ConcurrencyHighWater = %d", hw)
	}
	if got := s.RequestCount("GET WhoAmI"); got != 5 {
		t.Errorf("GET WhoAmI = %d", got)
	}
}

func TestExecutionTimeLimit(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{ExecutionTimePerWindow: 250 * time.Millisecond, LimitWindow: time.Minute})
	s.SetFaultRules(1, FaultRule{Route: "GET WhoAmI", Latency: 150 * time.Millisecond})
	for i := range 2 {
		if st, _, b := tryWhoAmI(t, s, token); st != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, st, b)
		}
	}
	st, h, b := tryWhoAmI(t, s, token)
	want := `{"error":{"code":"0x80072321","message":"Combined execution time of incoming requests exceeded limit of 250 milliseconds over time window of 60 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later."}}`
	if st != http.StatusTooManyRequests || string(b) != want {
		t.Fatalf("3rd: %d %s", st, b)
	}
	if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 59 || ra > 60 {
		t.Errorf("Retry-After %q", h.Get("Retry-After"))
	}
}

func TestTokenExpiresMidRun(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{TokenLifetime: 2 * time.Second, AdvertisedTokenLifetime: time.Hour})
	s.AddSecretClient("app", "secret")

	// A rejected login counts as a request, not as an issued token.
	if status, _ := postToken(t, s, secretForm(s, "app", "wrong")); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", status)
	}
	if s.RequestCount("POST token") != 1 || s.TokensIssued("app") != 0 {
		t.Errorf("POST token %d, issued %d", s.RequestCount("POST token"), s.TokensIssued("app"))
	}

	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), "app", "secret", &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            clientOptions(s),
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	scopes := []string{s.EnvironmentURL() + "/.default"}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(tok.ExpiresOn); left < 50*time.Minute {
		t.Errorf("advertised lifetime %s", left)
	}
	if st, _, b := tryWhoAmI(t, s, tok.Token); st != http.StatusOK {
		t.Fatalf("fresh token: %d %s", st, b)
	}
	time.Sleep(2100 * time.Millisecond)
	cached, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes})
	if err != nil || cached.Token != tok.Token {
		t.Fatalf("MSAL did not serve its cache: %v", err)
	}
	st, h, _ := tryWhoAmI(t, s, cached.Token)
	if st != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
		t.Fatalf("expired token: %d %v", st, h)
	}
	// The client asks again with claims, which skips MSAL's cache.
	fresh, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes, Claims: `{"access_token":{"nbf":{"essential":true,"value":"1"}}}`})
	if err != nil || fresh.Token == tok.Token {
		t.Fatalf("fresh token: %v", err)
	}
	if st, _, b := tryWhoAmI(t, s, fresh.Token); st != http.StatusOK {
		t.Errorf("refreshed token: %d %s", st, b)
	}
	if got := s.TokensIssued("app"); got != 2 {
		t.Errorf("TokensIssued = %d, want 2", got)
	}
}

// Not parallel: it sets IDENTITY_ENDPOINT and IDENTITY_HEADER.
func TestAzidentityManagedIdentity(t *testing.T) {
	s := startServer(t, Options{})
	endpoint, header := s.ManagedIdentity("mi-app")
	s.ManagedIdentity("mi-user-assigned")
	t.Setenv("IDENTITY_ENDPOINT", endpoint)
	t.Setenv("IDENTITY_HEADER", header)
	for _, v := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_CLIENT_ID"} {
		t.Setenv(v, "")
	}
	opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: s.HTTPClient()}}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.EnvironmentURL() + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	r := callAPI(t, s, http.MethodGet, "WhoAmI", tok.Token, nil, nil)
	if r.status != http.StatusOK || r.json(t)["UserId"] != s.ApplicationUserID("mi-app") {
		t.Fatalf("WhoAmI: %d %s", r.status, r.body)
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.EnvironmentURL() + "/.default"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.GraphURL() + "/.default"}}); err != nil {
		t.Fatalf("Graph token: %v", err)
	}
	if got := s.TokensIssued("mi-app"); got != 2 {
		t.Errorf("TokensIssued = %d, want 2 (one cached)", got)
	}
	if got := s.RequestCount("GET msi-token"); got != 2 {
		t.Errorf("GET msi-token = %d", got)
	}

	// A user-assigned identity of the same host, by client id.
	opts.ID = azidentity.ClientID("mi-user-assigned")
	ua, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = ua.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.EnvironmentURL() + "/.default"}})
	if err != nil {
		t.Fatalf("user-assigned: %v", err)
	}
	if r := callAPI(t, s, http.MethodGet, "WhoAmI", tok.Token, nil, nil); r.json(t)["UserId"] != s.ApplicationUserID("mi-user-assigned") {
		t.Errorf("user-assigned WhoAmI: %s", r.body)
	}

	// A wrong header is refused (a resource not asked for before, since
	// MSAL caches managed identity tokens process-wide).
	t.Setenv("IDENTITY_HEADER", "wrong")
	bad, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: s.HTTPClient()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.GraphURL() + "/x/.default"}}); err == nil {
		t.Error("wrong header accepted")
	}
}

func TestManagedIdentityEndpoint(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{TokenLifetime: time.Minute, AdvertisedTokenLifetime: 2 * time.Hour})
	endpoint, header := s.ManagedIdentity("mi")
	get := func(query, hdr string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, endpoint+"?"+query, nil)
		if hdr != "" {
			req.Header.Set("X-IDENTITY-HEADER", hdr)
		}
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {s.EnvironmentURL()}}.Encode()
	status, body := get(q, header)
	if status != 200 || body["token_type"] != "Bearer" || body["resource"] != s.EnvironmentURL() || body["client_id"] != "mi" {
		t.Fatalf("%d %v", status, body)
	}
	exp, err := strconv.ParseInt(body["expires_on"].(string), 10, 64)
	if err != nil || time.Until(time.Unix(exp, 0)) < 110*time.Minute {
		t.Errorf("expires_on %v", body["expires_on"])
	}
	for _, c := range []struct {
		query, header string
		want          int
	}{
		{q, "", 401},
		{q, "wrong", 401},
		{url.Values{"api-version": {"2017-09-01"}, "resource": {s.EnvironmentURL()}}.Encode(), header, 400},
		{url.Values{"api-version": {"2019-08-01"}, "resource": {"https://unknown.example"}}.Encode(), header, 400},
		{q + "&client_id=nobody", header, 400},
	} {
		if status, body := get(c.query, c.header); status != c.want {
			t.Errorf("%s %q: %d %v", c.query, c.header, status, body)
		}
	}
}

// githubAssertion fetches a GitHub Actions OIDC token as an Actions step
// would: ACTIONS_ID_TOKEN_REQUEST_URL + "&audience=…", bearer
// ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func githubAssertion(ctx context.Context, client *http.Client, requestURL, requestToken, audience string) (string, error) {
	u := requestURL
	if audience != "" {
		u += "&audience=" + url.QueryEscape(audience)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+requestToken)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GitHub OIDC: HTTP %d", resp.StatusCode)
	}
	var v struct{ Value string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", err
	}
	return v.Value, nil
}

func TestAzidentityGitHubActionsOIDC(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	const subject = "repo:contoso/audit-baseline:ref:refs/heads/main"
	s.AddFederatedClient("gh-app", subject)
	requestURL, requestToken := s.GitHubActionsOIDC(subject)
	if !strings.Contains(requestURL, "?") {
		t.Errorf("request URL %s has no query", requestURL)
	}
	newCred := func(token, audience string) azcore.TokenCredential {
		cred, err := azidentity.NewClientAssertionCredential(s.TenantID(), "gh-app", func(ctx context.Context) (string, error) {
			return githubAssertion(ctx, s.HTTPClient(), requestURL, token, audience)
		}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(s), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	whoAmIWith(t, s, newCred(requestToken, "api://AzureADTokenExchange"), "gh-app")
	if got := s.RequestCount("GET github-idtoken"); got != 1 {
		t.Errorf("GET github-idtoken = %d", got)
	}

	scopes := []string{s.EnvironmentURL() + "/.default"}
	if _, err := newCred("wrong", "api://AzureADTokenExchange").GetToken(context.Background(), policy.TokenRequestOptions{Scopes: scopes}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong request token: %v", err)
	}
	// Without an audience GitHub's default (the owner's URL) is not
	// accepted as a federated credential.
	if _, err := newCred(requestToken, "").GetToken(context.Background(), policy.TokenRequestOptions{Scopes: scopes}); err == nil || !strings.Contains(err.Error(), "AADSTS70021") || !strings.Contains(err.Error(), "https://github.com/contoso") {
		t.Errorf("default audience: %v", err)
	}
}
