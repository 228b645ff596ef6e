package auth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"golang.org/x/crypto/pkcs12"
)

// pfxHint is how to produce a PFX that golang.org/x/crypto/pkcs12 (used by azidentity) can read.
const pfxHint = "PFX files must use legacy encryption (3DES or RC2 with a SHA-1 MAC), e.g. `openssl pkcs12 -export -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1 ...`"

// loadCertificate reads the certificate chain and private key from the configured file or bytes.
// Errors name the attribute at fault and never contain the password.
func loadCertificate(cfg Config) ([]*x509.Certificate, crypto.PrivateKey, error) {
	attr := cfg.certificateAttr()
	data := cfg.ClientCertificate
	if attr == AttrClientCertificateFilePath {
		path := strings.TrimSpace(cfg.ClientCertificatePath)
		var err error
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, nil, &ConfigError{
				Attribute: attr,
				Summary:   "Cannot read the client certificate",
				Detail:    fmt.Sprintf("reading %s %q: %v", attr, path, unwrapPathError(err)),
			}
		}
	}
	password := cfg.ClientCertificatePassword

	if looksLikePEM(data) {
		if encryptedPEMKey(data) {
			return nil, nil, &ConfigError{
				Attribute: attr,
				Summary:   "Encrypted PEM private keys are not supported",
				Detail: fmt.Sprintf("the private key in %s is encrypted; provide an unencrypted PEM key (e.g. `openssl pkcs8 -topk8 -nocrypt`), or a PFX protected by %s. %s",
					attr, AttrClientCertificatePassword, pfxHint),
			}
		}
		// A password is meaningless for an unencrypted PEM; azidentity would try the data as PFX if given one.
		certs, key, err := azidentity.ParseCertificates(data, nil)
		if err != nil {
			return nil, nil, &ConfigError{
				Attribute: attr,
				Summary:   "Invalid client certificate",
				Detail:    fmt.Sprintf("%s is PEM but needs a CERTIFICATE block and an unencrypted PRIVATE KEY or RSA PRIVATE KEY block: %s", attr, redact(err.Error(), password)),
			}
		}
		return certs, key, nil
	}

	certs, key, err := azidentity.ParseCertificates(data, []byte(password))
	if err != nil {
		msg := redact(err.Error(), password)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			summary := "Wrong client certificate password"
			if password == "" {
				summary = "Client certificate password required"
			}
			return nil, nil, &ConfigError{
				Attribute: AttrClientCertificatePassword,
				Summary:   summary,
				Detail:    fmt.Sprintf("%s does not decrypt the PFX in %s (%s)", withEnv(AttrClientCertificatePassword), attr, msg),
			}
		}
		if strings.Contains(msg, "error reading P12 data") {
			// The ASN.1 parser's message says nothing useful about data that is not PKCS#12 at all.
			msg = "the data is neither PEM nor PKCS#12"
		}
		return nil, nil, &ConfigError{
			Attribute: attr,
			Summary:   "Invalid client certificate",
			Detail:    fmt.Sprintf("%s is neither a PEM certificate with an unencrypted key nor a readable PFX (PKCS#12) file (%s). %s", attr, msg, pfxHint),
		}
	}
	return certs, key, nil
}

func looksLikePEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// encryptedPEMKey reports a PKCS#8 "ENCRYPTED PRIVATE KEY" or a legacy Proc-Type: 4,ENCRYPTED key.
func encryptedPEMKey(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			return true
		}
		if strings.Contains(block.Type, "PRIVATE KEY") && strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return true
		}
	}
}

// unwrapPathError drops the path from *os.PathError, which the caller already prints.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
