package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/auth"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// addAuthError attaches a credential-selection error to the attribute it is about.
func addAuthError(diags *diag.Diagnostics, err error) {
	var ce *auth.ConfigError
	if errors.As(err, &ce) {
		if ce.Attribute != "" {
			diags.AddAttributeError(path.Root(ce.Attribute), ce.Summary, ce.Detail)
		} else {
			diags.AddError(ce.Summary, ce.Detail)
		}
		return
	}
	diags.AddError("Cannot set up the login", err.Error())
}

// apiErrorDetail explains a failed call in terms of what the user can do.
func apiErrorDetail(err error) string {
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		answer := apiErrorText(err)
		if entra, status, ok := entraAnswer(err); ok {
			answer = entra.summary(status)
		}
		return "Login to Microsoft Entra ID failed. Check tenant_id, client_id and the credential (client_secret, " +
			"client certificate or federated token), and that the app registration exists in that tenant.\n\n" + answer
	}
	if msapi.IsCertificateError(err) {
		return err.Error() + "\n\nThe server's TLS certificate is not trusted. If a TLS-inspecting proxy or a private CA issued it, " +
			"set ca_certificate_file (" + envCACertificateFile + ") to a PEM file holding that CA, or add the CA to the system trust store."
	}
	if dataverse.IsCustomizationLock(err) {
		return customizationLockDetail(err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "The operation was cancelled or timed out before Dataverse answered: " + err.Error()
	}
	apiErr, ok := msapi.AsError(err)
	if !ok {
		return err.Error()
	}
	if apiErr.Hint != "" || apiErr.API != dataverse.APIName {
		// The client already said what to do (e.g. the Graph permission);
		// the hints below are Dataverse's.
		return err.Error()
	}
	var hint string
	switch {
	case msapi.IsThrottled(apiErr):
		hint = "Dataverse service protection limits throttled the requests. Run again later, lower terraform -parallelism " +
			"or the provider's max_concurrent_requests, or raise max_retries."
	case msapi.IsUnauthorized(apiErr):
		hint = "Dataverse rejected the access token. Check that the application user for client_id exists in this " +
			"environment and is enabled, and that environment_url is the environment the token was issued for."
	case msapi.IsForbidden(apiErr):
		hint = "The application user lacks a privilege for this operation. Assign it a security role that has the " +
			"privilege named above (organization audit settings need prvReadOrganization and prvWriteOrganization, " +
			"as in the System Administrator or System Customizer roles)."
	case msapi.IsNotFound(apiErr):
		hint = "Dataverse has no such object in this environment."
	case apiErr.StatusCode >= 500:
		hint = "Dataverse failed to process the request. Retrying later usually helps; if it persists, raise max_retries."
	}
	if hint == "" {
		return apiErr.Error()
	}
	return apiErr.Error() + "\n\n" + hint
}

func addAPIError(diags *diag.Diagnostics, summary string, err error) {
	diags.AddError(summary, apiErrorDetail(err))
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

func quoteAll(in []string) string {
	q := make([]string, len(in))
	for i, s := range in {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
