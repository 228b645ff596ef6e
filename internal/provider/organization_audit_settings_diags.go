package provider

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
)

// adminCenterMaxRetentionDays is the largest custom retention the Power
// Platform admin center offers ("Manage Dataverse auditing": "Maximum:
// 24,855 days"), below the Web API's documented 365000 ("Configure
// auditing").
const adminCenterMaxRetentionDays = 24855

// adminCenterRetentionWarning warns about a retention the Web API documents
// but the admin center does not offer.
type adminCenterRetentionWarning struct{ describedAs }

func adminCenterRetention() adminCenterRetentionWarning {
	return adminCenterRetentionWarning{describedAs(fmt.Sprintf("warns above %d days, the admin center's maximum", adminCenterMaxRetentionDays))}
}

func (adminCenterRetentionWarning) ValidateInt64(_ context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if !known(req.ConfigValue) || req.ConfigValue.ValueInt64() <= adminCenterMaxRetentionDays {
		return
	}
	resp.Diagnostics.AddAttributeWarning(req.Path, "Retention above the admin center's maximum",
		fmt.Sprintf("%s = %d: the Dataverse developer documentation (Configure auditing) accepts 1 to 365000 days, "+
			"but the Power Platform admin center's documentation (Manage Dataverse auditing) gives %d days as the "+
			"maximum custom retention. The environment may refuse the value, and the admin center may not show it. "+
			"Use at most %d days, or -1 to keep audit logs forever.",
			req.Path, req.ConfigValue.ValueInt64(), adminCenterMaxRetentionDays, adminCenterMaxRetentionDays))
}

// intervalHoursValidator accepts the range of useraccessauditinginterval,
// a 32-bit integer column with MinValue 0 (organization table reference).
func intervalHoursValidator() validator.Int64 {
	return intervalHours{describedAs(fmt.Sprintf("must be between 0 and %d hours", math.MaxInt32))}
}

type intervalHours struct{ describedAs }

func (v intervalHours) ValidateInt64(ctx context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if !known(req.ConfigValue) {
		return
	}
	if n := req.ConfigValue.ValueInt64(); n < 0 || n > math.MaxInt32 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid user access auditing interval",
			fmt.Sprintf("%s %s, got %d: the column useraccessauditinginterval is a 32-bit integer from 0 to %d. "+
				"Use a number of hours such as 4 (the default) or 24.",
				req.Path, v.Description(ctx), n, math.MaxInt32))
	}
}

// warnNotSetOriginals says, for each managed setting that had no value
// (null) before this resource set it, that restore leaves it as it is: the
// service keeps a null only where nobody ever set a value, and writing 0
// instead would be a different setting (or refused).
func warnNotSetOriginals(diags *diag.Diagnostics, priv orgPrivateState, current *orgSettings) {
	for _, s := range organizationSettings {
		name := s.attributeName()
		if !slices.Contains(priv.NotSetOriginals, name) || !slices.Contains(priv.Managed, name) || s.isNotSet(current) {
			continue
		}
		var now orgPatch
		s.copyCurrent(&now, current)
		diags.AddAttributeWarning(path.Root(name), "Original value not restored",
			fmt.Sprintf("%s had no value (null: never set in the environment) before this resource set it. "+
				"Dataverse cannot be given a null back, so on_destroy = \"restore\" leaves it at %s. "+
				"Set it in the Power Platform admin center if it should be different.", name, s.patchedValue(now)))
	}
}

// addOrganizationUpdateError reports a refused PATCH. When Dataverse's
// message names the column of exactly one setting of the patch, the error
// is attached to that attribute and says what was sent.
func addOrganizationUpdateError(diags *diag.Diagnostics, summary string, patch orgPatch, err error) {
	apiErr, ok := dataverse.AsError(err)
	if !ok || apiErr.StatusCode != http.StatusBadRequest {
		addAPIError(diags, summary, err)
		return
	}
	var named []orgSetting
	for _, s := range organizationSettings {
		if s.isInPatch(patch) && strings.Contains(apiErr.Message, s.columnName()) {
			named = append(named, s)
		}
	}
	if len(named) != 1 {
		addAPIError(diags, summary, err)
		return
	}
	s := named[0]
	detail := fmt.Sprintf("Dataverse refused %s = %s (column %s): %s", s.attributeName(), s.patchedValue(patch), s.columnName(), apiErr.Message)
	if s.attributeName() == "retention_period_days" {
		detail += fmt.Sprintf("\n\nThe Web API documents -1 or 1 to 365000 days, but this environment refused the value. "+
			"The Power Platform admin center offers at most %d days: set retention_period_days to -1 (forever) or "+
			"to at most %d.", adminCenterMaxRetentionDays, adminCenterMaxRetentionDays)
	}
	diags.AddAttributeError(path.Root(s.attributeName()), summary, detail)
}
