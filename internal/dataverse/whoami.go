package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
)

// WhoAmIResponse is the answer of the WhoAmI function.
type WhoAmIResponse struct {
	BusinessUnitID string `json:"BusinessUnitId"`
	UserID         string `json:"UserId"`
	OrganizationID string `json:"OrganizationId"`
}

// ErrNotWhoAmI marks a successful answer to GET WhoAmI that is not a
// WhoAmIResponse: the environment URL points at some other HTTPS server,
// whose answers (such as {"value":[]} to everything) must not be taken for
// Dataverse's.
var ErrNotWhoAmI = errors.New("the answer is not a Dataverse WhoAmIResponse")

// whoAmIExcerpt is how much of a foreign answer an error quotes.
const whoAmIExcerpt = 120

// WhoAmI calls GET WhoAmI: the cheapest check that the URL is a Dataverse
// environment and that the token and the application user work.
func (c *Client) WhoAmI(ctx context.Context) (*WhoAmIResponse, error) {
	resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: "WhoAmI"})
	if err != nil {
		return nil, err
	}
	var out WhoAmIResponse
	if json.Unmarshal(resp.Body, &out) != nil || uuid.Validate(out.UserID) != nil {
		excerpt := string(resp.Body)
		if len(excerpt) > whoAmIExcerpt {
			excerpt = excerpt[:whoAmIExcerpt] + "…"
		}
		return nil, fmt.Errorf("GET WhoAmI answered HTTP %d with %q, not a UserId: %w", resp.StatusCode, excerpt, ErrNotWhoAmI)
	}
	return &out, nil
}
