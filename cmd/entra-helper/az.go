package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/jwt"
)

// azCompatVersion is the Azure CLI version whose output the shim mirrors.
const azCompatVersion = "2.67.0"

const azUnsupported = "entra-helper's az shim supports only `az account get-access-token`, `az account show` and `az version`"

// azArgs is a parsed az command line.
type azArgs struct {
	cmd          []string
	resource     string
	resourceType string
	scopes       []string
	tenant       string
	subscription string
	output       string
	query        string
	help         bool
	version      bool
}

// isQueryPath reports whether q is in the subset of JMESPath the shim
// understands: a dotted path of identifiers, e.g. accessToken or user.name.
func isQueryPath(q string) bool {
	for _, id := range strings.Split(q, ".") {
		if id == "" || id[0] >= '0' && id[0] <= '9' {
			return false
		}
		for _, r := range id {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

func azUsage(msg string) error {
	return usageError(msg + "; " + azUnsupported + " (see `entra-helper --help`)")
}

// parseAzArgs reads the az command line the way the Azure CLI does for the
// commands the shim answers.
func parseAzArgs(args []string) (*azArgs, error) {
	z := &azArgs{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			z.cmd = append(z.cmd, arg)
			continue
		}
		var err error
		if i, err = z.takeOption(args, i); err != nil {
			return nil, err
		}
	}
	if err := z.checkOutput(); err != nil {
		return nil, err
	}
	if err := z.checkResourceOptions(); err != nil {
		return nil, err
	}
	return z, nil
}

// takeOption reads the option at args[i] and its values; it returns the
// index of the last argument it used.
func (z *azArgs) takeOption(args []string, i int) (int, error) {
	name, val, hasVal := strings.Cut(args[i], "=")
	value := func(dst *string) error {
		if hasVal {
			*dst = val
			return nil
		}
		if i+1 >= len(args) {
			return usageError("argument " + name + ": expected one argument")
		}
		i++
		*dst = args[i]
		return nil
	}
	var err error
	switch name {
	case "-h", "--help":
		z.help = true
	case "--version":
		z.version = true
	case "--debug", "--verbose", "--only-show-errors", "--no-color":
		// Logging options of the real CLI: nothing to do.
	case "--resource":
		err = value(&z.resource)
	case "--resource-type":
		err = value(&z.resourceType)
	case "--tenant", "-t":
		err = value(&z.tenant)
	case "--subscription", "-s", "--name", "-n":
		err = value(&z.subscription)
	case "--output", "-o":
		err = value(&z.output)
	case "--query":
		err = value(&z.query)
	case "--scope", "--scopes":
		i, err = z.takeScopes(args, i, val, hasVal)
	default:
		err = azUsage("unrecognized argument " + name)
	}
	return i, err
}

// takeScopes reads --scope's one or more values, as the Azure CLI does.
func (z *azArgs) takeScopes(args []string, i int, val string, hasVal bool) (int, error) {
	if hasVal {
		z.scopes = append(z.scopes, val)
		return i, nil
	}
	n := 0
	for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
		i++
		n++
		z.scopes = append(z.scopes, args[i])
	}
	if n == 0 {
		return i, usageError("argument --scope: expected at least one argument")
	}
	return i, nil
}

// checkOutput refuses an output format or a query the shim cannot render.
func (z *azArgs) checkOutput() error {
	switch z.output {
	case "", "json", "jsonc", "tsv", "none":
	default:
		return azUsage(fmt.Sprintf("output format %q is not supported here (json, jsonc, tsv, none)", z.output))
	}
	if z.query != "" && !isQueryPath(z.query) {
		return azUsage(fmt.Sprintf("--query %q is not supported here: only field names like accessToken or user.name", z.query))
	}
	return nil
}

// checkResourceOptions allows at most one of --resource, --resource-type
// and --scope, and only the Azure CLI's resource types.
func (z *azArgs) checkResourceOptions() error {
	n := 0
	for _, set := range []bool{z.resource != "", z.resourceType != "", len(z.scopes) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		return usageError("usage error: --resource, --resource-type and --scope are mutually exclusive")
	}
	if z.resourceType != "" && !slices.Contains(entra.ResourceTypes, z.resourceType) {
		return usageError(fmt.Sprintf("argument --resource-type: invalid choice: %q (choose from %s)", z.resourceType, strings.Join(entra.ResourceTypes, ", ")))
	}
	return nil
}

// needsCloud reports whether the scopes depend on the profile's cloud.
func (z *azArgs) needsCloud() bool { return len(z.scopes) == 0 && z.resource == "" }

// scopesFor is the scopes get-access-token asks for in cloud; the cloud's
// management resource when nothing is given, as the Azure CLI does.
func (z *azArgs) scopesFor(cloud *entra.Cloud) ([]string, error) {
	switch {
	case len(z.scopes) > 0:
		return z.scopes, nil
	case z.resource != "":
		return []string{entra.Scope(z.resource)}, nil
	case z.resourceType != "":
		r := cloud.ResourceOfType(z.resourceType)
		if r == "" {
			return nil, usageError(fmt.Sprintf("--resource-type %s has no resource in the %s cloud (%s); pass --resource", z.resourceType, cloud.Name, cloud.CLIName))
		}
		return []string{entra.Scope(r)}, nil
	}
	return []string{cloud.ManagementScope()}, nil
}

// runAz answers an az command line.
func (a *app) runAz(args []string) error {
	z, err := parseAzArgs(args)
	if err != nil {
		return err
	}
	a.profile = a.getenv(envProfile)
	cmd := strings.Join(z.cmd, " ")
	switch {
	case z.help:
		fmt.Fprintln(a.stdout, azUnsupported+".")
		fmt.Fprintln(a.stdout, "It answers for the entra-helper profile in $ENTRA_HELPER_PROFILE, else the default profile; sign in with `entra-helper login`.")
		return nil
	case cmd == "" && z.version:
		fmt.Fprintf(a.stdout, "azure-cli                         %s\n\ncore                              %s\n\n"+
			"This is entra-helper %s answering as az: %s.\n", azCompatVersion, azCompatVersion, clientVersion(), azUnsupported)
		return nil
	case cmd == "version":
		return a.azOutput(map[string]any{
			"azure-cli":      azCompatVersion,
			"azure-cli-core": azCompatVersion,
			"extensions":     map[string]any{},
			"entra-helper":   clientVersion(),
		}, z)
	case cmd == "account get-access-token":
		return a.azGetAccessToken(z)
	case cmd == "account show":
		return a.azAccountShow(z)
	case cmd == "login":
		return usageError(azUnsupported + "; sign in with `" + loginHint(a.profile) + "`")
	}
	if cmd == "" {
		return azUsage("no command given")
	}
	return azUsage("`az " + cmd + "` is not available")
}

// azGetAccessToken answers get-access-token; the daemon checks --tenant
// against the profile's tenant (a GUID, or a domain it resolves).
func (a *app) azGetAccessToken(z *azArgs) error {
	cloud := entra.CloudByName("")
	if z.needsCloud() {
		p, err := a.profileInfo(a.profile)
		if err != nil {
			return err
		}
		cloud = cloudOf(p)
	}
	scopes, err := z.scopesFor(cloud)
	if err != nil {
		return err
	}
	tok, err := a.getToken(&ipc.Request{Op: ipc.OpToken, Profile: a.profile, Scopes: scopes, Tenant: z.tenant})
	if err != nil {
		return err
	}
	return a.azOutput(a.azTokenOf(tok, z.subscription), z)
}

// cloudOf is the profile's row of the cloud table; public for a daemon too
// old to say.
func cloudOf(p *ipc.ProfileInfo) *entra.Cloud {
	if c := entra.CloudByName(p.Cloud); c != nil {
		return c
	}
	return entra.Clouds[0]
}

// azAccount is `az account show`'s object, keys sorted as the CLI prints.
type azAccount struct {
	EnvironmentName  string   `json:"environmentName"`
	HomeTenantID     string   `json:"homeTenantId"`
	ID               string   `json:"id"`
	IsDefault        bool     `json:"isDefault"`
	ManagedByTenants []string `json:"managedByTenants"`
	Name             string   `json:"name"`
	State            string   `json:"state"`
	TenantID         string   `json:"tenantId"`
	User             struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"user"`
}

// isUserFlow reports whether flow signs in a person rather than an
// application.
func isUserFlow(flow string) bool {
	switch flow {
	case "browser", "device-code", "username-password", "refresh-token":
		return true
	}
	return false
}

func (a *app) azAccountShow(z *azArgs) error {
	p, err := a.profileInfo(a.profile)
	if err != nil {
		return err
	}
	acct := azAccount{
		EnvironmentName:  cloudOf(p).CLIName,
		HomeTenantID:     p.Tenant,
		ID:               z.subscription,
		IsDefault:        true,
		ManagedByTenants: []string{},
		Name:             "entra-helper profile " + p.Name,
		State:            "Enabled",
		TenantID:         p.Tenant,
	}
	if acct.ID == "" {
		acct.ID = subscriptionOf(p.WorkspaceResourceID)
	}
	switch {
	case p.Flow == "managed-identity":
		acct.User.Type = "servicePrincipal"
		acct.User.Name = "systemAssignedIdentity"
		if p.ClientID != "" {
			acct.User.Name = "userAssignedIdentity"
		}
	case isUserFlow(p.Flow):
		// The user's name and home tenant are in a token's claims.
		acct.User.Type = "user"
		tok, err := a.getToken(&ipc.Request{Op: ipc.OpToken, Profile: a.profile})
		if err != nil {
			return err
		}
		if tok.Tenant != "" {
			acct.TenantID, acct.HomeTenantID = tok.Tenant, tok.Tenant
		}
		if j, err := jwt.Decode(tok.AccessToken); err == nil {
			if s := j.FirstClaim("upn", "unique_name", "preferred_username", "email", "oid"); s != "" {
				acct.User.Name = s
			}
			if tid := j.ClaimString("tid"); tid != "" {
				acct.TenantID, acct.HomeTenantID = tid, tid
			}
		}
	default:
		acct.User.Type = "servicePrincipal"
		acct.User.Name = p.ClientID
		if !entra.IsGUID(p.Tenant) {
			// A domain, or a tenant still to be found from the workspace:
			// az prints the tenant ID, which a token carries.
			tok, err := a.getToken(&ipc.Request{Op: ipc.OpToken, Profile: a.profile})
			if err != nil {
				return err
			}
			if entra.IsGUID(tok.Tenant) {
				acct.TenantID, acct.HomeTenantID = tok.Tenant, tok.Tenant
			}
		}
	}
	return a.azOutput(acct, z)
}

// subscriptionOf is the subscription ID in an Azure resource ID.
func subscriptionOf(resourceID string) string {
	parts := strings.Split(strings.Trim(resourceID, "/"), "/")
	if len(parts) >= 2 && strings.EqualFold(parts[0], "subscriptions") {
		return parts[1]
	}
	return ""
}

// azOutput prints v as the Azure CLI would with z's --query and --output.
func (a *app) azOutput(v any, z *azArgs) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&generic); err != nil {
		return err
	}
	if z.query != "" {
		for _, k := range strings.Split(z.query, ".") {
			m, ok := generic.(map[string]any)
			if !ok {
				generic = nil
				break
			}
			generic = m[k]
		}
	}
	switch z.output {
	case "none":
		return nil
	case "tsv":
		return writeTSV(a.stdout, generic)
	}
	if generic == nil && z.query != "" {
		return nil // az prints nothing for a query that matches nothing
	}
	return writeJSON(a.stdout, generic, "  ")
}

// writeTSV prints v as the Azure CLI's tsv output: an object's values in
// the order of their sorted keys, tab-separated; a list one row per item;
// nested lists as their length and nested objects as an empty field.
func writeTSV(w io.Writer, v any) error {
	var b strings.Builder
	row := func(v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for i, k := range keys {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvField(x[k]))
			}
		case []any:
			for i, e := range x {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvField(e))
			}
		default:
			b.WriteString(tsvField(v))
		}
		b.WriteByte('\n')
	}
	switch x := v.(type) {
	case nil:
	case []any:
		for _, e := range x {
			row(e)
		}
	default:
		row(v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func tsvField(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		return x.String()
	case []any:
		return fmt.Sprint(len(x))
	case map[string]any:
		return ""
	}
	return fmt.Sprint(v)
}
