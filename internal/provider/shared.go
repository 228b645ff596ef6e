package provider

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// configuredData is the Configure of every resource and data source: the
// provider hands over *providerData (nil before the provider is configured).
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
		PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
		Validators:          validators,
	}
}

// On-destroy policies shared by the settings resources.
const (
	onDestroyRetain  = "retain"
	onDestroyRestore = "restore"
	onDestroyDisable = "disable"
)

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var guidValidator = stringvalidator.RegexMatches(guidPattern, "must be a GUID such as 00000000-0000-0000-0000-000000000000")

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
