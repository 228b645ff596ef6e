// Package provider is the Terraform layer of the Dynamics 365 audit provider:
// schemas, models, plan logic and diagnostics. Everything that talks HTTP lives
// in internal/msapi (wrapped by internal/dataverse and internal/graph) and
// internal/auth.
package provider

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/auth"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/graph"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// Defaults of settings the transport does not default (see msapi for the others).
const (
	defaultCloud                = "public"
	defaultGraphAuditAPIVersion = "beta"
)

// Environment variables read when an attribute is not set in configuration,
// looked up in the one list (auth.EnvironmentVariables) that the login errors
// and the docs also use.
var (
	envEnvironmentURL        = auth.EnvVar("environment_url")
	envTenantID              = auth.EnvVar(auth.AttrTenantID)
	envClientID              = auth.EnvVar(auth.AttrClientID)
	envClientSecret          = auth.EnvVar(auth.AttrClientSecret)
	envClientCertificatePath = auth.EnvVar(auth.AttrClientCertificateFilePath)
	envClientCertificatePass = auth.EnvVar(auth.AttrClientCertificatePassword)
	envUseOIDC               = auth.EnvVar(auth.AttrUseOIDC)
	envOIDCToken             = auth.EnvVar(auth.AttrOIDCToken)
	envOIDCTokenFilePath     = auth.EnvVar(auth.AttrOIDCTokenFilePath)
	envOIDCRequestURL        = auth.EnvVar(auth.AttrOIDCRequestURL)
	envOIDCRequestToken      = auth.EnvVar(auth.AttrOIDCRequestToken)
	envUseMSI                = auth.EnvVar(auth.AttrUseMSI)
	envUseCLI                = auth.EnvVar(auth.AttrUseCLI)
	envCloud                 = auth.EnvVar("cloud")
	envAuthorityHost         = auth.EnvVar(auth.AttrAuthorityHost)
	envGraphURL              = auth.EnvVar("graph_url")
	envGraphAuditAPIVersion  = auth.EnvVar("graph_audit_api_version")
	envRequestTimeout        = auth.EnvVar("request_timeout")
	envMaxRetries            = auth.EnvVar("max_retries")
	envMaxConcurrentRequests = auth.EnvVar("max_concurrent_requests")
	envCACertificateFile     = auth.EnvVar("ca_certificate_file")
	envSolutionUniqueName    = auth.EnvVar("solution_unique_name")
)

const graphAuditAPIVersionV1 = "v1.0"

var _ provider.ProviderWithValidateConfig = (*dynamics365Provider)(nil)

// Option configures test seams of the provider. They are not user settings.
type Option func(*dynamics365Provider)

// WithGetenv replaces the environment lookup, so that parallel in-process
// tests do not see each other's (or the developer's) AZURE_* variables.
func WithGetenv(getenv func(string) string) Option {
	return func(p *dynamics365Provider) { p.getenv = getenv }
}

// WithHTTPClient sets the base HTTP client used for login and API calls. The
// CA from ca_certificate_file is still added on top of its TLS roots.
func WithHTTPClient(c *http.Client) Option {
	return func(p *dynamics365Provider) { p.httpClient = c }
}

// WithNaiveMode turns off bulk metadata reads, publish coalescing and batched
// change reads: each entity resource reads its own table and publishes on its
// own, and audit changes are fetched one record at a time. Benchmarks
// compare it with the provider as built; it is not a user setting.
func WithNaiveMode() Option {
	return func(p *dynamics365Provider) {
		p.naiveMetadataReads = true
		p.publishPerResource = true
		p.naiveChangeReads = true
	}
}

// WithPublishWindow sets how long the publisher waits for other tables to
// join a batch (tests use a short one).
func WithPublishWindow(d time.Duration) Option {
	return func(p *dynamics365Provider) { p.publishWindow = d }
}

// WithLockRetryWait sets the wait before a publish or metadata write refused
// by the customization lock is sent again (tests use a short one).
func WithLockRetryWait(d time.Duration) Option {
	return func(p *dynamics365Provider) { p.lockRetryWait = d }
}

// WithAuditSearchPolling sets the backoff between polls of a Graph audit log
// query and of a bulk delete job (tests use short ones; the defaults suit
// production).
func WithAuditSearchPolling(minWait, maxWait time.Duration) Option {
	return func(p *dynamics365Provider) { p.auditSearchPollMin, p.auditSearchPollMax = minWait, maxWait }
}

type dynamics365Provider struct {
	version    string
	getenv     func(string) string
	httpClient *http.Client

	// Switches for tests and benchmarks only.
	naiveMetadataReads bool
	publishPerResource bool
	naiveChangeReads   bool
	publishWindow      time.Duration
	lockRetryWait      time.Duration
	auditSearchPollMin time.Duration
	auditSearchPollMax time.Duration
}

