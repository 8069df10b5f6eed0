package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validator checks a decoded file and collects every problem with its line.
type validator struct {
	file string
	pos  positions
	errs Errors
}

// fail records a problem with key (given as parts) at the line where the
// first of key or lineKeys is defined.
func (v *validator) fail(key []string, lineKeys [][]string, format string, args ...any) {
	line := v.pos.line(keyPath(key...))
	for _, k := range lineKeys {
		if line != 0 {
			break
		}
		line = v.pos.line(keyPath(k...))
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: line, Key: keyPath(key...), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) result() error { return collapse(v.errs) }

func (v *validator) build(raw *rawFile) *Config {
	cfg := &Config{Path: v.file, Profiles: map[string]*Profile{}}
	cfg.Daemon = v.daemon(&raw.Daemon)
	names := make([]string, 0, len(raw.Profiles))
	for name := range raw.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rp := raw.Profiles[name]
		cfg.Profiles[name] = v.profile(name, &rp)
	}
	if raw.DefaultProfile != nil && *raw.DefaultProfile != "" {
		cfg.DefaultProfile = *raw.DefaultProfile
		if _, ok := raw.Profiles[cfg.DefaultProfile]; !ok {
			v.fail([]string{"default_profile"}, nil, "no profile %q is defined (add a [profiles.%s] table)", cfg.DefaultProfile, keyPath(cfg.DefaultProfile))
		}
	}
	return cfg
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

func (v *validator) enum(key []string, val, def string, allowed ...string) string {
	if val == "" {
		return def
	}
	if !oneOf(val, allowed...) {
		v.fail(key, nil, "%q is not one of %s", val, strings.Join(allowed, ", "))
	}
	return val
}

func (v *validator) daemon(r *rawDaemon) Daemon {
	d := Daemon{
		LogLevel:     v.enum([]string{"daemon", "log_level"}, r.LogLevel, DefaultLogLevel, "debug", "info", "warn", "error"),
		LogFormat:    v.enum([]string{"daemon", "log_format"}, r.LogFormat, DefaultLogFormat, "console", "json"),
		Store:        v.enum([]string{"daemon", "store"}, r.Store, DefaultStore, "keyring", "file"),
		StateDir:     r.StateDir,
		StoreKeyFile: r.StoreKeyFile,
	}
	mv := r.MinValid
	if mv == "" {
		mv = DefaultMinValid
	}
	dur, err := time.ParseDuration(mv)
	switch {
	case err != nil:
		v.fail([]string{"daemon", "min_valid"}, nil, "%q is not a duration (e.g. \"5m\")", r.MinValid)
	case dur <= 0:
		v.fail([]string{"daemon", "min_valid"}, nil, "%q must be positive (e.g. \"5m\")", r.MinValid)
	default:
		d.MinValid = dur
	}
	d.MetadataListen = DefaultMetadataListen
	if r.MetadataListen != nil {
		d.MetadataListen = *r.MetadataListen
		if d.MetadataListen != "" {
			if msg := checkLoopbackAddr(d.MetadataListen); msg != "" {
				v.fail([]string{"daemon", "metadata_listen"}, nil, "%q %s", d.MetadataListen, msg)
			}
		}
	}
	return d
}

// checkLoopbackAddr returns "" when addr is a loopback host:port, else why not.
func checkLoopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return `is not a host:port (e.g. "127.0.0.1:8771")`
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return `has no valid port (e.g. "127.0.0.1:8771")`
	}
	if strings.EqualFold(host, "localhost") {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return `is not a loopback address (use 127.0.0.1, [::1] or localhost)`
}

var (
	tenantRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	workspaceRE = regexp.MustCompile(`(?i)^/subscriptions/[^/\s]+/resourceGroups/[^/\s]+/providers/Microsoft\.Databricks/workspaces/[^/\s]+$`)
)

