package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// resourceBase is embedded by every resource: its type name and the
// provider data that Configure hands over (nil before the provider is
// configured).
type resourceBase struct {
	typeNameSuffix string // after the provider's name, e.g. "_entity_audit_settings"
	data           *providerData
}

func (b *resourceBase) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + b.typeNameSuffix
}

func (b *resourceBase) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	b.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// dataSourceBase is resourceBase for a data source: the same fields, with
// the data source's Metadata and Configure.
type dataSourceBase resourceBase

func (b *dataSourceBase) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + b.typeNameSuffix
}

func (b *dataSourceBase) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	b.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (b *resourceBase) setTypeNameSuffix(s string)   { b.typeNameSuffix = s }
func (b *dataSourceBase) setTypeNameSuffix(s string) { b.typeNameSuffix = s }

// resourceType and dataSourceType are what newResource and newDataSource
// build: a pointer to a type embedding resourceBase or dataSourceBase. The
// constraints are the compile-time check that the provider configures it.
type resourceType[T any] interface {
	*T
	resource.ResourceWithConfigure
	setTypeNameSuffix(string)
}

type dataSourceType[T any] interface {
	*T
	datasource.DataSourceWithConfigure
	setTypeNameSuffix(string)
}

// newResource is the constructor the provider registers for the resource
// type T: a new *T named by typeNameSuffix.
func newResource[T any, P resourceType[T]](typeNameSuffix string) func() resource.Resource {
	return func() resource.Resource { return typeNamed[T, P](typeNameSuffix) }
}

// newDataSource is newResource for a data source.
func newDataSource[T any, P dataSourceType[T]](typeNameSuffix string) func() datasource.DataSource {
	return func() datasource.DataSource { return typeNamed[T, P](typeNameSuffix) }
}

func typeNamed[T any, P interface {
	*T
	setTypeNameSuffix(string)
}](typeNameSuffix string) P {
	p := P(new(T))
	p.setTypeNameSuffix(typeNameSuffix)
	return p
}

// configuredData is the provider data of a Configure request: the provider
// hands over *providerData, or nil before it is configured.
func configuredData(raw any, diags *diag.Diagnostics) *providerData {
	if raw == nil {
		return nil
	}
	data, ok := raw.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *providerData, got %T", raw))
		return nil
	}
	return data
}

// configAndPlan reads what an apply starts from: the configuration (which
// tells the managed attributes from the reported ones) and the plan. It
// reports whether both were read without error.
func configAndPlan[M any](ctx context.Context, config tfsdk.Config, plan tfsdk.Plan, diags *diag.Diagnostics) (cfg, planned M, ok bool) {
	diags.Append(config.Get(ctx, &cfg)...)
	diags.Append(plan.Get(ctx, &planned)...)
	return cfg, planned, !diags.HasError()
}

// trackOperation records a resource operation in the command's Activity
// until the returned function runs, and points *ctx at the tracked context,
// so that a method starts with `defer trackOperation(&ctx, r.data)()`.
// Coalescers (the publisher) send a batch early once every tracked
// operation waits on one.
func trackOperation(ctx *context.Context, data *providerData) (end func()) {
	if data == nil {
		return func() {}
	}
	tracked, end := data.activity.Begin(*ctx)
	*ctx = tracked
	return end
}

// timeoutReader is how a `timeouts` block value gives the timeout of one
// operation, e.g. plan.Timeouts.Create.
type timeoutReader func(ctx context.Context, defaultTimeout time.Duration) (time.Duration, diag.Diagnostics)

// withOperationTimeout bounds ctx by the timeout the configuration sets for
// the operation, or by defaultTimeout.
func withOperationTimeout(ctx context.Context, timeout timeoutReader, defaultTimeout time.Duration, diags *diag.Diagnostics) (context.Context, context.CancelFunc) {
	d, readDiags := timeout(ctx, defaultTimeout)
	diags.Append(readDiags...)
	return context.WithTimeout(ctx, d)
}

// nullableString is null for "" (an absent value in an API answer).
func nullableString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

const unmanagedNote = " Left out of the configuration, the current value is reported but not managed."

// managedBoolAttribute is a setting that is managed only when set in the
// configuration, and otherwise reported as it is.
func managedBoolAttribute(desc string) schema.BoolAttribute {
	return schema.BoolAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: desc + unmanagedNote,
		PlanModifiers:       []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
	}
}

