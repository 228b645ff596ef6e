package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	testTenant = "00000000-0000-0000-0000-000000000001"
	testClient = "00000000-0000-0000-0000-000000000002"
)

func TestSelect(t *testing.T) {
	ids := func(c Config) Config { c.TenantID, c.ClientID = testTenant, testClient; return c }

	tests := []struct {
		name string
		cfg  Config
		want Method
		// when the selection fails:
		wantAttr     string
		wantInDetail []string
	}{
		// precedence
		{name: "secret", cfg: ids(Config{ClientSecret: "s"}), want: MethodClientSecret},
		{name: "certificate path", cfg: ids(Config{ClientCertificatePath: "/c.pem"}), want: MethodClientCertificate},
		{name: "certificate bytes", cfg: ids(Config{ClientCertificate: []byte("x")}), want: MethodClientCertificate},
		{name: "secret beats certificate", cfg: ids(Config{ClientSecret: "s", ClientCertificatePath: "/c.pem"}), want: MethodClientSecret},
		{name: "certificate beats implicit oidc", cfg: ids(Config{ClientCertificatePath: "/c.pem", OIDCTokenFilePath: "/t"}), want: MethodClientCertificate},
		{name: "secret beats implicit oidc", cfg: ids(Config{ClientSecret: "s", OIDCToken: "jwt"}), want: MethodClientSecret},
		{name: "implicit oidc token", cfg: ids(Config{OIDCToken: "jwt"}), want: MethodOIDC},
		{name: "implicit oidc file", cfg: ids(Config{OIDCTokenFilePath: "/t"}), want: MethodOIDC},
		{name: "implicit oidc github", cfg: ids(Config{OIDCRequestURL: "https://gh/x", OIDCRequestToken: "rt"}), want: MethodOIDC},
		{name: "explicit oidc beats secret", cfg: ids(Config{UseOIDC: true, ClientSecret: "s", OIDCTokenFilePath: "/t"}), want: MethodOIDC},
		{name: "use_msi beats secret", cfg: ids(Config{UseMSI: true, ClientSecret: "s"}), want: MethodManagedIdentity},
		{name: "use_cli beats certificate", cfg: ids(Config{UseCLI: true, ClientCertificatePath: "/c.pem"}), want: MethodAzureCLI},
		{name: "msi without tenant or client", cfg: Config{UseMSI: true}, want: MethodManagedIdentity},
		{name: "msi user-assigned", cfg: Config{UseMSI: true, ClientID: testClient}, want: MethodManagedIdentity},
		{name: "cli without tenant or client", cfg: Config{UseCLI: true}, want: MethodAzureCLI},
		{name: "explicit oidc github with partial other", cfg: ids(Config{UseOIDC: true, OIDCRequestURL: "https://gh/x", OIDCRequestToken: "rt"}), want: MethodOIDC},
		{name: "token file beats partial github", cfg: ids(Config{UseOIDC: true, OIDCTokenFilePath: "/t", OIDCRequestURL: "https://gh/x"}), want: MethodOIDC},

		// conflicting explicit choices
		{name: "cli and msi", cfg: Config{UseCLI: true, UseMSI: true}, wantAttr: AttrUseCLI, wantInDetail: []string{"use_msi", "use_cli"}},
		{name: "oidc and msi", cfg: ids(Config{UseOIDC: true, UseMSI: true, OIDCToken: "jwt"}), wantAttr: AttrUseMSI, wantInDetail: []string{"use_oidc", "use_msi"}},
		{name: "all three", cfg: Config{UseOIDC: true, UseMSI: true, UseCLI: true}, wantAttr: AttrUseCLI, wantInDetail: []string{"use_oidc", "use_msi", "use_cli"}},

		// missing pieces
		{name: "secret without tenant", cfg: Config{ClientSecret: "s", ClientID: testClient}, wantAttr: AttrTenantID, wantInDetail: []string{"tenant_id", "AZURE_TENANT_ID"}},
		{name: "secret without client", cfg: Config{ClientSecret: "s", TenantID: testTenant}, wantAttr: AttrClientID, wantInDetail: []string{"client_id", "AZURE_CLIENT_ID"}},
		{name: "secret without both", cfg: Config{ClientSecret: "s"}, wantAttr: AttrTenantID, wantInDetail: []string{"tenant_id", "AZURE_TENANT_ID", "client_id", "AZURE_CLIENT_ID"}},
		{name: "certificate without client", cfg: Config{ClientCertificatePath: "/c.pem", TenantID: testTenant}, wantAttr: AttrClientID, wantInDetail: []string{"client_id", "AZURE_CLIENT_ID", "certificate"}},
		{name: "certificate path and bytes", cfg: ids(Config{ClientCertificatePath: "/c.pem", ClientCertificate: []byte("x")}), wantAttr: AttrClientCertificateFilePath, wantInDetail: []string{"client_certificate_file_path", "client_certificate"}},
		{name: "oidc without tenant", cfg: Config{UseOIDC: true, ClientID: testClient, OIDCToken: "jwt"}, wantAttr: AttrTenantID, wantInDetail: []string{"tenant_id", "AZURE_TENANT_ID"}},
		{name: "implicit oidc without client", cfg: Config{TenantID: testTenant, OIDCTokenFilePath: "/t"}, wantAttr: AttrClientID, wantInDetail: []string{"client_id", "AZURE_CLIENT_ID"}},
		{name: "oidc without any token", cfg: ids(Config{UseOIDC: true}), wantAttr: AttrUseOIDC, wantInDetail: []string{
			"oidc_token (DYNAMICS365_OIDC_TOKEN)", "oidc_token_file_path (AZURE_FEDERATED_TOKEN_FILE)",
			"oidc_request_url (ACTIONS_ID_TOKEN_REQUEST_URL)", "oidc_request_token (ACTIONS_ID_TOKEN_REQUEST_TOKEN)"}},
		{name: "oidc request url without token", cfg: ids(Config{UseOIDC: true, OIDCRequestURL: "https://gh/x"}), wantAttr: AttrOIDCRequestToken, wantInDetail: []string{"oidc_request_token (ACTIONS_ID_TOKEN_REQUEST_TOKEN)"}},
		{name: "oidc request token without url", cfg: ids(Config{UseOIDC: true, OIDCRequestToken: "rt"}), wantAttr: AttrOIDCRequestURL, wantInDetail: []string{"oidc_request_url (ACTIONS_ID_TOKEN_REQUEST_URL)"}},
		{name: "password without certificate", cfg: ids(Config{ClientCertificatePassword: "pw"}), wantAttr: AttrClientCertificatePassword, wantInDetail: []string{"client_certificate_file_path (AZURE_CLIENT_CERTIFICATE_PATH)"}},
		{name: "blank secret is not a secret", cfg: ids(Config{ClientSecret: "  "}), wantAttr: "", wantInDetail: []string{"client_secret (AZURE_CLIENT_SECRET)"}},

		// nothing usable
		{name: "nothing", cfg: Config{}, wantAttr: "", wantInDetail: []string{
			"client_secret (AZURE_CLIENT_SECRET)",
			"client_certificate_file_path (AZURE_CLIENT_CERTIFICATE_PATH)",
			"use_oidc", "oidc_token_file_path (AZURE_FEDERATED_TOKEN_FILE)",
			"oidc_request_url/oidc_request_token (ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN)",
			"use_msi", "use_cli",
			"tenant_id (AZURE_TENANT_ID) and client_id (AZURE_CLIENT_ID) are required for the first three"}},
		{name: "only ids", cfg: ids(Config{}), wantAttr: "", wantInDetail: []string{"client_secret (AZURE_CLIENT_SECRET)", "use_msi"}},
		{name: "partial github without use_oidc", cfg: ids(Config{OIDCRequestURL: "https://gh/x"}), wantAttr: "", wantInDetail: []string{"no credentials"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(tt.cfg)
			if tt.wantInDetail == nil {
				if err != nil {
					t.Fatalf("Select() error = %v", err)
				}
				if got != tt.want {
					t.Fatalf("Select() = %q, want %q", got, tt.want)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Select() = %q, %v; want a *ConfigError", got, err)
			}
			if ce.Attribute != tt.wantAttr {
				t.Errorf("Attribute = %q, want %q (%v)", ce.Attribute, tt.wantAttr, err)
			}
			if ce.Summary == "" {
				t.Errorf("empty Summary")
			}
			msg := strings.ToLower(err.Error())
			for _, want := range tt.wantInDetail {
				if !strings.Contains(msg, strings.ToLower(want)) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			// Secrets never appear in messages. The table's secrets are too
			// short to search for, so the same selection runs again with
			// each set secret replaced by a marker that cannot occur by
			// chance.
			marked, markers := markSecrets(tt.cfg)
			_, markedErr := Select(marked)
			var markedCE *ConfigError
			if !errors.As(markedErr, &markedCE) || markedCE.Attribute != ce.Attribute {
				t.Fatalf("with marked secrets Select() = %v, want the error of %v", markedErr, err)
			}
			for i := 1; i < len(markers); i += 2 {
				if strings.Contains(markedErr.Error(), markers[i]) {
					t.Errorf("error %q contains a secret", markedErr)
				}
			}
		})
	}
}

func TestSelectNothingConfiguredMessage(t *testing.T) {
	_, err := Select(Config{})
	want := "No credentials configured: set client_secret (AZURE_CLIENT_SECRET), or client_certificate_file_path (AZURE_CLIENT_CERTIFICATE_PATH), " +
		"or use_oidc with oidc_token_file_path (AZURE_FEDERATED_TOKEN_FILE), oidc_token (DYNAMICS365_OIDC_TOKEN) or oidc_request_url/oidc_request_token " +
		"(ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN), or use_msi, or use_cli; " +
		"tenant_id (AZURE_TENANT_ID) and client_id (AZURE_CLIENT_ID) are required for the first three"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestSelectIsPure(t *testing.T) {
	// Paths are not opened and nothing is contacted during selection.
	cfg := Config{TenantID: testTenant, ClientID: testClient, ClientCertificatePath: "/does/not/exist.pem"}
	if m, err := Select(cfg); err != nil || m != MethodClientCertificate {
		t.Fatalf("Select() = %q, %v", m, err)
	}
}

// markSecrets returns cfg with each non-blank secret replaced by a distinct
// marker, and the pairs secret, marker.
func markSecrets(cfg Config) (Config, []string) {
	var pairs []string
	for i, secret := range []*string{&cfg.ClientSecret, &cfg.ClientCertificatePassword, &cfg.OIDCToken, &cfg.OIDCRequestToken} {
		if strings.TrimSpace(*secret) != "" {
			marker := fmt.Sprintf("SECRET-MARKER-%d-f3a9", i)
			pairs = append(pairs, *secret, marker)
			*secret = marker
		}
	}
	return cfg, pairs
}
