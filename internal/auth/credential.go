package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Credential is the token credential NewCredential returns. It remembers how it was built
// and prints only non-secret facts about itself.
type Credential struct {
	method        Method
	tenantID      string
	clientID      string
	authorityHost string // as configured; empty means azidentity's default
	source        string // which attribute supplied the secret material, e.g. oidc_token_file_path
	inner         azcore.TokenCredential
}

var _ azcore.TokenCredential = (*Credential)(nil)

// GetToken asks the underlying azidentity credential for a token.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return c.inner.GetToken(ctx, opts)
}

// Method is how this credential signs in.
func (c *Credential) Method() Method { return c.method }

// String describes the credential for logs; it never includes a secret, password or token.
func (c *Credential) String() string {
	var b strings.Builder
	b.WriteString("auth.Credential{method=")
	b.WriteString(string(c.method))
	if c.tenantID != "" {
		b.WriteString(" tenant_id=" + c.tenantID)
	}
	if c.clientID != "" {
		b.WriteString(" client_id=" + c.clientID)
	}
	if c.source != "" {
		b.WriteString(" source=" + c.source)
	}
	if c.authorityHost != "" {
		b.WriteString(" authority_host=" + c.authorityHost)
	}
	b.WriteString("}")
	return b.String()
}

// GoString keeps %#v from printing the wrapped credential, which holds secrets.
func (c *Credential) GoString() string { return c.String() }

// NewCredential selects a method (see Select) and builds its azidentity credential. No
// network request is made here; the first GetToken signs in.
func NewCredential(cfg Config) (azcore.TokenCredential, Method, error) {
	method, err := Select(cfg)
	if err != nil {
		return nil, method, err
	}
	cred := &Credential{method: method, authorityHost: cfg.AuthorityHost}

	switch method {
	case MethodAzureCLI:
		cred.tenantID = strings.TrimSpace(cfg.TenantID)
		cred.inner, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: cred.tenantID})
		if err != nil {
			return nil, method, &ConfigError{Attribute: AttrTenantID, Summary: "Cannot use the Azure CLI", Detail: err.Error()}
		}

	case MethodManagedIdentity:
		cred.clientID = strings.TrimSpace(cfg.ClientID)
		opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: clientOptions(cfg)}
		if cred.clientID != "" {
			opts.ID = azidentity.ClientID(cred.clientID)
		}
		cred.inner, err = azidentity.NewManagedIdentityCredential(opts)
		if err != nil {
			return nil, method, &ConfigError{Attribute: AttrUseMSI, Summary: "Cannot use managed identity", Detail: err.Error()}
		}

	case MethodClientSecret, MethodClientCertificate, MethodOIDC:
		if err := cred.buildAppRegistrationCredential(cfg); err != nil {
			return nil, method, err
		}

	default:
		return nil, method, fmt.Errorf("auth: unknown method %q", method)
	}
	return cred, method, nil
}

// buildAppRegistrationCredential builds the azidentity credential of an app
// registration for cred.method: by client secret, certificate or OIDC
// assertion, all against the configured login host. A constructor's error
// is returned with the method's secrets removed.
func (c *Credential) buildAppRegistrationCredential(cfg Config) error {
	if err := validateAuthorityHost(cfg); err != nil {
		return err
	}
	c.tenantID, c.clientID = strings.TrimSpace(cfg.TenantID), strings.TrimSpace(cfg.ClientID)
	options, disableDiscovery := clientOptions(cfg), disableInstanceDiscovery(cfg)
	options.Retry.ShouldRetry = retryLoginRequest
	var (
		err     error
		secrets []string
	)
	switch c.method {
	case MethodClientSecret:
		c.source, secrets = AttrClientSecret, []string{cfg.ClientSecret}
		c.inner, err = azidentity.NewClientSecretCredential(c.tenantID, c.clientID, cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: options, DisableInstanceDiscovery: disableDiscovery})

	case MethodClientCertificate:
		certs, key, loadErr := loadCertificate(cfg)
		if loadErr != nil {
			return loadErr
		}
		c.source, secrets = cfg.certificateAttr(), []string{cfg.ClientCertificatePassword}
		c.inner, err = azidentity.NewClientCertificateCredential(c.tenantID, c.clientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{
				ClientOptions: options, DisableInstanceDiscovery: disableDiscovery, SendCertificateChain: false,
			})

	case MethodOIDC:
		getAssertion, source, sourceErr := assertionSource(cfg)
		if sourceErr != nil {
			return sourceErr
		}
		c.source, secrets = source, []string{cfg.OIDCToken, cfg.OIDCRequestToken}
		c.inner, err = azidentity.NewClientAssertionCredential(c.tenantID, c.clientID, getAssertion,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: options, DisableInstanceDiscovery: disableDiscovery})

	default:
		return fmt.Errorf("auth: %q is not an app registration method", c.method)
	}
	if err != nil {
		return constructionError(err, secrets...)
	}
	return nil
}

// loginRetryStatusCodes are azcore's default retried statuses, which a
// ShouldRetry replaces.
var loginRetryStatusCodes = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// retryLoginRequest is azcore's retry rule for the token and discovery
// requests of an app registration, except that a server certificate that
// failed verification is not retried: every attempt fails alike, and the
// backoff only delays the error by about ten seconds.
func retryLoginRequest(resp *http.Response, err error) bool {
	if err != nil {
		return !msapi.IsCertificateError(err)
	}
	return runtime.HasStatusCode(resp, loginRetryStatusCodes...)
}

// clientOptions points azidentity at the configured login host and HTTP client.
func clientOptions(cfg Config) azcore.ClientOptions {
	var o azcore.ClientOptions
	if host := strings.TrimSpace(cfg.AuthorityHost); host != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: host}
	}
	// Assign only a non-nil client: a typed nil in the Transporter interface would be used.
	if cfg.HTTPClient != nil {
		o.Transport = cfg.HTTPClient
	}
	return o
}

// effectiveAuthorityHost follows azidentity's precedence: the configured host, then
// AZURE_AUTHORITY_HOST, then the public cloud.
func effectiveAuthorityHost(cfg Config) string {
	if host := strings.TrimSpace(cfg.AuthorityHost); host != "" {
		return host
	}
	if host := strings.TrimSpace(os.Getenv(EnvVar(AttrAuthorityHost))); host != "" {
		return host
	}
	return cloud.AzurePublic.ActiveDirectoryAuthorityHost
}

func disableInstanceDiscovery(cfg Config) bool {
	return !IsMicrosoftAuthorityHost(effectiveAuthorityHost(cfg))
}

func validateAuthorityHost(cfg Config) error {
	host := strings.TrimSpace(cfg.AuthorityHost)
	if host == "" {
		return nil
	}
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return &ConfigError{
			Attribute: AttrAuthorityHost,
			Summary:   "Invalid authority host",
			Detail:    fmt.Sprintf("%s must be an https URL such as https://login.microsoftonline.com/, got %q", AttrAuthorityHost, host),
		}
	}
	return nil
}

// constructionError reports an azidentity constructor failure (typically an invalid tenant
// ID) with any secret removed from its text.
func constructionError(err error, secrets ...string) error {
	return &ConfigError{
		Attribute: AttrTenantID,
		Summary:   "Cannot build the credential",
		Detail:    redact(err.Error(), secrets...),
	}
}

// redact replaces every non-empty secret in s.
func redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret = strings.TrimSpace(secret); secret != "" {
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}
