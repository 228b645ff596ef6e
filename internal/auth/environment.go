package auth

import "fmt"

// EnvironmentVariable is a provider attribute's fallback in the environment.
type EnvironmentVariable struct {
	Name        string // e.g. AZURE_TENANT_ID
	Attribute   string // the provider attribute it feeds when that attribute is not set
	Description string // what it holds, as the authentication guide says it
}

// EnvironmentVariables is the one list of the environment variables the provider reads. The
// provider resolves its settings from it, its schema descriptions name these variables, and this
// package's messages do too, so that setting the variable an error names always helps; a test in
// the provider sets each one and checks the authentication guide's table against it. It lives
// here, below the provider, because these messages need the names. The AZURE_* names are
// azidentity's; the others have a DYNAMICS365_ prefix because azurerm owns ARM_*.
var EnvironmentVariables = []EnvironmentVariable{
	{"DYNAMICS365_ENVIRONMENT_URL", "environment_url", "URL of the Dataverse environment"},
	{"AZURE_TENANT_ID", AttrTenantID, "Microsoft Entra tenant (directory) ID"},
	{"AZURE_CLIENT_ID", AttrClientID, "application (client) ID, or a user-assigned managed identity's"},
	{"AZURE_CLIENT_SECRET", AttrClientSecret, "client secret value"},
	{"AZURE_CLIENT_CERTIFICATE_PATH", AttrClientCertificateFilePath, "PEM or PFX file with the client certificate and key"},
	{"AZURE_CLIENT_CERTIFICATE_PASSWORD", AttrClientCertificatePassword, "password of the PFX file"},
	{"DYNAMICS365_USE_OIDC", AttrUseOIDC, "`true` to log in with a federated token"},
	{"DYNAMICS365_OIDC_TOKEN", AttrOIDCToken, "a federated token, passed directly"},
	{"AZURE_FEDERATED_TOKEN_FILE", AttrOIDCTokenFilePath, "file holding a federated token (Kubernetes workload identity)"},
	{"ACTIONS_ID_TOKEN_REQUEST_URL", AttrOIDCRequestURL, "GitHub Actions OIDC token request URL (set by GitHub)"},
	{"ACTIONS_ID_TOKEN_REQUEST_TOKEN", AttrOIDCRequestToken, "GitHub Actions OIDC request bearer token (set by GitHub)"},
	{"DYNAMICS365_USE_MSI", AttrUseMSI, "`true` to log in with a managed identity"},
	{"DYNAMICS365_USE_CLI", AttrUseCLI, "`true` to log in with the Azure CLI's account"},
	{"DYNAMICS365_CLOUD", "cloud", "Azure cloud name"},
	{"AZURE_AUTHORITY_HOST", AttrAuthorityHost, "Microsoft Entra login host"},
	{"DYNAMICS365_GRAPH_URL", "graph_url", "Microsoft Graph base URL"},
	{"DYNAMICS365_GRAPH_AUDIT_API_VERSION", "graph_audit_api_version", "`beta` or `v1.0`"},
	{"DYNAMICS365_REQUEST_TIMEOUT", "request_timeout", "timeout of one HTTP attempt, e.g. `90s`"},
	{"DYNAMICS365_MAX_RETRIES", "max_retries", "retries of a throttled or failed request"},
	{"DYNAMICS365_MAX_CONCURRENT_REQUESTS", "max_concurrent_requests", "HTTP requests in flight at once"},
	{"DYNAMICS365_CA_CERTIFICATE_FILE", "ca_certificate_file", "PEM file of extra CA certificates to trust"},
	{"DYNAMICS365_SOLUTION_UNIQUE_NAME", "solution_unique_name", "solution in which metadata changes are made"},
}

// EnvVar returns the environment variable of a provider attribute. It panics for an attribute
// without one: the provider looks its names up at start-up, so a typo fails every test.
func EnvVar(attribute string) string {
	for _, v := range EnvironmentVariables {
		if v.Attribute == attribute {
			return v.Name
		}
	}
	panic(fmt.Sprintf("auth: provider attribute %q has no environment variable", attribute))
}
