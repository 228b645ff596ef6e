package emulator

import (
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// These tests prove the emulator works with the real azidentity/MSAL stack.

func clientOptions(s *Server) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()},
		Transport: s.HTTPClient(),
	}
}

// secretCredential is azidentity's client-secret credential for clientID,
// pointed at the emulator.
func secretCredential(t *testing.T, s *Server, clientID, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            clientOptions(s),
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// whoAmIWith gets a token from cred and calls WhoAmI with it.
func whoAmIWith(t *testing.T, s *Server, cred azcore.TokenCredential, clientID string) {
	t.Helper()
	ctx := context.Background()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.EnvironmentURL() + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	r := callAPI(t, s, http.MethodGet, "WhoAmI", tok.Token, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("WhoAmI: %d %s", r.status, r.body)
	}
	if got := r.json(t)["UserId"]; got != s.ApplicationUserID(clientID) {
		t.Errorf("UserId = %v, want %s", got, s.ApplicationUserID(clientID))
	}
	// A second GetToken is served from MSAL's cache.
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.EnvironmentURL() + "/.default"}}); err != nil {
		t.Fatal(err)
	}
	wantRequestCounts(t, s, map[string]int{"POST token": 1, "GET openid-configuration": 1})
}

func TestAzidentityClientSecret(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	s.AddSecretClient("secret-app", "s3cret")
	whoAmIWith(t, s, secretCredential(t, s, "secret-app", "s3cret"), "secret-app")

	bad := secretCredential(t, s, "secret-app", "wrong")
	if _, err := bad.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{s.EnvironmentURL() + "/.default"}}); err == nil {
		t.Error("wrong secret accepted")
	}
}

func TestAzidentityClientCertificate(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	pemBytes, _, _ := clientCertificate(t, "cert-app")
	certs, key, err := azidentity.ParseCertificates(pemBytes, nil)
	if err != nil {
		t.Fatalf("ParseCertificates: %v", err)
	}
	s.AddCertificateClient("cert-app", certs[0])
	cred, err := azidentity.NewClientCertificateCredential(s.TenantID(), "cert-app", certs, key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions:            clientOptions(s),
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	whoAmIWith(t, s, cred, "cert-app")
}

func TestAzidentityClientAssertion(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	const subject = "repo:contoso/audit-baseline:environment:prod"
	s.AddFederatedClient("fed-app", subject)
	cred, err := azidentity.NewClientAssertionCredential(s.TenantID(), "fed-app", func(context.Context) (string, error) {
		return s.IssueFederatedToken(subject)
	}, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            clientOptions(s),
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	whoAmIWith(t, s, cred, "fed-app")
}
