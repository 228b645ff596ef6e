package msapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/go-cleanhttp"
)

// HTTPClientWithCAFile returns the client used for login and API calls: base
// (nil means a pooled default client with the proxy from the environment)
// trusting the system roots plus the CA certificates of caFile, with TLS 1.2
// at least. An empty caFile returns base as is. TLS verification is never
// turned off.
func HTTPClientWithCAFile(base *http.Client, caFile string) (*http.Client, error) {
	if base == nil {
		base = cleanhttp.DefaultPooledClient()
	}
	if caFile == "" {
		return base, nil
	}
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", caFile, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("%s holds no PEM certificate; give the path of a PEM file with one or more CERTIFICATE blocks", caFile)
	}
	var transport *http.Transport
	if t, ok := base.Transport.(*http.Transport); ok && t != nil {
		transport = t.Clone()
	} else {
		transport = cleanhttp.DefaultPooledTransport()
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if transport.TLSClientConfig != nil {
		tlsCfg = transport.TLSClientConfig.Clone()
	}
	tlsCfg.RootCAs = pool
	transport.TLSClientConfig = tlsCfg
	c := *base
	c.Transport = transport
	return &c, nil
}

// IsCertificateError reports whether err is a server certificate that failed
// verification (unknown authority, wrong host name, expired, …): another
// attempt fails the same way, and the fix is ca_certificate_file or the
// system trust store. azidentity flattens transport errors to text, so the
// text is checked too.
func IsCertificateError(err error) bool {
	var certInvalid x509.CertificateInvalidError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &certInvalid) || errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return true
	}
	return containsAny(err.Error(), "tls: failed to verify certificate", "x509: certificate", "certificate is not trusted")
}

// containsAny reports whether s contains one of subs: the error text checks
// of errors that reach us flattened to text.
func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}
