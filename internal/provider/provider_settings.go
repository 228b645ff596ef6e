package provider

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/auth"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// providerSettings is the provider block resolved against the environment:
// every value checked and defaulted, nothing contacted or read from disk.
type providerSettings struct {
	environmentURL        string // scheme://host[:port] as written, without a trailing slash
	cloud                 auth.Cloud
	authorityHost         string // ends with "/"
	graphURL              string
	graphAPIVersion       string
	requestTimeout        time.Duration
	maxRetries            int // 0 means no retries
	maxConcurrentRequests int
	caCertificateFile     string
	solutionUniqueName    string
	// login selects the credential; its AuthorityHost and HTTPClient are
	// filled when the credential is built.
	login auth.Config
}

// settingsSource reads a setting from the provider block, or from its
// environment variable when the attribute is not set.
type settingsSource struct {
	getenv func(string) string
}

func (src settingsSource) text(v types.String, env string) string {
	if !v.IsNull() {
		return v.ValueString()
	}
	return src.getenv(env)
}

func (src settingsSource) flag(v types.Bool, env string) (bool, error) {
	if !v.IsNull() {
		return v.ValueBool(), nil
	}
	raw := src.getenv(env)
	if raw == "" {
		return false, nil
	}
	parsed, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("environment variable %s must be true or false, got %q", env, raw)
	}
	return parsed, nil
}

// wholeNumber is an integer setting with its range: the schema validators see
// only the provider block, not the environment.
type wholeNumber struct {
	attribute string
	env       string
	def, lo   int64
	hi        int64
	why       string // appended to the range in the error
}

func (src settingsSource) number(v types.Int64, n wholeNumber) (int, diag.Diagnostic) {
	value := n.def
	var err error
	if !v.IsNull() {
		value = v.ValueInt64()
	} else if raw := src.getenv(n.env); raw != "" {
		if value, err = strconv.ParseInt(raw, 10, 64); err != nil {
			err = fmt.Errorf("environment variable %s must be a whole number, got %q", n.env, raw)
		}
	}
	if err == nil && (value < n.lo || value > n.hi) {
		err = fmt.Errorf("%s must be between %d and %d%s, got %d", n.attribute, n.lo, n.hi, n.why, value)
	}
	if err != nil {
		return 0, diag.NewAttributeErrorDiagnostic(path.Root(n.attribute), "Invalid "+n.attribute, err.Error())
	}
	return int(value), nil
}

var (
	maxRetriesSetting = wholeNumber{attribute: "max_retries", env: envMaxRetries,
		def: msapi.DefaultMaxRetries, lo: 0, hi: 30}
	maxConcurrentRequestsSetting = wholeNumber{attribute: "max_concurrent_requests", env: envMaxConcurrentRequests,
		def: msapi.DefaultMaxConcurrentRequests, lo: 1, hi: 52, why: " (the Dataverse limit per user)"}
)

