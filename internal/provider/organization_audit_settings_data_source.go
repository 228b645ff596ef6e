package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = (*organizationAuditSettingsDataSource)(nil)

type organizationAuditSettingsDataSourceModel struct {
	ID                           types.String `tfsdk:"id"`
	EnvironmentURL               types.String `tfsdk:"environment_url"`
	AuditEnabled                 types.Bool   `tfsdk:"audit_enabled"`
	UserAccessAuditEnabled       types.Bool   `tfsdk:"user_access_audit_enabled"`
	ReadAuditEnabled             types.Bool   `tfsdk:"read_audit_enabled"`
	RetentionPeriodDays          types.Int64  `tfsdk:"retention_period_days"`
	UserAccessAuditIntervalHours types.Int64  `tfsdk:"user_access_audit_interval_hours"`
}

type organizationAuditSettingsDataSource struct {
	data *providerData
}

func newOrganizationAuditSettingsDataSource() datasource.DataSource {
	return &organizationAuditSettingsDataSource{}
}

func (d *organizationAuditSettingsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_organization_audit_settings"
}

func (d *organizationAuditSettingsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedBool := func(desc string) schema.BoolAttribute {
		return schema.BoolAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads the organization-wide audit settings of the environment, for checks and reports " +
			"across tenants (for example a `check` block that fails when auditing is off).",
		Attributes: map[string]schema.Attribute{
			"id":                        schema.StringAttribute{Computed: true, MarkdownDescription: "The organization ID."},
			"environment_url":           schema.StringAttribute{Computed: true, MarkdownDescription: "The environment these settings belong to."},
			"audit_enabled":             computedBool("Whether auditing is on (`isauditenabled`)."),
			"user_access_audit_enabled": computedBool("Whether user access is logged (`isuseraccessauditenabled`)."),
			"read_audit_enabled":        computedBool("Whether read auditing is on (`isreadauditenabled`)."),
			"retention_period_days": schema.Int64Attribute{Computed: true,
				MarkdownDescription: "Days audit logs are kept (`auditretentionperiodv2`); `-1` is forever."},
			"user_access_audit_interval_hours": schema.Int64Attribute{Computed: true,
				MarkdownDescription: "Hours between user-access log entries (`useraccessauditinginterval`)."},
		},
	}
}

func (d *organizationAuditSettingsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (d *organizationAuditSettingsDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	s, err := d.data.client.GetOrganizationAuditSettings(ctx)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the organization audit settings", err)
		return
	}
	m := organizationAuditSettingsDataSourceModel{
		ID:                           types.StringValue(s.OrganizationID),
		EnvironmentURL:               types.StringValue(d.data.environmentURL),
		AuditEnabled:                 types.BoolValue(s.IsAuditEnabled),
		UserAccessAuditEnabled:       types.BoolValue(s.IsUserAccessAuditEnabled),
		ReadAuditEnabled:             types.BoolValue(s.IsReadAuditEnabled),
		RetentionPeriodDays:          types.Int64Value(s.AuditRetentionPeriodV2),
		UserAccessAuditIntervalHours: types.Int64Value(s.UserAccessAuditingInterval),
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
