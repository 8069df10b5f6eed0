package entra

import (
	"net"
	"net/url"
	"strings"
)

// WorkspaceURL is the one normaliser of Databricks workspace URLs (config's
// databricks_host, the metadata endpoint's X-Databricks-Host, the client's
// flags): it returns s as lower-case https://host[:port], without the
// default port or a trailing slash; a bare host is taken as https. ok is
// false for another scheme, user info, a path, a query or a fragment.
func WorkspaceURL(s string) (normal string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || !strings.EqualFold(u.Scheme, "https") || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	switch {
	case port == "443":
		port = ""
	case port != "" && !validPort(port):
		return "", false
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "https://" + host, true
}

func validPort(p string) bool {
	if len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}
