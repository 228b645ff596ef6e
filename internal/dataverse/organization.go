package dataverse

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// organizationAuditSelect is the $select of every organization read.
const organizationAuditSelect = "organizationid,isauditenabled,isuseraccessauditenabled,isreadauditenabled,auditretentionperiodv2,useraccessauditinginterval,auditsettings"

// OrganizationAuditSettings are the audit columns of the environment's single
// organizations row. AuditRetentionPeriodV2 is nil where the environment
// reports null: nobody ever set a retention there.
type OrganizationAuditSettings struct {
	OrganizationID             string `json:"organizationid"`
	IsAuditEnabled             bool   `json:"isauditenabled"`
	IsUserAccessAuditEnabled   bool   `json:"isuseraccessauditenabled"`
	IsReadAuditEnabled         bool   `json:"isreadauditenabled"`
	AuditRetentionPeriodV2     *int64 `json:"auditretentionperiodv2"`
	UserAccessAuditingInterval int64  `json:"useraccessauditinginterval"`
	// AuditSettings is the auditsettings column as the service sends it, a
	// JSON string of audit feature settings ("Configure auditing"); nil where
	// null. Read only: the provider writes none of its keys.
	AuditSettings *string `json:"auditsettings"`
}

// OrganizationAuditSettingsPatch is a change: only non-nil fields are sent.
type OrganizationAuditSettingsPatch struct {
	IsAuditEnabled             *bool  `json:"isauditenabled,omitempty"`
	IsUserAccessAuditEnabled   *bool  `json:"isuseraccessauditenabled,omitempty"`
	IsReadAuditEnabled         *bool  `json:"isreadauditenabled,omitempty"`
	AuditRetentionPeriodV2     *int64 `json:"auditretentionperiodv2,omitempty"`
	UserAccessAuditingInterval *int64 `json:"useraccessauditinginterval,omitempty"`
}

// IsEmpty reports a patch that sets nothing.
func (p OrganizationAuditSettingsPatch) IsEmpty() bool {
	return p.IsAuditEnabled == nil && p.IsUserAccessAuditEnabled == nil && p.IsReadAuditEnabled == nil &&
		p.AuditRetentionPeriodV2 == nil && p.UserAccessAuditingInterval == nil
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 form the Web API uses in keys.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

func organizationPath(id string) (string, error) {
	if !IsGUID(id) {
		return "", fmt.Errorf("dataverse: organization id %q is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", id)
	}
	return "organizations(" + strings.ToLower(id) + ")", nil
}

// GetOrganizationAuditSettings reads the environment's organization row; it
// fails unless exactly one row comes back.
func (c *Client) GetOrganizationAuditSettings(ctx context.Context) (*OrganizationAuditSettings, error) {
	var out struct {
		Value []OrganizationAuditSettings `json:"value"`
	}
	if err := c.getJSON(ctx, "organizations", url.Values{"$select": {organizationAuditSelect}}, &out); err != nil {
		return nil, err
	}
	if len(out.Value) != 1 {
		return nil, fmt.Errorf("dataverse: expected exactly one organizations row in %s, got %d", c.envURL, len(out.Value))
	}
	return &out.Value[0], nil
}

// GetOrganizationAuditSettingsByID reads organizations(id); a missing row is
// an *Error for which IsNotFound is true.
func (c *Client) GetOrganizationAuditSettingsByID(ctx context.Context, id string) (*OrganizationAuditSettings, error) {
	path, err := organizationPath(id)
	if err != nil {
		return nil, err
	}
	var out OrganizationAuditSettings
	if err := c.getJSON(ctx, path, url.Values{"$select": {organizationAuditSelect}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateOrganizationAuditSettings PATCHes only the fields set in p; an empty
// patch sends nothing. If-Match: * makes it an update, never an upsert.
func (c *Client) UpdateOrganizationAuditSettings(ctx context.Context, id string, p OrganizationAuditSettingsPatch) error {
	path, err := organizationPath(id)
	if err != nil {
		return err
	}
	if p.IsEmpty() {
		return nil
	}
	_, err = c.Do(ctx, &Request{
		Method: http.MethodPatch,
		Path:   path,
		Body:   p,
		Header: http.Header{"If-Match": {"*"}},
	})
	return err
}
