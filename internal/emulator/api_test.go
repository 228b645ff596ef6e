package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAPIRejectsBadTokens(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	s.AddSecretClient("app", "secret")
	other := startServer(t, Options{})
	other.AddSecretClient("app", "secret")

	expired, err := s.IssueAccessToken("app", s.EnvironmentURL(), -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wrongAudience, _ := s.IssueAccessToken("app", "https://graph.microsoft.com", time.Hour)
	foreign, _ := other.IssueAccessToken("app", s.EnvironmentURL(), time.Hour)
	wantChallenge := "Bearer authorization_uri=" + s.AuthorityHost() + s.TenantID() + "/oauth2/authorize, resource_id=" + s.EnvironmentURL() + "/"

	for name, token := range map[string]string{
		"missing":        "",
		"garbage":        "abc.def.ghi",
		"expired":        expired,
		"wrong audience": wrongAudience,
		"other emulator": foreign,
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"WhoAmI", "organizations", "nosuchset"} {
				r := callAPI(t, s, http.MethodGet, path, token, nil, nil)
				if r.status != http.StatusUnauthorized || len(r.body) != 0 {
					t.Errorf("%s: %d %q", path, r.status, r.body)
				}
				if got := r.header.Get("WWW-Authenticate"); got != wantChallenge {
					t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
				}
			}
		})
	}

	// With a trailing slash the audience is still this environment.
	slash, _ := s.IssueAccessToken("app", s.EnvironmentURL()+"/", time.Hour)
	if r := callAPI(t, s, http.MethodGet, "WhoAmI", slash, nil, nil); r.status != http.StatusOK {
		t.Errorf("trailing-slash audience: %d %s", r.status, r.body)
	}
}

func TestWhoAmI(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	for _, path := range []string{"WhoAmI", "WhoAmI()"} {
		r := callAPI(t, s, http.MethodGet, path, token, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		body := r.json(t)
		if body["UserId"] != s.ApplicationUserID("app") || body["OrganizationId"] != s.OrganizationID() || body["BusinessUnitId"] != s.BusinessUnitID() {
			t.Errorf("%s: %v", path, body)
		}
		if body["@odata.context"] != s.EnvironmentURL()+"/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse" {
			t.Errorf("context = %v", body["@odata.context"])
		}
		if r.header.Get("OData-Version") != "4.0" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("headers = %v", r.header)
		}
	}
	if got := s.RequestCount("GET WhoAmI"); got != 2 {
		t.Errorf("GET WhoAmI = %d", got)
	}
	if r := callAPI(t, s, http.MethodPost, "WhoAmI", token, map[string]any{}, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST WhoAmI: %d", r.status)
	}
}

func TestUnknownSegment(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	r := callAPI(t, s, http.MethodGet, "accountz?$select=name", token, nil, nil)
	code, msg := r.odataError(t)
	if r.status != http.StatusNotFound || code != "0x8006088a" || msg != "Resource not found for the segment 'accountz'." {
		t.Errorf("%d %s %s", r.status, code, msg)
	}
	if got := s.RequestCount("GET other"); got != 1 {
		t.Errorf("GET other = %d", got)
	}
}

func TestCounters(t *testing.T) {
	t.Parallel()
	s, token := startAppServer(t, Options{})
	callAPI(t, s, http.MethodGet, "organizations", token, nil, nil)
	callAPI(t, s, http.MethodPatch, "organizations("+s.OrganizationID()+")", "", map[string]any{"isauditenabled": true}, nil) // 401
	callAPI(t, s, http.MethodDelete, "organizations("+s.OrganizationID()+")", token, nil, nil)                                // 405
	callAPI(t, s, http.MethodPost, "nosuchset", token, map[string]any{}, nil)                                                 // 404

	want := map[string]int{
		"POST token":           1,
		"GET organizations":    1,
		"PATCH organizations":  1,
		"DELETE organizations": 1,
		"POST other":           1,
	}
	got := s.Requests()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Requests = %v", got)
	}
	if s.WriteCount() != 3 {
		t.Errorf("WriteCount = %d, want 3 (token requests are not Dataverse writes)", s.WriteCount())
	}
	if s.Organization().IsAuditEnabled {
		t.Error("refused PATCH changed state")
	}
	s.ResetCounters()
	if s.WriteCount() != 0 || len(s.Requests()) != 0 || s.RequestCount("POST token") != 0 {
		t.Error("ResetCounters left counts")
	}
}

func TestOnRequestNeverSeesSecrets(t *testing.T) {
	t.Parallel()
	var mu = make(chan RequestInfo, 16)
	s := startServer(t, Options{OnRequest: func(ri RequestInfo) { mu <- ri }})
	s.AddSecretClient("app", "hunter2")
	token := login(t, s, "app", "hunter2")
	callAPI(t, s, http.MethodGet, "WhoAmI", token, nil, nil)
	for range 2 {
		ri := <-mu
		if strings.Contains(ri.Path, "hunter2") || strings.Contains(ri.Path, token) {
			t.Errorf("request info leaks: %+v", ri)
		}
		switch ri.Route {
		case "token":
			if ri.Listener != ListenerLogin || ri.Status != http.StatusOK || ri.Method != http.MethodPost {
				t.Errorf("%+v", ri)
			}
		case "WhoAmI":
			if ri.Listener != ListenerEnvironment || ri.Status != 200 || ri.Path != "/api/data/v9.2/WhoAmI" {
				t.Errorf("%+v", ri)
			}
		default:
			t.Errorf("unexpected %+v", ri)
		}
	}
}
