package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/dataverse"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/msapi"
)

// aadstsResourceNotFound is Entra's code for a token request whose resource
// (here the environment_url) has no service principal in the tenant.
const aadstsResourceNotFound = 500011

// entraError is the error body of the Entra token endpoint.
type entraError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	CorrelationID string `json:"correlation_id"`
}

// entraAnswer reads Entra's error body from a failed login, if the login
// got an answer. The body is already buffered by azidentity.
func entraAnswer(err error) (entraError, int, bool) {
	var authErr *azidentity.AuthenticationFailedError
	if !errors.As(err, &authErr) || authErr.RawResponse == nil {
		return entraError{}, 0, false
	}
	body, readErr := runtime.Payload(authErr.RawResponse)
	var answer entraError
	if readErr != nil || json.Unmarshal(body, &answer) != nil || answer.Description == "" {
		return entraError{}, authErr.RawResponse.StatusCode, false
	}
	return answer, authErr.RawResponse.StatusCode, true
}

// summary is Entra's answer in one line: the first line of the description
// (the AADSTS code and message, without trace id and timestamp), the HTTP
// status and error, and the correlation id a support case asks for.
func (e entraError) summary(status int) string {
	first, _, _ := strings.Cut(e.Description, "\r\n")
	first, _, _ = strings.Cut(first, "\n")
	s := fmt.Sprintf("Microsoft Entra ID answered HTTP %d %s: %s", status, e.Error, strings.TrimSpace(first))
	if e.CorrelationID != "" {
		s += " (correlation ID " + e.CorrelationID + ")"
	}
	return s
}

// addLoginError reports the failed first token request of Configure by its
// cause: an untrusted server certificate (ca_certificate_file), a resource
// Entra does not know (environment_url), or a rejected credential. Entra's
// full answer as azidentity prints it is long; it goes to the debug log.
func addLoginError(ctx context.Context, diags *diag.Diagnostics, err error, s providerSettings) {
	tflog.Debug(ctx, "login to Microsoft Entra ID failed", map[string]any{"error": err.Error()})
	if msapi.IsCertificateError(err) {
		addCertificateError(diags, err, s, hostOf(s.authorityHost)+" (the Microsoft Entra login host, authority_host)")
		return
	}
	answer, status, answered := entraAnswer(err)
	if answered && slices.Contains(answer.Codes, aadstsResourceNotFound) {
		diags.AddAttributeError(path.Root("environment_url"), "Microsoft Entra ID does not know environment_url",
			fmt.Sprintf("Microsoft Entra ID found no resource named %s in tenant %s, so it issued no token for it. "+
				"Check environment_url: it must be the environment's address, such as https://contoso.crm.dynamics.com — the host "+
				"of the Web API endpoint that Power Apps shows under Settings > Developer resources — not the URL of an app or "+
				"of the maker portal. If it is right, tenant_id names another tenant than the environment's.\n\n%s",
				s.environmentURL, s.login.TenantID, answer.summary(status)))
		return
	}
	const hint = "Check tenant_id, client_id and the credential (client_secret, client certificate or federated token), " +
		"and that the app registration exists in that tenant."
	if answered {
		diags.AddError("Login to Microsoft Entra ID failed", hint+"\n\n"+answer.summary(status))
		return
	}
	diags.AddError("Login to Microsoft Entra ID failed", hint+"\n\n"+apiErrorText(err))
}

// addCertificateError reports a server certificate that failed verification,
// on ca_certificate_file: the fix is that file or the system trust store.
func addCertificateError(diags *diag.Diagnostics, err error, s providerSettings, server string) {
	fix := "If a TLS-inspecting proxy or a private CA issued the certificate, set ca_certificate_file (" + envCACertificateFile +
		") to a PEM file holding that CA, or add the CA to the system trust store. Against the emulator, use the CA file it " +
		"writes. TLS verification is never turned off."
	if s.caCertificateFile != "" {
		fix = "ca_certificate_file (" + s.caCertificateFile + ") is set, but neither it nor the system trust store holds the CA " +
			"that issued the certificate: add that CA to the file. TLS verification is never turned off."
	}
	diags.AddAttributeError(path.Root("ca_certificate_file"), "Server certificate not trusted",
		fmt.Sprintf("The provider could not verify the TLS certificate of %s: %s.\n\n%s", server, certificateReason(err), fix))
}

// certificateReason is the x509 sentence of a verification error, without
// the request and azidentity's troubleshooting link around it.
func certificateReason(err error) string {
	msg := err.Error()
	i := strings.Index(msg, "x509: ")
	if i < 0 {
		return msg
	}
	reason := msg[i:]
	reason, _, _ = strings.Cut(reason, "\n")
	reason, _, _ = strings.Cut(reason, ". To troubleshoot")
	return strings.TrimSuffix(reason, ".")
}

// apiErrorText is err's text without azidentity's troubleshooting link.
func apiErrorText(err error) string {
	text, _, _ := strings.Cut(err.Error(), " To troubleshoot, visit")
	return strings.TrimSpace(text)
}

// hostOf is the scheme://host of a URL, or the URL itself if it does not parse.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// checkEnvironment asks environment_url's WhoAmI, the cheapest Dataverse
// call, so that a URL of some other HTTPS server fails here with an error
// naming environment_url, rather than its answers (such as {"value":[]} to
// everything) being read as an empty audit trail or missing tables.
func checkEnvironment(ctx context.Context, client *dataverse.Client, s providerSettings) diag.Diagnostics {
	var diags diag.Diagnostics
	who, err := client.WhoAmI(ctx)
	switch {
	case err == nil:
		tflog.Debug(ctx, "environment_url is a Dataverse environment", map[string]any{
			"user_id": who.UserID, "organization_id": who.OrganizationID,
		})
	case msapi.IsCertificateError(err):
		addCertificateError(&diags, err, s, s.environmentURL+" (environment_url)")
	case errors.Is(err, dataverse.ErrNotWhoAmI), msapi.IsNotFound(err):
		diags.AddAttributeError(path.Root("environment_url"), "environment_url is not a Dataverse environment",
			fmt.Sprintf("%s does not answer like a Dataverse environment: %s.\n\nSet environment_url to the environment's address, "+
				"such as https://contoso.crm.dynamics.com — the host of the Web API endpoint that Power Apps shows under "+
				"Settings > Developer resources.", s.environmentURL, apiErrorText(err)))
	default:
		diags.AddAttributeError(path.Root("environment_url"), "Cannot use the Dataverse environment", apiErrorDetail(err))
	}
	return diags
}
