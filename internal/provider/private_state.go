package provider

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// settingsPrivateState is what a settings resource keeps in its private
// state: the values seen before this resource first changed each setting (for
// on_destroy = restore), which attributes the configuration manages (for
// restore and disable, since Delete sees no configuration), and whether the
// resource was imported (its originals are then the values at import).
// NotSetOriginals names the attributes whose value was null before: restore
// cannot write a null back.
type settingsPrivateState[Values any] struct {
	Originals       Values   `json:"originals"`
	Managed         []string `json:"managed"`
	Imported        bool     `json:"imported,omitempty"`
	NotSetOriginals []string `json:"not_set_originals,omitempty"`
}

// privateGetter and privateSetter are the parts of the framework's private
// state (request and response sides) that the resources use.
type privateGetter interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(context.Context, string, []byte) diag.Diagnostics
}

// loadPrivate decodes the JSON kept under key; a missing key is the zero value.
func loadPrivate[T any](ctx context.Context, priv privateGetter, key string) (T, diag.Diagnostics) {
	var out T
	raw, diags := priv.GetKey(ctx, key)
	if diags.HasError() || len(raw) == 0 {
		return out, diags
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		diags.AddError("Corrupt private state", "Cannot decode the resource's private state: "+err.Error())
	}
	return out, diags
}

func savePrivate[T any](ctx context.Context, priv privateSetter, key string, state T) diag.Diagnostics {
	raw, err := json.Marshal(state)
	if err != nil {
		var d diag.Diagnostics
		d.AddError("Cannot encode private state", err.Error())
		return d
	}
	return priv.SetKey(ctx, key, raw)
}
