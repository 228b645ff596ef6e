// Package auth turns the provider's credential settings into an azcore.TokenCredential.
//
// It has no Terraform imports: the provider reads attributes and environment variables into
// a Config, calls Select (pure, so plan-time validation can use it) and NewCredential, and
// turns a *ConfigError into an attribute diagnostic.
package auth

import (
	"net/http"
	"strings"
)

// Method is the way the provider signs in.
type Method string

const (
	MethodClientSecret      Method = "client_secret"
	MethodClientCertificate Method = "client_certificate"
	// MethodOIDC is workload identity federation: a federated token given directly, read
	// from a file (Kubernetes), or fetched from GitHub Actions' OIDC request URL.
	MethodOIDC            Method = "oidc"
	MethodManagedIdentity Method = "managed_identity"
	MethodAzureCLI        Method = "azure_cli"
)

// Provider attribute names, used in ConfigError.Attribute and in messages.
const (
	AttrTenantID                  = "tenant_id"
	AttrClientID                  = "client_id"
	AttrClientSecret              = "client_secret"
	AttrClientCertificateFilePath = "client_certificate_file_path"
	// AttrClientCertificate names the certificate when it is given as contents (Config.ClientCertificate)
	// rather than as a path.
	AttrClientCertificate         = "client_certificate"
	AttrClientCertificatePassword = "client_certificate_password"
	AttrUseOIDC                   = "use_oidc"
	AttrOIDCToken                 = "oidc_token"
	AttrOIDCTokenFilePath         = "oidc_token_file_path"
	AttrOIDCRequestURL            = "oidc_request_url"
	AttrOIDCRequestToken          = "oidc_request_token"
	AttrUseMSI                    = "use_msi"
	AttrUseCLI                    = "use_cli"
	AttrAuthorityHost             = "authority_host"
)

// Config is everything the provider knows about credentials, after environment fallbacks.
type Config struct {
	TenantID, ClientID string

	ClientSecret string

	ClientCertificatePath     string // PEM or PFX file
	ClientCertificate         []byte // alternatively the file contents (already base64-decoded)
	ClientCertificatePassword string

	UseOIDC           bool
	OIDCToken         string // a federated token given directly
	OIDCTokenFilePath string // re-read for every token request (Kubernetes rotates it)
	// GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	OIDCRequestURL, OIDCRequestToken string

	UseMSI bool // ClientID (optional) selects a user-assigned identity
	UseCLI bool

	// AuthorityHost overrides the login host, e.g. "https://login.microsoftonline.com/". Empty
	// means AZURE_AUTHORITY_HOST, then the public cloud (azidentity's own precedence).
	AuthorityHost string
	// HTTPClient, when set, sends the token requests (and the GitHub Actions OIDC request),
	// e.g. to trust extra CAs.
	HTTPClient *http.Client
}

// ConfigError is a configuration problem the provider reports against one attribute.
// Attribute is empty when no single attribute is at fault.
type ConfigError struct {
	Attribute string
	Summary   string
	Detail    string
}

func (e *ConfigError) Error() string {
	if e.Detail == "" {
		return e.Summary
	}
	return e.Summary + ": " + e.Detail
}

// withEnv renders an attribute name with its environment variable, e.g. "tenant_id (AZURE_TENANT_ID)".
func withEnv(attr string) string {
	return attr + " (" + EnvVar(attr) + ")"
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func (c Config) hasCertificate() bool {
	return !blank(c.ClientCertificatePath) || len(c.ClientCertificate) > 0
}

// certificateAttr is the attribute the certificate came from.
func (c Config) certificateAttr() string {
	if blank(c.ClientCertificatePath) && len(c.ClientCertificate) > 0 {
		return AttrClientCertificate
	}
	return AttrClientCertificateFilePath
}

// oidcSource is which federated token source is configured, in order of preference; partial
// reports an attribute that is missing its partner (request URL without token or vice versa).
func (c Config) oidcSource() (source string, partial string) {
	switch {
	case !blank(c.OIDCToken):
		return AttrOIDCToken, ""
	case !blank(c.OIDCTokenFilePath):
		return AttrOIDCTokenFilePath, ""
	case !blank(c.OIDCRequestURL) && !blank(c.OIDCRequestToken):
		return AttrOIDCRequestURL, ""
	case !blank(c.OIDCRequestURL):
		return "", AttrOIDCRequestToken
	case !blank(c.OIDCRequestToken):
		return "", AttrOIDCRequestURL
	}
	return "", ""
}