// New returns the provider factory used by main and by the acceptance tests.
func New(version string, opts ...Option) func() provider.Provider {
	return func() provider.Provider {
		p := &dynamics365Provider{version: version, getenv: os.Getenv}
		for _, o := range opts {
			o(p)
		}
		return p
	}
}

type providerModel struct {
	EnvironmentURL            types.String `tfsdk:"environment_url"`
	TenantID                  types.String `tfsdk:"tenant_id"`
	ClientID                  types.String `tfsdk:"client_id"`
	ClientSecret              types.String `tfsdk:"client_secret"`
	ClientCertificateFilePath types.String `tfsdk:"client_certificate_file_path"`
	ClientCertificatePassword types.String `tfsdk:"client_certificate_password"`
	UseOIDC                   types.Bool   `tfsdk:"use_oidc"`
	OIDCToken                 types.String `tfsdk:"oidc_token"`
	OIDCTokenFilePath         types.String `tfsdk:"oidc_token_file_path"`
	OIDCRequestURL            types.String `tfsdk:"oidc_request_url"`
	OIDCRequestToken          types.String `tfsdk:"oidc_request_token"`
	UseMSI                    types.Bool   `tfsdk:"use_msi"`
	UseCLI                    types.Bool   `tfsdk:"use_cli"`
	Cloud                     types.String `tfsdk:"cloud"`
	AuthorityHost             types.String `tfsdk:"authority_host"`
	GraphURL                  types.String `tfsdk:"graph_url"`
	GraphAuditAPIVersion      types.String `tfsdk:"graph_audit_api_version"`
	RequestTimeout            types.String `tfsdk:"request_timeout"`
	MaxRetries                types.Int64  `tfsdk:"max_retries"`
	MaxConcurrentRequests     types.Int64  `tfsdk:"max_concurrent_requests"`
	CACertificateFile         types.String `tfsdk:"ca_certificate_file"`
	SolutionUniqueName        types.String `tfsdk:"solution_unique_name"`
}

// providerData is what Configure hands to resources and data sources. The
// metadata cache and the publisher live as long as one configured provider,
// which is one Terraform command for one provider block (one environment).
type providerData struct {
	client             *dataverse.Client
	metadata           *dataverse.MetadataCache
	publisher          *dataverse.Publisher
	activity           *dataverse.Activity // resource operations in flight, for the coalescers
	environmentURL     string
	solutionUniqueName string
	cloud              auth.Cloud
	naiveChangeReads   bool // benchmarks: one RetrieveAuditDetails per record, no $batch
	guards             *planGuards

	graph              *graph.Client
	auditSearchPollMin time.Duration
	auditSearchPollMax time.Duration
}

func (p *dynamics365Provider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "dynamics365"
	resp.Version = p.version
}

