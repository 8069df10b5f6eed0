package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
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

func (v *validator) enum(key []string, val, def string, allowed ...string) string {
	if val == "" {
		return def
	}
	if !slices.Contains(allowed, val) {
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
	d.MetadataListen = v.listen("metadata_listen", r.MetadataListen, DefaultMetadataListen)
	d.IdentityListen = v.listen("identity_listen", r.IdentityListen, DefaultIdentityListen)
	d.MetadataListenSet, d.IdentityListenSet = r.MetadataListen != nil, r.IdentityListen != nil
	if d.MetadataListen != "" && d.MetadataListen == d.IdentityListen && !strings.HasSuffix(d.MetadataListen, ":0") {
		v.fail([]string{"daemon", "identity_listen"}, nil, "%q is metadata_listen too; give each endpoint its own port", d.IdentityListen)
	}
	return d
}

// listen returns the loopback address of [daemon] key: def when the key is
// absent, "" (off) when it is empty.
func (v *validator) listen(key string, raw *string, def string) string {
	if raw == nil {
		return def
	}
	if *raw != "" {
		if msg := checkLoopbackAddr(*raw); msg != "" {
			v.fail([]string{"daemon", key}, nil, "%q %s", *raw, msg)
		}
	}
	return *raw
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
	if ipc.IsLoopbackHost(host) {
		return ""
	}
	return `is not a loopback address (use 127.0.0.1, [::1] or localhost)`
}

var workspaceRE = regexp.MustCompile(`(?i)^/subscriptions/[^/\s]+/resourceGroups/[^/\s]+/providers/Microsoft\.Databricks/workspaces/[^/\s]+$`)

// profile validates one [profiles.NAME] table and fills in its defaults.
func (v *validator) profile(name string, r *rawProfile) *Profile {
	pv := profileValidator{v: v, name: name, r: r}
	p := &Profile{
		Name:                name,
		Flow:                r.Flow,
		ClientID:            r.ClientID,
		Username:            r.Username,
		Certificate:         r.Certificate,
		FederatedTokenFile:  r.FederatedTokenFile,
		WorkspaceResourceID: r.WorkspaceResourceID,
		AllowedUsers:        r.AllowedUsers,
		AllowedGroups:       r.AllowedGroups,
	}
	pv.checkName()
	pv.checkFlowNeeds()
	p.Cloud = pv.cloud()
	p.AuthorityHost = pv.authorityHost()
	p.DatabricksHost = pv.databricksHost(p.Cloud)
	p.Tenant = pv.tenant()
	pv.checkClientID()
	pv.checkWorkspaceResourceID()
	p.Scopes = pv.scopes()
	p.GitScope = pv.gitScope()
	pv.checkAllowedLists()
	return p
}

// profileValidator checks the keys of one profile, one step per method.
type profileValidator struct {
	v    *validator
	name string
	r    *rawProfile
}

func (pv *profileValidator) key(k string) []string { return []string{"profiles", pv.name, k} }
func (pv *profileValidator) base() []string        { return []string{"profiles", pv.name} }

// failMissing reports a missing key at the profile's header.
func (pv *profileValidator) failMissing(format string, args ...any) {
	pv.v.fail(pv.base(), [][]string{pv.base()}, format, args...)
}

func (pv *profileValidator) checkName() {
	if !profileNameRE.MatchString(pv.name) {
		pv.v.fail(pv.base(), nil, "profile names may only hold letters, digits, '_', '.' and '-'")
	}
}

// checkFlowNeeds checks the flow and the keys it cannot do without.
func (pv *profileValidator) checkFlowNeeds() {
	r := pv.r
	switch {
	case r.Flow == "":
		pv.failMissing("flow is missing (one of %s)", strings.Join(Flows, ", "))
		return
	case !slices.Contains(Flows, r.Flow):
		pv.v.fail(pv.key("flow"), nil, "%q is not a flow (one of %s)", r.Flow, strings.Join(Flows, ", "))
		return
	}
	needs := func(field, val string) {
		if val == "" {
			pv.failMissing("flow %q needs %s", r.Flow, field)
		}
	}
	if r.Flow != FlowManagedIdentity {
		if r.DatabricksHost == "" {
			needs("tenant", r.Tenant) // else found from the workspace
		}
		needs("client_id", r.ClientID)
	}
	switch r.Flow {
	case FlowUsernamePassword:
		needs("username", r.Username)
	case FlowFederated:
		needs("federated_token_file", r.FederatedTokenFile)
	}
}

// tenant checks the tenant's form: a GUID or a verified domain, never an
// alias such as common, which is not one tenant.
func (pv *profileValidator) tenant() string {
	if pv.r.Tenant == "" {
		return ""
	}
	t, form := entra.ParseTenant(pv.r.Tenant)
	switch form {
	case entra.TenantAlias:
		pv.v.fail(pv.key("tenant"), nil, "%q is not one tenant but a class of accounts: write the tenant's ID or verified domain%s",
			pv.r.Tenant, pv.tenantHint())
		return ""
	case entra.TenantInvalid:
		pv.v.fail(pv.key("tenant"), nil, "%q is not a tenant ID or domain (e.g. \"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\" or \"contoso.onmicrosoft.com\")", pv.r.Tenant)
		return ""
	}
	return t
}

func (pv *profileValidator) tenantHint() string {
	if pv.r.DatabricksHost != "" {
		return ", or leave it out to take the workspace's"
	}
	return ""
}

func (pv *profileValidator) checkClientID() {
	if strings.TrimSpace(pv.r.ClientID) != pv.r.ClientID {
		pv.v.fail(pv.key("client_id"), nil, "%q has surrounding spaces", pv.r.ClientID)
	}
}

func (pv *profileValidator) cloud() string {
	return pv.v.enum(pv.key("cloud"), pv.r.Cloud, DefaultCloud, entra.CloudNames()...)
}

func (pv *profileValidator) authorityHost() string {
	if pv.r.AuthorityHost == "" {
		return ""
	}
	u, msg := checkHTTPSURL(pv.r.AuthorityHost)
	if msg != "" {
		pv.v.fail(pv.key("authority_host"), nil, "%q %s", pv.r.AuthorityHost, msg)
	}
	return u
}

// databricksHost normalises databricks_host and checks that a workspace of
// a known cloud is in the profile's cloud.
func (pv *profileValidator) databricksHost(cloud string) string {
	s := pv.r.DatabricksHost
	if s == "" {
		return ""
	}
	u, ok := entra.WorkspaceURL(s)
	if !ok {
		pv.v.fail(pv.key("databricks_host"), nil, "%q is not a workspace URL: write https:// and the host, no path (e.g. \"https://adb-1234567890123456.7.azuredatabricks.net\")", s)
		return ""
	}
	host := strings.TrimPrefix(u, "https://")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if c := entra.CloudOfDatabricksHost(host); c != nil && c.Name != cloud {
		pv.v.fail(pv.key("databricks_host"), nil, "%q is a workspace of the %s cloud but the profile's cloud is %s: set cloud = %q", s, c.Name, cloud, c.Name)
	}
	return u
}

func (pv *profileValidator) checkWorkspaceResourceID() {
	if id := pv.r.WorkspaceResourceID; id != "" && !workspaceRE.MatchString(id) {
		pv.v.fail(pv.key("workspace_resource_id"), nil,
			"%q is not a workspace resource ID (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Databricks/workspaces/<name>)", id)
	}
}

// scopes are the profile's scopes, the Databricks scope by default.
func (pv *profileValidator) scopes() []string {
	if pv.r.Scopes == nil {
		return []string{DatabricksScope}
	}
	scopes := *pv.r.Scopes
	if len(scopes) == 0 {
		pv.v.fail(pv.key("scopes"), nil, "is empty (leave it out for the default %q)", DatabricksScope)
	}
	for i, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			pv.v.fail(pv.key("scopes"), nil, "scope %d is empty or holds spaces (write one scope per string)", i+1)
		}
	}
	return scopes
}

// gitScope is the scope of git's passwords, Azure DevOps' by default.
func (pv *profileValidator) gitScope() string {
	if pv.r.GitScope == nil {
		return AzureDevOpsScope
	}
	s := *pv.r.GitScope
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		pv.v.fail(pv.key("git_scope"), nil, "%q is not one scope (leave it out for the default %q)", s, AzureDevOpsScope)
	}
	return s
}

func (pv *profileValidator) checkAllowedLists() {
	for _, l := range []struct {
		key  string
		vals []string
	}{{"allowed_users", pv.r.AllowedUsers}, {"allowed_groups", pv.r.AllowedGroups}} {
		for i, s := range l.vals {
			if strings.TrimSpace(s) == "" {
				pv.v.fail(pv.key(l.key), nil, "entry %d is empty", i+1)
			}
		}
	}
}

// checkHTTPSURL validates an authority URL and returns it normalised
// (lower-case scheme and host, no trailing slash); a path prefix is kept.
func checkHTTPSURL(s string) (string, string) {
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
	return "https://" + strings.ToLower(u.Host) + path, ""
}
