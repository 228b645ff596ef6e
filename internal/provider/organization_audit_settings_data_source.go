package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type organizationAuditSettingsDataSourceModel struct {
	ID             types.String `tfsdk:"id"`
	EnvironmentURL types.String `tfsdk:"environment_url"`
	AuditSettings  types.String `tfsdk:"audit_settings_json"`
	organizationAuditSettingsValues
}

type organizationAuditSettingsDataSource struct{ dataSourceBase }

var newOrganizationAuditSettingsDataSource = newDataSource[organizationAuditSettingsDataSource]("_organization_audit_settings")

func (d *organizationAuditSettingsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attributes := map[string]schema.Attribute{
		"id":              computedString("The organization ID."),
		"environment_url": computedString("The environment these settings belong to."),
		"audit_settings_json": computedString("The organization's `auditsettings` column as the environment reports it: " +
			"a JSON string of audit feature settings (Microsoft Learn, \"Configure auditing\", for example " +
			"`{\"StoreLabelNameforPicklistAudits\":true}`), or null where it was never set. Read only: decode it with " +
			"`jsondecode` to record or compare it in a baseline."),
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads the organization-wide audit settings of the environment, for checks and reports " +
			"across tenants (for example a `check` block that fails when auditing is off).",
		Attributes: withSettings(attributes, orgSetting.dataSourceAttribute),
	}
}

func (d *organizationAuditSettingsDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	current, err := d.data.client.GetOrganizationAuditSettings(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the organization audit settings", err)
		return
	}
	m := organizationAuditSettingsDataSourceModel{
		ID:             types.StringValue(current.OrganizationID),
		EnvironmentURL: types.StringValue(d.data.environmentURL),
		AuditSettings:  types.StringPointerValue(current.AuditSettings),
	}
	m.setFromEnvironment(current)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
