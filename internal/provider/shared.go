package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
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

// managedBoolAttribute is a setting that is managed only when set in the
// configuration, and otherwise reported as it is.
func managedBoolAttribute(desc string) schema.BoolAttribute {
	return schema.BoolAttribute{
		Optional: true, Computed: true,
		MarkdownDescription: desc + " Left out of the configuration, the current value is reported but not managed.",
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
