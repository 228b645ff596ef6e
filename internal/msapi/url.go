package msapi

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// NormalizeURL checks that raw is an absolute https URL (plain http only to
// a loopback host, so that nothing is sent in clear over a network) without
// credentials, query or fragment, and returns it as scheme://host[:port][/path]
// without a trailing slash. The host keeps its case: what the user wrote is
// what messages and state show.
func NormalizeURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not an absolute URL: write it as https://host, e.g. https://contoso.crm.dynamics.com", raw)
	}
	switch u.Scheme { // url.Parse lower-cases the scheme
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return "", fmt.Errorf("%q uses plain http: use https (http is accepted only for a loopback host such as 127.0.0.1)", raw)
		}
	default:
		return "", fmt.Errorf("%q must start with https://", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not contain credentials, a query or a fragment", raw)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// NormalizeHostURL is NormalizeURL for the address of a service (a Dataverse
// environment, Microsoft Graph), which has no path: it returns
// scheme://host[:port]. example is shown in the error, e.g.
// "the environment's address, e.g. https://contoso.crm.dynamics.com".
func NormalizeHostURL(raw, example string) (string, error) {
	u, err := NormalizeURL(raw)
	if err != nil {
		return "", err
	}
	parsed, _ := url.Parse(u) // NormalizeURL parsed it already
	if parsed.Path != "" {
		return "", fmt.Errorf("%q has a path (%s): give only %s", raw, parsed.Path, example)
	}
	return u, nil
}

// IsLoopbackHost reports localhost and loopback IP addresses.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ScopeFor returns the token scope of a service address:
// "<scheme>://<host[:port]>/.default", in lower case.
func ScopeFor(hostURL string) (string, error) {
	u, err := NormalizeHostURL(hostURL, "the scheme and host")
	if err != nil {
		return "", err
	}
	return strings.ToLower(u) + "/.default", nil
}

// normalizeAPIPath returns Config.APIPath as "/segment/…/": with a leading
// and trailing slash added, and no query, fragment, dot segment or escape.
func normalizeAPIPath(s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("API path %q must be a plain path such as %q", s, "/api/data/v9.2/")
	if strings.ContainsAny(s, "?#%\\ ") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", bad
	}
	for _, seg := range strings.Split(strings.Trim(s, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", bad
		}
	}
	return "/" + strings.Trim(s, "/") + "/", nil
}
