package dataverse

import (
	"context"
	"errors"
)

// WhoAmIResponse is the answer of the WhoAmI function.
type WhoAmIResponse struct {
	BusinessUnitID string `json:"BusinessUnitId"`
	UserID         string `json:"UserId"`
	OrganizationID string `json:"OrganizationId"`
}

// WhoAmI calls GET WhoAmI: the cheapest check that the URL, the token and the
// application user work.
func (c *Client) WhoAmI(ctx context.Context) (*WhoAmIResponse, error) {
	var out WhoAmIResponse
	if err := c.getJSON(ctx, "WhoAmI", nil, &out); err != nil {
		return nil, err
	}
	if out.UserID == "" {
		return nil, errors.New("dataverse: WhoAmI answered without a UserId")
	}
	return &out, nil
}
