package ipc

import (
	"net"
	"net/url"
	"strings"
)

// EndpointEnv names the variables that `entra-helper azure env` and
// `entra-helper databricks env` print: each carries a loopback endpoint's
// URL or secret. DropEndpointEnv removes them from a daemon's environment.
var EndpointEnv = []string{
	"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "ARM_MSI_ENDPOINT", "MSI_ENDPOINT",
	"DATABRICKS_METADATA_SERVICE_URL",
}

// DropEndpointEnv returns env ("KEY=value" entries) without the EndpointEnv
// variables that point at an entra-helperd loopback endpoint, any daemon's,
// and the names it dropped. A managed-identity URL is the daemon's when it
// is a loopback http URL under /app-service or /imds/, or own(value) is
// true (own may be nil); IDENTITY_HEADER goes with such an
// IDENTITY_ENDPOINT or MSI_ENDPOINT, or when own says so. The metadata URL
// always goes: a daemon serves it and never uses it. Variables an Azure
// host set, which a managed-identity profile needs, are kept.
func DropEndpointEnv(env []string, own func(value string) bool) (kept, dropped []string) {
	mine := func(v string) bool {
		if own != nil && own(v) {
			return true
		}
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "http" {
			return false
		}
		return IsLoopbackHost(u.Host) && (u.Path == "/app-service" || strings.HasPrefix(u.Path, "/app-service/") || strings.HasPrefix(u.Path, "/imds/"))
	}
	drop := map[string]bool{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "IDENTITY_ENDPOINT", "MSI_ENDPOINT":
			if mine(v) {
				drop[k], drop["IDENTITY_HEADER"] = true, true
			}
		case "ARM_MSI_ENDPOINT":
			drop[k] = drop[k] || mine(v)
		case "IDENTITY_HEADER":
			drop[k] = drop[k] || own != nil && own(v)
		case "DATABRICKS_METADATA_SERVICE_URL":
			drop[k] = true
		}
	}
	kept = make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if drop[k] {
			dropped = append(dropped, k)
			continue
		}
		kept = append(kept, kv)
	}
	return kept, dropped
}

// IsLoopbackHost reports whether a Host header (or any host[:port]) names
// a loopback address: 127.0.0.0/8, ::1 or localhost. It is the loopback
// check of every endpoint, of the config's *_listen addresses and of the
// endpoint variables DropEndpointEnv removes.
func IsLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