// onDestroyAttribute is the destroy policy of the settings resources.
func onDestroyAttribute(disableDoc string) schema.StringAttribute {
	return schema.StringAttribute{
		Optional: true, Computed: true,
		Default: stringdefault.StaticString(onDestroyRetain),
		MarkdownDescription: "What `terraform destroy` does: `retain` (default) leaves the settings as they are and warns; " +
			"`restore` writes back the values seen before this resource first changed them; " + disableDoc,
		Validators: []validator.String{stringvalidator.OneOf(onDestroyRetain, onDestroyRestore, onDestroyDisable)},
	}
}

// managedInt64Attribute is managedBoolAttribute for a number.
func managedInt64Attribute(desc string, validators []validator.Int64) schema.Attribute {
	return schema.Int64Attribute{
		Optional: true, Computed: true,
		MarkdownDescription: desc + unmanagedNote,
		PlanModifiers:       []planmodifier.Int64{unmanagedKeepsState{"Keeps the value from the state while the attribute is not configured."}},
		Validators:          validators,
	}
}

// unmanagedKeepsState plans the prior state for a setting left out of the
// configuration, null included: UseStateForUnknown skips a null state value,
// so a setting the environment never set (a null retention) would show as
// "(known after apply)" in every plan that changes another setting.
type unmanagedKeepsState struct{ describedAs }

// describedAs is the one plain-text description of a validator or plan
// modifier, for both Description and MarkdownDescription.
type describedAs string

func (d describedAs) Description(context.Context) string         { return string(d) }
func (d describedAs) MarkdownDescription(context.Context) string { return string(d) }

func (unmanagedKeepsState) PlanModifyInt64(_ context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	if req.State.Raw.IsNull() || !req.ConfigValue.IsNull() || !req.PlanValue.IsUnknown() {
		return
	}
	resp.PlanValue = req.StateValue
}

// On-destroy policies shared by the settings resources.
const (
	onDestroyRetain  = "retain"
	onDestroyRestore = "restore"
	onDestroyDisable = "disable"
)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var guidValidator = stringvalidator.RegexMatches(guidPattern, "must be a GUID such as 00000000-0000-0000-0000-000000000000")

var logicalNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,127}$`)

const logicalNameHint = "lowercase letters, digits and underscores, e.g. account or new_project (the logical name, not the display name)"

var tableLogicalNameValidator = stringvalidator.RegexMatches(logicalNamePattern, "must be a table logical name: "+logicalNameHint)

// known is a value set to something: neither null nor unknown.
func known(v interface {
	IsNull() bool
	IsUnknown() bool
}) bool {
	return !v.IsNull() && !v.IsUnknown()
}

func isTrue(v types.Bool) bool  { return known(v) && v.ValueBool() }
func isFalse(v types.Bool) bool { return known(v) && !v.ValueBool() }

// computedString is a read-only string of a data source.
func computedString(desc string) dsschema.StringAttribute {
	return dsschema.StringAttribute{Computed: true, MarkdownDescription: desc}
}

// computedBool is a read-only bool of a data source.
func computedBool(desc string) dsschema.BoolAttribute {
	return dsschema.BoolAttribute{Computed: true, MarkdownDescription: desc}
}

// stringListFilter is an optional list of strings that narrows a data
// source's search; valid checks each element.
func stringListFilter(desc string, valid validator.String) dsschema.ListAttribute {
	return dsschema.ListAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: desc,
		Validators: []validator.List{listvalidator.ValueStringsAre(valid)}}
}

// stateKeptString is a read-only string of a resource that keeps its value
// from the state until the resource computes a new one.
func stateKeptString(desc string) schema.StringAttribute {
	return schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: desc,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// Record limits of the audit data sources.
const (
	defaultAuditLimit = 1000
	maxAuditLimit     = 100000
)

// auditLimitAttribute is the limit of an audit search; more says what
// happens beyond it.
func auditLimitAttribute(more string) dsschema.Int64Attribute {
	return dsschema.Int64Attribute{Optional: true,
		MarkdownDescription: fmt.Sprintf("Most records to return (default %d, at most %d).%s", defaultAuditLimit, maxAuditLimit, more),
		Validators:          []validator.Int64{int64validator.Between(1, maxAuditLimit)}}
}

// limitOrDefault is the configured limit, or the default when not set.
func limitOrDefault(limit types.Int64) int {
	if known(limit) {
		return int(limit.ValueInt64())
	}
	return defaultAuditLimit
}

// getModel reads a request's configuration, plan or state into a model of
// type M; false (with the diagnostics appended) when it cannot.
func getModel[M any](ctx context.Context, from interface {
	Get(context.Context, any) diag.Diagnostics
}, diags *diag.Diagnostics) (M, bool) {
	var m M
	diags.Append(from.Get(ctx, &m)...)
	return m, !diags.HasError()
}
