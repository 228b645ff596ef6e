package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

// onlyAttributeError is the one error of diags, which must be on the
// attribute attr (attr "": on no attribute).
func onlyAttributeError(t *testing.T, diags diag.Diagnostics, attr string) diag.Diagnostic {
	t.Helper()
	if diags.ErrorsCount() != 1 {
		t.Fatalf("want one error, got %v", diags)
	}
	d := diags.Errors()[0]
	var got path.Path
	if withPath, ok := d.(diag.DiagnosticWithPath); ok {
		got = withPath.Path()
	}
	if want := path.Root(attr); attr != "" && !got.Equal(want) || attr == "" && len(got.Steps()) != 0 {
		t.Errorf("path %s, want %q", got, attr)
	}
	return d
}