func (p *dynamics365Provider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	str := func(desc string, env string, sensitive bool, validators ...validator.String) schema.StringAttribute {
		if env != "" {
			desc += fmt.Sprintf(" Can also be set with the `%s` environment variable.", env)
		}
		return schema.StringAttribute{
			Optional:            true,
			Sensitive:           sensitive,
			MarkdownDescription: desc,
			Validators:          validators,
		}
	}
	boolean := func(desc, env string) schema.BoolAttribute {
		return schema.BoolAttribute{
			Optional:            true,
			MarkdownDescription: desc + fmt.Sprintf(" Can also be set with the `%s` environment variable (`true`/`false`).", env),
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The Dynamics 365 audit provider manages Dataverse auditing — organization audit settings, " +
			"table and column auditing — and reads the audit trail, so that an audit baseline lives in code.",
		Attributes: map[string]schema.Attribute{
			"environment_url": str("URL of the Dataverse environment, e.g. `https://contoso.crm.dynamics.com`. Must use https "+
				"(plain http is accepted only for a loopback host). The token scope is derived from it.", envEnvironmentURL, false,
				stringvalidator.LengthAtLeast(1)),
			"tenant_id": str("Microsoft Entra tenant (directory) ID.", envTenantID, false, stringvalidator.LengthAtLeast(1)),
			"client_id": str("Application (client) ID of the app registration, or of a user-assigned managed identity when `use_msi` is set.", envClientID, false,
				stringvalidator.LengthAtLeast(1)),
			"client_secret": str("Client secret of the app registration.", envClientSecret, true, stringvalidator.LengthAtLeast(1)),
			"client_certificate_file_path": str("Path of a PEM or PFX file with the client certificate and its private key. "+
				"PFX files must use legacy encryption; encrypted PEM keys are not supported.", envClientCertificatePath, false,
				stringvalidator.LengthAtLeast(1)),
			"client_certificate_password": str("Password of the PFX file in `client_certificate_file_path`.", envClientCertificatePass, true),
			"use_oidc":                    boolean("Log in with a federated (OIDC / workload identity) token instead of a secret.", envUseOIDC),
			"oidc_token": str("A federated token to exchange for an access token.", envOIDCToken, true,
				stringvalidator.LengthAtLeast(1)),
			"oidc_token_file_path": str("Path of a file holding a federated token (Kubernetes workload identity); read on every login.",
				envOIDCTokenFilePath, false, stringvalidator.LengthAtLeast(1)),
			"oidc_request_url": str("GitHub Actions OIDC token request URL.", envOIDCRequestURL, false, stringvalidator.LengthAtLeast(1)),
			"oidc_request_token": str("GitHub Actions OIDC token request bearer token.", envOIDCRequestToken, true,
				stringvalidator.LengthAtLeast(1)),
			"use_msi": boolean("Log in with an Azure managed identity.", envUseMSI),
			"use_cli": boolean("Log in with the Azure CLI's signed-in account.", envUseCLI),
			"cloud": str("Azure cloud: one of `"+strings.Join(auth.CloudNames(), "`, `")+"`. Defaults to `public`.", envCloud, false,
				stringvalidator.OneOf(auth.CloudNames()...)),
			"authority_host": str("Overrides the Microsoft Entra login host of `cloud`, e.g. for a private login endpoint or the emulator.",
				envAuthorityHost, false, stringvalidator.LengthAtLeast(1)),
			"graph_url": str("Base URL of Microsoft Graph for the Purview audit search. Defaults to the Graph host of `cloud`.",
				envGraphURL, false, stringvalidator.LengthAtLeast(1)),
			"graph_audit_api_version": str("Graph API version of the audit log query API: `beta` (default; Microsoft moved the API back "+
				"from v1.0 in April 2025) or `v1.0` (reads existing queries only: `dynamics365_audit_log_search` then needs `query_id`).", envGraphAuditAPIVersion, false,
				stringvalidator.OneOf(defaultGraphAuditAPIVersion, graphAuditAPIVersionV1)),
			"request_timeout": str("Timeout of one HTTP attempt, as a Go duration such as `90s` or `2m`. Defaults to `2m`.",
				envRequestTimeout, false),
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many times a throttled (429), failed (5xx) or dropped request is retried. "+
					"Defaults to %d. Can also be set with the `%s` environment variable.", msapi.DefaultMaxRetries, envMaxRetries),
				Validators: []validator.Int64{int64validator.Between(0, 30)},
			},
			"max_concurrent_requests": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("Upper bound of HTTP requests in flight at once (Dataverse allows 52 per user). "+
					"Defaults to %d. Can also be set with the `%s` environment variable.", msapi.DefaultMaxConcurrentRequests, envMaxConcurrentRequests),
				Validators: []validator.Int64{int64validator.Between(1, 52)},
			},
			"ca_certificate_file": str("PEM file of extra CA certificates to trust, e.g. for a TLS-inspecting proxy or the emulator. "+
				"TLS verification is never turned off.", envCACertificateFile, false, stringvalidator.LengthAtLeast(1)),
			"solution_unique_name": str("Default solution in which metadata changes are made (`MSCRM.SolutionUniqueName`).",
				envSolutionUniqueName, false, stringvalidator.LengthAtLeast(1)),
		},
	}
}

// ValidateConfig reports the mistakes that can be seen without contacting
// anything, at validate and plan time.
func (p *dynamics365Provider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	cfg, ok := getModel[providerModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	if v := cfg.EnvironmentURL; !v.IsNull() && !v.IsUnknown() {
		if _, err := normalizeEnvironmentURL(v.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("environment_url"), "Invalid environment_url", err.Error())
		}
	}
	for name, v := range map[string]types.String{"authority_host": cfg.AuthorityHost, "graph_url": cfg.GraphURL} {
		if !v.IsNull() && !v.IsUnknown() {
			if _, err := msapi.NormalizeURL(v.ValueString()); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root(name), "Invalid "+name, err.Error())
			}
		}
	}
	if v := cfg.RequestTimeout; !v.IsNull() && !v.IsUnknown() {
		if _, err := parseTimeout(v.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("request_timeout"), "Invalid request_timeout", err.Error())
		}
	}
	var explicit []string
	for name, v := range map[string]types.Bool{"use_oidc": cfg.UseOIDC, "use_msi": cfg.UseMSI, "use_cli": cfg.UseCLI} {
		if v.ValueBool() {
			explicit = append(explicit, name)
		}
	}
	if len(explicit) > 1 {
		resp.Diagnostics.AddAttributeError(path.Root(explicit[0]), "Conflicting login methods",
			fmt.Sprintf("Only one of use_oidc, use_msi and use_cli may be true; found %s.", strings.Join(sortedCopy(explicit), ", ")))
	}
}

