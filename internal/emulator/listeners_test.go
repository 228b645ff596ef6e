package emulator

import (
	"net"
	"net/url"
	"strconv"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestListenerPorts(t *testing.T) {
	t.Parallel()
	loginPort, env, graph := freePort(t), freePort(t), freePort(t)
	s := startServer(t, Options{LoginPort: loginPort, EnvironmentPort: env, GraphPort: graph})
	if s.AuthorityHost() != "https://127.0.0.1:"+strconv.Itoa(loginPort)+"/" ||
		s.EnvironmentURL() != "https://127.0.0.1:"+strconv.Itoa(env) ||
		s.GraphURL() != "https://127.0.0.1:"+strconv.Itoa(graph) {
		t.Errorf("URLs %s %s %s for ports %d %d %d", s.AuthorityHost(), s.EnvironmentURL(), s.GraphURL(), loginPort, env, graph)
	}
	s.AddSecretClient("app", "secret")
	if status, _, _ := tryWhoAmI(t, s, login(t, s, "app", "secret")); status != 200 {
		t.Errorf("WhoAmI on the chosen port: %d", status)
	}
	// A port in use is an error naming it.
	if _, err := Start(Options{EnvironmentPort: env}); err == nil {
		t.Error("second server on the same port started")
	}
}

func TestFederatedIssuerOption(t *testing.T) {
	t.Parallel()
	const issuer = "https://token.actions.githubusercontent.com"
	const subject = "repo:contoso/baseline:ref:refs/heads/main"
	s := startServer(t, Options{FederatedIssuer: issuer})
	s.AddFederatedClient("fed-app", subject)
	tok, err := s.IssueFederatedToken(subject)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil || claims["iss"] != issuer || s.FederatedIssuer() != issuer {
		t.Fatalf("claims %v, issuer %s, %v", claims, s.FederatedIssuer(), err)
	}
	status, body := postToken(t, s, url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {"fed-app"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {tok},
		"scope":                 {s.EnvironmentURL() + "/.default"},
	})
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	// The discovery document stays on the login listener, its keys too.
	var cfg map[string]any
	getJSON(t, s, s.AuthorityHost()+"federated/.well-known/openid-configuration", &cfg)
	if cfg["issuer"] != issuer || cfg["jwks_uri"] != s.AuthorityHost()+"federated/keys" {
		t.Errorf("discovery = %v", cfg)
	}
}
