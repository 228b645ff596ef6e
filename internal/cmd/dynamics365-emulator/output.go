package main

import (
	"crypto/sha1" //nolint:gosec // the x5t thumbprint Entra shows is SHA-1
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// connection is what a client needs to reach a running emulator.
type connection struct {
	srv                              *emulator.Server
	clientID, clientSecret           string
	controlKey                       string
	oidcRequestURL, oidcRequestToken string // set with -federated-subject
}

// exportLines are the env file's lines: the provider's environment
// variables, then the control key.
func (c connection) exportLines() string {
	vars := [][2]string{
		{"DYNAMICS365_ENVIRONMENT_URL", c.srv.EnvironmentURL()},
		{"DYNAMICS365_GRAPH_URL", c.srv.GraphURL()},
		{"AZURE_AUTHORITY_HOST", c.srv.AuthorityHost()},
		{"AZURE_TENANT_ID", c.srv.TenantID()},
		{"AZURE_CLIENT_ID", c.clientID},
		{"AZURE_CLIENT_SECRET", c.clientSecret},
		{"DYNAMICS365_CA_CERTIFICATE_FILE", c.srv.CAFile()},
	}
	if c.oidcRequestURL != "" {
		vars = append(vars,
			[2]string{"ACTIONS_ID_TOKEN_REQUEST_URL", c.oidcRequestURL},
			[2]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN", c.oidcRequestToken})
	}
	vars = append(vars, [2]string{controlKeyVar, c.controlKey})
	var b strings.Builder
	for _, kv := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return b.String()
}

// tfvarsNames are the variables of -tfvars-file, in the order and with the
// names internal/baselinetest writes for examples/compliance-baseline
// (there prefixed with tenant_a_ or tenant_b_).
var tfvarsNames = []string{"environment_url", "tenant_id", "client_id", "authority_host", "ca_certificate_file", "graph_url", "client_secret"}

// tfvars renders the connection as a .tfvars file; prefix "" for plain names.
func (c connection) tfvars(prefix string) string {
	values := map[string]string{
		"environment_url":     c.srv.EnvironmentURL(),
		"tenant_id":           c.srv.TenantID(),
		"client_id":           c.clientID,
		"authority_host":      c.srv.AuthorityHost(),
		"ca_certificate_file": c.srv.CAFile(),
		"graph_url":           c.srv.GraphURL(),
		"client_secret":       c.clientSecret,
	}
	if prefix != "" {
		prefix += "_"
	}
	var b strings.Builder
	b.WriteString("# Written by dynamics365-emulator; valid while it runs (removed when it stops).\n")
	for _, name := range tfvarsNames {
		fmt.Fprintf(&b, "%s%s = %s\n", prefix, name, hclQuote(values[name]))
	}
	return b.String()
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func checkTFVarsPrefix(prefix string) error {
	if prefix != "" && !identifier.MatchString(prefix) {
		return fmt.Errorf("-tfvars-prefix %q is not a Terraform identifier: use letters, digits, _ and -, starting with a letter or _ (e.g. tenant_a)", prefix)
	}
	return nil
}

// hclQuote quotes s as an HCL string literal that Terraform reads back as
// s: escapes, and "${" / "%{" doubled so that no template is evaluated.
func hclQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shellQuote single-quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeFileAtomic writes data to a temporary file beside path and renames it,
// so a reader polling for path never sees a partial file. The file holds a
// secret: mode 0600.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// certificateFile is the certificate of -client-certificate.
type certificateFile struct {
	cert       *x509.Certificate
	subject    string
	thumbprint string // SHA-1, upper-case hex, as the Entra portal shows it
}

// readCertificate reads the first CERTIFICATE block of a PEM file; other
// blocks (a private key kept in the same file) are skipped.
func readCertificate(path string) (*certificateFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-client-certificate: %w", err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("-client-certificate %s: no PEM CERTIFICATE block (a PFX file must be converted first, e.g. openssl pkcs12 -in cert.pfx -clcerts -nokeys -out cert.pem)", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("-client-certificate %s: %w", path, err)
		}
		sum := sha1.Sum(cert.Raw) //nolint:gosec // a thumbprint, not a signature
		return &certificateFile{cert: cert, subject: cert.Subject.String(), thumbprint: strings.ToUpper(hex.EncodeToString(sum[:]))}, nil
	}
}