func (v *validator) profile(name string, r *rawProfile) *Profile {
	base := []string{"profiles", name}
	key := func(k string) []string { return []string{"profiles", name, k} }
	at := [][]string{base} // missing keys point at the profile's header
	p := &Profile{
		Name:                name,
		Flow:                r.Flow,
		Tenant:              r.Tenant,
		ClientID:            r.ClientID,
		Username:            r.Username,
		Certificate:         r.Certificate,
		FederatedTokenFile:  r.FederatedTokenFile,
		WorkspaceResourceID: r.WorkspaceResourceID,
		AllowedUsers:        r.AllowedUsers,
		AllowedGroups:       r.AllowedGroups,
	}
	if !profileNameRE.MatchString(name) {
		v.fail(base, nil, "profile names may only hold letters, digits, '_', '.' and '-'")
	}
	switch {
	case r.Flow == "":
		v.fail(base, at, "flow is missing (one of %s)", strings.Join(Flows, ", "))
	case !oneOf(r.Flow, Flows...):
		v.fail(key("flow"), nil, "%q is not a flow (one of %s)", r.Flow, strings.Join(Flows, ", "))
	default:
		needs := func(field, val string) {
			if val == "" {
				v.fail(base, at, "flow %q needs %s", r.Flow, field)
			}
		}
		if r.Flow != FlowManagedIdentity {
			needs("tenant", r.Tenant)
			needs("client_id", r.ClientID)
		}
		switch r.Flow {
		case FlowUsernamePassword:
			needs("username", r.Username)
		case FlowFederated:
			needs("federated_token_file", r.FederatedTokenFile)
		}
	}
	if r.Tenant != "" && !tenantRE.MatchString(r.Tenant) {
		v.fail(key("tenant"), nil, "%q is not a tenant ID or domain", r.Tenant)
	}
	if strings.TrimSpace(r.ClientID) != r.ClientID {
		v.fail(key("client_id"), nil, "%q has surrounding spaces", r.ClientID)
	}
	p.Cloud = v.enum(key("cloud"), r.Cloud, DefaultCloud, "public", "usgov", "china")
	if r.AuthorityHost != "" {
		if u, msg := checkHTTPSURL(r.AuthorityHost, true); msg != "" {
			v.fail(key("authority_host"), nil, "%q %s", r.AuthorityHost, msg)
		} else {
			p.AuthorityHost = u
		}
	}
	if r.DatabricksHost != "" {
		if u, msg := checkHTTPSURL(r.DatabricksHost, false); msg != "" {
			v.fail(key("databricks_host"), nil, "%q %s", r.DatabricksHost, msg)
		} else {
			p.DatabricksHost = u
		}
	}
	if r.WorkspaceResourceID != "" && !workspaceRE.MatchString(r.WorkspaceResourceID) {
		v.fail(key("workspace_resource_id"), nil,
			"%q is not a workspace resource ID (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Databricks/workspaces/<name>)",
			r.WorkspaceResourceID)
	}
	if r.Scopes == nil {
		p.Scopes = []string{DatabricksScope}
	} else {
		p.Scopes = *r.Scopes
		if len(p.Scopes) == 0 {
			v.fail(key("scopes"), nil, "is empty (leave it out for the default %q)", DatabricksScope)
		}
		for i, s := range p.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				v.fail(key("scopes"), nil, "scope %d is empty or holds spaces (write one scope per string)", i+1)
			}
		}
	}
	p.GitScope = AzureDevOpsScope
	if r.GitScope != nil {
		p.GitScope = *r.GitScope
		if p.GitScope == "" || strings.ContainsAny(p.GitScope, " \t\r\n") {
			v.fail(key("git_scope"), nil, "%q is not one scope (leave it out for the default %q)", p.GitScope, AzureDevOpsScope)
		}
	}
	for _, l := range []struct {
		key  string
		vals []string
	}{{"allowed_users", r.AllowedUsers}, {"allowed_groups", r.AllowedGroups}} {
		for i, s := range l.vals {
			if strings.TrimSpace(s) == "" {
				v.fail(key(l.key), nil, "entry %d is empty", i+1)
			}
		}
	}
	return p
}

// checkHTTPSURL validates an https URL and returns it normalised (lower-case
// scheme and host, no trailing slash). allowPath permits a path prefix.
func checkHTTPSURL(s string, allowPath bool) (string, string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", `is not an https URL (e.g. "https://host.example")`
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return "", "must use https"
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", "must not hold user info, a query or a fragment"
	}
	if u.Port() != "" {
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return "", "has an invalid port"
		}
	}
	if u.Hostname() == "" {
		return "", `is not an https URL (e.g. "https://host.example")`
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if path != "" && !allowPath {
		return "", `must not have a path (e.g. "https://adb-1234567890123456.7.azuredatabricks.net")`
	}
	return "https://" + strings.ToLower(u.Host) + path, ""
}
