package acctest

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// CertificateClient is an application that logs in with a client
// certificate: PEMFile holds the certificate and its unencrypted key.
type CertificateClient struct {
	ClientID string
	PEMFile  string
}

// AddCertificateClient registers an application with a new self-signed
// certificate (subject commonName) and writes certificate and key to a file
// of t's temporary directory.
func (e *Env) AddCertificateClient(t testing.TB, commonName string) CertificateClient {
	t.Helper()
	certPEM, keyPEM, err := emulator.GenerateClientCertificate(commonName)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("the emulator's client certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	client := CertificateClient{ClientID: uuid.NewString(), PEMFile: filepath.Join(t.TempDir(), "client.pem")}
	e.Emulator.AddCertificateClient(client.ClientID, cert)
	if err := os.WriteFile(client.PEMFile, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return client
}

// FederatedClient is an application that logs in with a federated token
// (workload identity): Token is what the identity provider issued for the
// subject, TokenFile holds it.
type FederatedClient struct {
	ClientID  string
	Token     string
	TokenFile string
}

// AddFederatedClient registers an application that trusts tokens for
// subject, and writes one such token to a file of t's temporary directory.
func (e *Env) AddFederatedClient(t testing.TB, subject string) FederatedClient {
	t.Helper()
	client := FederatedClient{ClientID: uuid.NewString(), TokenFile: filepath.Join(t.TempDir(), "token")}
	e.Emulator.AddFederatedClient(client.ClientID, subject)
	token, err := e.Emulator.IssueFederatedToken(subject)
	if err != nil {
		t.Fatal(err)
	}
	client.Token = token
	if err := os.WriteFile(client.TokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	return client
}