// resolveSettings checks the provider block and fills what it leaves unset
// from the environment (getenv) and the defaults. It stops at the first
// wrong value, as Terraform shows one provider error best; the only
// exceptions are unknown values and malformed login switches, which are all
// reported together.
func resolveSettings(cfg providerModel, getenv func(string) string) (providerSettings, diag.Diagnostics) {
	var diags diag.Diagnostics
	src := settingsSource{getenv: getenv}
	var s providerSettings

	// Unknown values (e.g. from another resource) cannot configure a client yet.
	for _, a := range []struct {
		name  string
		value interface{ IsUnknown() bool }
	}{
		{"environment_url", cfg.EnvironmentURL}, {"tenant_id", cfg.TenantID}, {"client_id", cfg.ClientID},
		{"client_secret", cfg.ClientSecret}, {"authority_host", cfg.AuthorityHost}, {"ca_certificate_file", cfg.CACertificateFile},
	} {
		if a.value.IsUnknown() {
			diags.AddAttributeError(path.Root(a.name), "Unknown provider configuration value",
				"The provider cannot be configured while "+a.name+" is unknown. Set it to a value known at plan time.")
		}
	}
	if diags.HasError() {
		return s, diags
	}

	envURL := src.text(cfg.EnvironmentURL, envEnvironmentURL)
	if envURL == "" {
		diags.AddAttributeError(path.Root("environment_url"), "Missing environment_url",
			"Set environment_url in the provider block or the "+envEnvironmentURL+" environment variable to the URL of the "+
				"Dataverse environment, e.g. https://contoso.crm.dynamics.com.")
		return s, diags
	}
	var err error
	if s.environmentURL, err = normalizeEnvironmentURL(envURL); err != nil {
		diags.AddAttributeError(path.Root("environment_url"), "Invalid environment_url", err.Error())
		return s, diags
	}

	cloudName := src.text(cfg.Cloud, envCloud)
	if cloudName == "" {
		cloudName = defaultCloud
	}
	var ok bool
	if s.cloud, ok = auth.LookupCloud(cloudName); !ok {
		diags.AddAttributeError(path.Root("cloud"), "Unknown cloud",
			fmt.Sprintf("cloud %q is not one of %s.", cloudName, strings.Join(auth.CloudNames(), ", ")))
		return s, diags
	}
	s.authorityHost = s.cloud.AuthorityHost
	if v := src.text(cfg.AuthorityHost, envAuthorityHost); v != "" {
		normalized, err := msapi.NormalizeURL(v)
		if err != nil {
			diags.AddAttributeError(path.Root("authority_host"), "Invalid authority_host", err.Error())
			return s, diags
		}
		s.authorityHost = normalized + "/"
	}
	s.graphURL = s.cloud.GraphURL
	if v := src.text(cfg.GraphURL, envGraphURL); v != "" {
		if s.graphURL, err = msapi.NormalizeURL(v); err != nil {
			diags.AddAttributeError(path.Root("graph_url"), "Invalid graph_url", err.Error())
			return s, diags
		}
	}
	s.graphAPIVersion = src.text(cfg.GraphAuditAPIVersion, envGraphAuditAPIVersion)
	if s.graphAPIVersion == "" {
		s.graphAPIVersion = defaultGraphAuditAPIVersion
	}
	if s.graphAPIVersion != defaultGraphAuditAPIVersion && s.graphAPIVersion != graphAuditAPIVersionV1 {
		diags.AddAttributeError(path.Root("graph_audit_api_version"), "Invalid graph_audit_api_version",
			fmt.Sprintf("graph_audit_api_version must be %q or %q, got %q.", defaultGraphAuditAPIVersion, graphAuditAPIVersionV1, s.graphAPIVersion))
		return s, diags
	}

	s.requestTimeout = msapi.DefaultRequestTimeout
	if raw := src.text(cfg.RequestTimeout, envRequestTimeout); raw != "" {
		if s.requestTimeout, err = parseTimeout(raw); err != nil {
			diags.AddAttributeError(path.Root("request_timeout"), "Invalid request_timeout", err.Error())
			return s, diags
		}
	}
	var numberErr diag.Diagnostic
	if s.maxRetries, numberErr = src.number(cfg.MaxRetries, maxRetriesSetting); numberErr != nil {
		diags.Append(numberErr)
		return s, diags
	}
	if s.maxConcurrentRequests, numberErr = src.number(cfg.MaxConcurrentRequests, maxConcurrentRequestsSetting); numberErr != nil {
		diags.Append(numberErr)
		return s, diags
	}
	s.caCertificateFile = src.text(cfg.CACertificateFile, envCACertificateFile)

	login := auth.Config{
		TenantID:                  src.text(cfg.TenantID, envTenantID),
		ClientID:                  src.text(cfg.ClientID, envClientID),
		ClientSecret:              src.text(cfg.ClientSecret, envClientSecret),
		ClientCertificatePath:     src.text(cfg.ClientCertificateFilePath, envClientCertificatePath),
		ClientCertificatePassword: src.text(cfg.ClientCertificatePassword, envClientCertificatePass),
		OIDCToken:                 src.text(cfg.OIDCToken, envOIDCToken),
		OIDCTokenFilePath:         src.text(cfg.OIDCTokenFilePath, envOIDCTokenFilePath),
		OIDCRequestURL:            src.text(cfg.OIDCRequestURL, envOIDCRequestURL),
		OIDCRequestToken:          src.text(cfg.OIDCRequestToken, envOIDCRequestToken),
	}
	for _, sw := range []struct {
		value  types.Bool
		env    string
		target *bool
	}{
		{cfg.UseOIDC, envUseOIDC, &login.UseOIDC}, {cfg.UseMSI, envUseMSI, &login.UseMSI}, {cfg.UseCLI, envUseCLI, &login.UseCLI},
	} {
		if *sw.target, err = src.flag(sw.value, sw.env); err != nil {
			diags.AddError("Invalid provider environment variable", err.Error())
		}
	}
	if diags.HasError() {
		return s, diags
	}
	s.login = login
	s.solutionUniqueName = src.text(cfg.SolutionUniqueName, envSolutionUniqueName)
	return s, diags
}

// transport returns the transport settings the Dataverse and Graph clients
// share.
func (s providerSettings) transport(cred azcore.TokenCredential, httpClient *http.Client, userAgent string) msapi.Settings {
	// The transport reads 0 as "use the default"; a user's 0 means no retries.
	retries := s.maxRetries
	if retries == 0 {
		retries = -1
	}
	return msapi.Settings{
		Credential:            cred,
		HTTPClient:            httpClient,
		UserAgent:             userAgent,
		MaxRetries:            retries,
		RequestTimeout:        s.requestTimeout,
		MaxConcurrentRequests: s.maxConcurrentRequests,
	}
}
