package auth

import (
	"net/url"
	"strings"
)

// Cloud is a Microsoft cloud the provider can sign in to.
type Cloud struct {
	Name string
	// AuthorityHost is the login host, ending with "/".
	AuthorityHost string
	// GraphURL is the Microsoft Graph root without a version, e.g. "https://graph.microsoft.com".
	GraphURL string
	// AuditSearchSupported says whether the Purview audit log query API is available there.
	AuditSearchSupported bool
}

var clouds = []Cloud{
	{Name: "public", AuthorityHost: "https://login.microsoftonline.com/", GraphURL: "https://graph.microsoft.com", AuditSearchSupported: true},
	{Name: "usgovernment", AuthorityHost: "https://login.microsoftonline.us/", GraphURL: "https://graph.microsoft.us"},
	{Name: "usgovernmentdod", AuthorityHost: "https://login.microsoftonline.us/", GraphURL: "https://dod-graph.microsoft.us"},
	{Name: "china", AuthorityHost: "https://login.chinacloudapi.cn/", GraphURL: "https://microsoftgraph.chinacloudapi.cn"},
}

// LookupCloud finds a cloud by name, ignoring case and surrounding spaces.
func LookupCloud(name string) (Cloud, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, c := range clouds {
		if c.Name == name {
			return c, true
		}
	}
	return Cloud{}, false
}

// CloudNames lists the names LookupCloud accepts, public first.
func CloudNames() []string {
	names := make([]string, len(clouds))
	for i, c := range clouds {
		names[i] = c.Name
	}
	return names
}

// microsoftLoginHosts are the hosts MSAL trusts without instance discovery.
var microsoftLoginHosts = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"sts.windows.net":                  true,
	"login.microsoftonline.us":         true,
	"login.usgovcloudapi.net":          true,
	"login-us.microsoftonline.com":     true,
	"login.chinacloudapi.cn":           true,
	"login.partner.microsoftonline.cn": true,
	"login.microsoftonline.de":         true,
	"login.sovcloud-identity.fr":       true,
	"login.sovcloud-identity.de":       true,
	"login.sovcloud-identity.sg":       true,
}

// IsMicrosoftAuthorityHost reports whether host (a URL such as "https://login.microsoftonline.us/"
// or a bare host name) is one of Microsoft's login hosts. Any other host — the emulator, a
// private cloud — needs DisableInstanceDiscovery, or MSAL asks login.microsoftonline.com about it.
func IsMicrosoftAuthorityHost(host string) bool {
	host = strings.TrimSpace(host)
	if host == "" {
		return false
	}
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return false
		}
		host = u.Hostname()
	} else {
		host = strings.TrimSuffix(host, "/")
		if u, err := url.Parse("https://" + host); err == nil {
			host = u.Hostname()
		}
	}
	return microsoftLoginHosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}
