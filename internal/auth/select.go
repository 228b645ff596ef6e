package auth

import (
	"fmt"
	"strings"
)

// Select decides the sign-in method without building anything.
//
// Order: an explicit choice (use_cli, use_msi, use_oidc; more than one is an error) wins;
// otherwise a client secret; otherwise a client certificate; otherwise a federated token
// (token, token file, or GitHub Actions request URL + token). Each method then checks that
// it has what it needs. Every error is a *ConfigError.
func Select(cfg Config) (Method, error) {
	var explicit []string
	if cfg.UseOIDC {
		explicit = append(explicit, AttrUseOIDC)
	}
	if cfg.UseMSI {
		explicit = append(explicit, AttrUseMSI)
	}
	if cfg.UseCLI {
		explicit = append(explicit, AttrUseCLI)
	}
	if len(explicit) > 1 {
		return "", &ConfigError{
			Attribute: explicit[len(explicit)-1],
			Summary:   "Conflicting authentication methods",
			Detail: fmt.Sprintf("only one of use_oidc, use_msi and use_cli may be true, but %s are; choose one sign-in method",
				strings.Join(explicit, " and ")),
		}
	}

	switch {
	case cfg.UseCLI:
		return MethodAzureCLI, nil
	case cfg.UseMSI:
		return MethodManagedIdentity, nil
	case cfg.UseOIDC:
		return MethodOIDC, validateOIDC(cfg)
	case !blank(cfg.ClientSecret):
		return MethodClientSecret, requireTenantAndClient(cfg, "client secret")
	case cfg.hasCertificate():
		if !blank(cfg.ClientCertificatePath) && len(cfg.ClientCertificate) > 0 {
			return "", &ConfigError{
				Attribute: AttrClientCertificateFilePath,
				Summary:   "Conflicting client certificate settings",
				Detail:    "the certificate is given both as a file path and as contents; set only one of " + AttrClientCertificateFilePath + " and " + AttrClientCertificate,
			}
		}
		return MethodClientCertificate, requireTenantAndClient(cfg, "client certificate")
	}
	if source, _ := cfg.oidcSource(); source != "" {
		return MethodOIDC, validateOIDC(cfg)
	}

	if !blank(cfg.ClientCertificatePassword) {
		return "", &ConfigError{
			Attribute: AttrClientCertificatePassword,
			Summary:   "Client certificate missing",
			Detail: fmt.Sprintf("%s is set but no certificate is configured: set %s",
				AttrClientCertificatePassword, withEnv(AttrClientCertificateFilePath)),
		}
	}
	return "", &ConfigError{
		Summary: "No credentials configured",
		Detail: fmt.Sprintf("set %s, or %s, or %s with %s, %s or %s/%s (%s/%s), or %s, or %s; "+
			"%s and %s are required for the first three",
			withEnv(AttrClientSecret),
			withEnv(AttrClientCertificateFilePath),
			AttrUseOIDC, withEnv(AttrOIDCTokenFilePath), withEnv(AttrOIDCToken),
			AttrOIDCRequestURL, AttrOIDCRequestToken, EnvVar(AttrOIDCRequestURL), EnvVar(AttrOIDCRequestToken),
			AttrUseMSI, AttrUseCLI,
			withEnv(AttrTenantID), withEnv(AttrClientID)),
	}
}

func requireTenantAndClient(cfg Config, what string) error {
	noTenant, noClient := blank(cfg.TenantID), blank(cfg.ClientID)
	switch {
	case noTenant && noClient:
		return &ConfigError{
			Attribute: AttrTenantID,
			Summary:   "Missing tenant_id and client_id",
			Detail: fmt.Sprintf("%s authentication needs the application's tenant and client: set %s and %s",
				what, withEnv(AttrTenantID), withEnv(AttrClientID)),
		}
	case noTenant:
		return &ConfigError{
			Attribute: AttrTenantID,
			Summary:   "Missing tenant_id",
			Detail:    fmt.Sprintf("%s authentication needs the tenant: set %s", what, withEnv(AttrTenantID)),
		}
	case noClient:
		return &ConfigError{
			Attribute: AttrClientID,
			Summary:   "Missing client_id",
			Detail:    fmt.Sprintf("%s authentication needs the application (client) ID: set %s", what, withEnv(AttrClientID)),
		}
	}
	return nil
}

func validateOIDC(cfg Config) error {
	if err := requireTenantAndClient(cfg, "OIDC (workload identity)"); err != nil {
		return err
	}
	source, partial := cfg.oidcSource()
	if source != "" {
		return nil
	}
	if partial != "" {
		have := AttrOIDCRequestURL
		if partial == AttrOIDCRequestURL {
			have = AttrOIDCRequestToken
		}
		return &ConfigError{
			Attribute: partial,
			Summary:   "Incomplete GitHub Actions OIDC settings",
			Detail: fmt.Sprintf("%s is set but %s is missing: set %s (GitHub Actions sets both when the workflow has `permissions: id-token: write`)",
				have, partial, withEnv(partial)),
		}
	}
	return &ConfigError{
		Attribute: AttrUseOIDC,
		Summary:   "No federated token configured",
		Detail: fmt.Sprintf("%s is true but no federated token is configured: set %s, or %s, or %s and %s",
			AttrUseOIDC, withEnv(AttrOIDCToken), withEnv(AttrOIDCTokenFilePath),
			withEnv(AttrOIDCRequestURL), withEnv(AttrOIDCRequestToken)),
	}
}
