package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// notInFutureValidator refuses a timestamp later than now: audit rows
// created in the future do not exist, and a deletion "before" a future
// time would also delete the rows written between now and the apply.
type notInFutureValidator struct{ describedAs }

func notInFuture() notInFutureValidator {
	return notInFutureValidator{"must not be in the future"}
}

func (notInFutureValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	t, err := time.Parse(time.RFC3339, req.ConfigValue.ValueString())
	if err != nil {
		return // the type reports a malformed timestamp
	}
	if now := time.Now(); t.After(now) {
		resp.Diagnostics.AddAttributeError(req.Path, "Timestamp in the future",
			fmt.Sprintf("%s is %s, which is in the future (now %s). Audit logs can only be deleted up to the present: "+
				"set %s to a past time such as %s.", req.Path, req.ConfigValue.ValueString(),
				now.UTC().Format(time.RFC3339), req.Path, now.UTC().AddDate(0, -1, 0).Truncate(24*time.Hour).Format(time.RFC3339)))
	}
}