func (p *dynamics365Provider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	cfg, ok := getModel[providerModel](ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	settings, diags := resolveSettings(cfg, p.getenv)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	data, diags := p.connect(ctx, settings)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.ResourceData = data
	resp.DataSourceData = data
}

// connect builds what resolved settings describe — the HTTP client, the
// credential, the Dataverse and Graph clients — logs in once and asks
// WhoAmI, so that a wrong secret or certificate, or an environment_url that
// is not a Dataverse environment, fails the plan with one clear error rather
// than every resource failing (or reading nonsense) later.
func (p *dynamics365Provider) connect(ctx context.Context, s providerSettings) (*providerData, diag.Diagnostics) {
	var diags diag.Diagnostics
	httpClient, err := msapi.HTTPClientWithCAFile(p.httpClient, s.caCertificateFile)
	if err != nil {
		diags.AddAttributeError(path.Root("ca_certificate_file"), "Cannot use ca_certificate_file", err.Error())
		return nil, diags
	}
	login := s.login
	login.AuthorityHost = s.authorityHost
	login.HTTPClient = httpClient
	cred, method, err := auth.NewCredential(login)
	if err != nil {
		addAuthError(&diags, err)
		return nil, diags
	}
	transport := s.transport(cred, httpClient, fmt.Sprintf("terraform-provider-dynamics365/%s", p.version))

	client, err := dataverse.New(dataverse.Config{EnvironmentURL: s.environmentURL, Settings: transport})
	if err != nil {
		diags.AddAttributeError(path.Root("environment_url"), "Cannot create the Dataverse client", err.Error())
		return nil, diags
	}
	// The token is cached by the credential for the calls that follow.
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{client.Scope()}}); err != nil {
		addLoginError(ctx, &diags, err, s)
		return nil, diags
	}
	if diags = checkEnvironment(ctx, client, s); diags.HasError() {
		return nil, diags
	}
	graphClient, err := graph.New(graph.Config{GraphURL: s.graphURL, APIVersion: s.graphAPIVersion, Settings: transport})
	if err != nil {
		diags.AddAttributeError(path.Root("graph_url"), "Cannot create the Microsoft Graph client", err.Error())
		return nil, diags
	}
	tflog.Debug(ctx, "configured Dynamics 365 provider", map[string]any{
		"environment_url": s.environmentURL, "login_method": string(method), "authority_host": s.authorityHost,
		"cloud": s.cloud.Name, "max_retries": s.maxRetries, "max_concurrent_requests": s.maxConcurrentRequests,
	})
	activity := dataverse.NewActivity()
	return &providerData{
		client:   client,
		metadata: dataverse.NewMetadataCache(client, dataverse.MetadataCacheOptions{Disabled: p.naiveMetadataReads, LockRetryWait: p.lockRetryWait, Activity: activity}),
		publisher: dataverse.NewPublisher(client, dataverse.PublisherOptions{
			Window:        p.publishWindow,
			PerResource:   p.publishPerResource,
			LockRetryWait: p.lockRetryWait,
			Activity:      activity,
		}),
		activity:           activity,
		environmentURL:     s.environmentURL,
		solutionUniqueName: s.solutionUniqueName,
		cloud:              s.cloud,
		naiveChangeReads:   p.naiveChangeReads,
		guards:             newPlanGuards(),
		graph:              graphClient,
		auditSearchPollMin: p.auditSearchPollMin,
		auditSearchPollMax: p.auditSearchPollMax,
	}, diags
}

func (p *dynamics365Provider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newOrganizationAuditSettingsResource,
		newEntityAuditSettingsResource,
		newCustomizationsPublishResource,
		newAuditLogDeletionResource,
	}
}

func (p *dynamics365Provider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newOrganizationAuditSettingsDataSource,
		newEntitiesDataSource,
		newAuditRecordsDataSource,
		newAuditLogSearchDataSource,
	}
}

// normalizeEnvironmentURL checks the environment's address: an https URL of
// a host (plain http only for loopback), without a path.
func normalizeEnvironmentURL(raw string) (string, error) {
	return msapi.NormalizeHostURL(raw, "the environment's address, e.g. https://contoso.crm.dynamics.com")
}

func parseTimeout(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write it like 90s or 2m", raw)
	}
	if d < time.Second || d > time.Hour {
		return 0, fmt.Errorf("%q is out of range: use between 1s and 1h", raw)
	}
	return d, nil
}
