package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/attr/xattr"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// The time attributes of the audit data sources use timetypes.RFC3339 and
// timetypes.GoDuration for parsing (time.Parse(time.RFC3339) and
// time.ParseDuration, the parsers this provider used before) and for
// semantic equality. They are wrapped for two reasons only: a refused value
// is reported in this provider's words (the attribute, an example, the value
// given; the timetypes text names neither attribute nor example), and a
// lookback must be positive, which GoDuration does not check ("-1h" and
// "0s" parse). A type's own validation runs before attribute validators and
// stops them on error, so the wording cannot come from a validator.
// Terraform still sees plain strings.

// timestampType is an RFC 3339 timestamp with a zone, e.g. 2026-01-01T00:00:00Z.
type timestampType struct{ timetypes.RFC3339Type }

type timestampValue struct{ timetypes.RFC3339 }

var (
	_ basetypes.StringTypable                    = timestampType{}
	_ basetypes.StringValuableWithSemanticEquals = timestampValue{}
	_ xattr.ValidateableAttribute                = timestampValue{}
)

func (timestampType) String() string { return "provider.timestampType" }

func (timestampType) ValueType(context.Context) attr.Value { return timestampValue{} }

func (timestampType) Equal(o attr.Type) bool {
	_, ok := o.(timestampType)
	return ok
}

func (timestampType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return timestampValue{timetypes.RFC3339{StringValue: in}}, nil
}

func (t timestampType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	return stringValuableFromTerraform(ctx, t, in)
}

func (timestampValue) Type(context.Context) attr.Type { return timestampType{} }

func (v timestampValue) Equal(o attr.Value) bool {
	other, ok := o.(timestampValue)
	return ok && v.StringValue.Equal(other.StringValue)
}

func (v timestampValue) StringSemanticEquals(ctx context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	newValue, ok := newValuable.(timestampValue)
	if !ok {
		return false, nil
	}
	return v.RFC3339.StringSemanticEquals(ctx, newValue.RFC3339)
}

func (v timestampValue) ValidateAttribute(_ context.Context, req xattr.ValidateAttributeRequest, resp *xattr.ValidateAttributeResponse) {
	if !known(v) {
		return
	}
	if _, diags := v.ValueRFC3339Time(); diags.HasError() {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid timestamp",
			fmt.Sprintf("%s must be an RFC 3339 timestamp such as 2026-01-01T00:00:00Z, got %q.", req.Path, v.ValueString()))
	}
}

// positiveDurationType is a Go duration above zero, e.g. 24h or 90m. Days
// are not a unit (time.ParseDuration has none), so the error shows how to
// write them in hours.
type positiveDurationType struct{ timetypes.GoDurationType }

type positiveDurationValue struct{ timetypes.GoDuration }

var (
	_ basetypes.StringTypable                    = positiveDurationType{}
	_ basetypes.StringValuableWithSemanticEquals = positiveDurationValue{}
	_ xattr.ValidateableAttribute                = positiveDurationValue{}
)

func (positiveDurationType) String() string { return "provider.positiveDurationType" }

func (positiveDurationType) ValueType(context.Context) attr.Value { return positiveDurationValue{} }

func (positiveDurationType) Equal(o attr.Type) bool {
	_, ok := o.(positiveDurationType)
	return ok
}

func (positiveDurationType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return positiveDurationValue{timetypes.GoDuration{StringValue: in}}, nil
}

func (t positiveDurationType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	return stringValuableFromTerraform(ctx, t, in)
}

func (positiveDurationValue) Type(context.Context) attr.Type { return positiveDurationType{} }

func (v positiveDurationValue) Equal(o attr.Value) bool {
	other, ok := o.(positiveDurationValue)
	return ok && v.StringValue.Equal(other.StringValue)
}

func (v positiveDurationValue) StringSemanticEquals(ctx context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	newValue, ok := newValuable.(positiveDurationValue)
	if !ok {
		return false, nil
	}
	return v.GoDuration.StringSemanticEquals(ctx, newValue.GoDuration)
}

func (v positiveDurationValue) ValidateAttribute(_ context.Context, req xattr.ValidateAttributeRequest, resp *xattr.ValidateAttributeResponse) {
	if !known(v) {
		return
	}
	if d, diags := v.ValueGoDuration(); diags.HasError() || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%s must be a positive duration such as 24h or 90m (days as hours: 7 days = 168h), got %q.",
				req.Path, v.ValueString()))
	}
}

// stringValuableFromTerraform is ValueFromTerraform for a custom string type.
func stringValuableFromTerraform(ctx context.Context, t basetypes.StringTypable, in tftypes.Value) (attr.Value, error) {
	raw, err := basetypes.StringType{}.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	str, ok := raw.(basetypes.StringValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T", raw)
	}
	value, diags := t.ValueFromString(ctx, str)
	if diags.HasError() {
		return nil, fmt.Errorf("converting %q to %s: %v", str.ValueString(), t, diags)
	}
	return value, nil
}

// timestampAttribute is an optional timestamp of a data source.
func timestampAttribute(desc string) dsschema.StringAttribute {
	return dsschema.StringAttribute{Optional: true, CustomType: timestampType{}, MarkdownDescription: desc}
}

// parsed is the time; values reach the data sources validated, so an error
// here means a value was built without validation.
func (v timestampValue) parsed() (time.Time, error) {
	t, diags := v.ValueRFC3339Time()
	if diags.HasError() {
		return t, fmt.Errorf("%s: %s", diags[0].Summary(), diags[0].Detail())
	}
	return t, nil
}

// timeOrNil is the time, or nil when the attribute is not set.
func (v timestampValue) timeOrNil() (*time.Time, error) {
	if !known(v) {
		return nil, nil
	}
	t, err := v.parsed()
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// checkWindowOrder refuses a time window that ends before it starts.
func checkWindowOrder(from, to timestampValue, diags *diag.Diagnostics) {
	if !known(from) || !known(to) {
		return
	}
	start, errStart := from.parsed()
	end, errEnd := to.parsed()
	if errStart == nil && errEnd == nil && start.After(end) {
		diags.AddAttributeError(path.Root("to"), "Time window ends before it starts",
			fmt.Sprintf("to (%s) is before from (%s). Swap them, or widen the window.", to.ValueString(), from.ValueString()))
	}
}
