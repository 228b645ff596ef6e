package auth

import (
	"slices"
	"strings"
	"testing"
)

func TestLookupCloud(t *testing.T) {
	tests := []struct {
		name      string
		authority string
		graph     string
		audit     bool
	}{
		{"public", "https://login.microsoftonline.com/", "https://graph.microsoft.com", true},
		{"usgovernment", "https://login.microsoftonline.us/", "https://graph.microsoft.us", false},
		{"usgovernmentdod", "https://login.microsoftonline.us/", "https://dod-graph.microsoft.us", false},
		{"china", "https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn", false},
	}
	for _, tt := range tests {
		c, ok := LookupCloud(tt.name)
		if !ok {
			t.Fatalf("LookupCloud(%q) not found", tt.name)
		}
		if c.Name != tt.name || c.AuthorityHost != tt.authority || c.GraphURL != tt.graph || c.AuditSearchSupported != tt.audit {
			t.Errorf("LookupCloud(%q) = %+v", tt.name, c)
		}
		if !IsMicrosoftAuthorityHost(c.AuthorityHost) {
			t.Errorf("%s authority %q is not a Microsoft host", c.Name, c.AuthorityHost)
		}
		if !strings.HasSuffix(c.AuthorityHost, "/") || strings.HasSuffix(c.GraphURL, "/") {
			t.Errorf("%s: authority must end with / and graph must not: %+v", c.Name, c)
		}
	}
	if c, ok := LookupCloud(" Public "); !ok || c.Name != "public" {
		t.Errorf("LookupCloud is not case-insensitive: %+v, %v", c, ok)
	}
	for _, bad := range []string{"", "azure", "germany"} {
		if _, ok := LookupCloud(bad); ok {
			t.Errorf("LookupCloud(%q) found a cloud", bad)
		}
	}
	names := CloudNames()
	if !slices.Equal(names, []string{"public", "usgovernment", "usgovernmentdod", "china"}) {
		t.Errorf("CloudNames() = %v", names)
	}
	names[0] = "changed"
	if CloudNames()[0] != "public" {
		t.Error("CloudNames returns shared state")
	}
}

func TestIsMicrosoftAuthorityHost(t *testing.T) {
	tests := map[string]bool{
		"https://login.microsoftonline.com/":           true,
		"https://login.microsoftonline.com":            true,
		"https://LOGIN.MicrosoftOnline.com/":           true,
		"login.microsoftonline.com":                    true,
		"login.microsoftonline.com/":                   true,
		"https://login.microsoftonline.us/":            true,
		"https://login.chinacloudapi.cn/":              true,
		"https://login.partner.microsoftonline.cn/":    true,
		"https://login.windows.net/":                   true,
		"https://login.microsoftonline.com:443/":       true,
		"":                                             false,
		"https://127.0.0.1:8443/":                      false,
		"https://localhost/":                           false,
		"localhost:9443":                               false,
		"https://login.microsoftonline.com.evil.test/": false,
		"https://evil.test/login.microsoftonline.com/": false,
		"https://login.microsoftonline.com@evil.test/": false,
		"https://sub.login.microsoftonline.com/":       false,
		"https://emulator.login.microsoftonline.test/": false,
		"://broken": false,
	}
	for host, want := range tests {
		if got := IsMicrosoftAuthorityHost(host); got != want {
			t.Errorf("IsMicrosoftAuthorityHost(%q) = %v, want %v", host, got, want)
		}
	}
}
