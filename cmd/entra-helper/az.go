package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/entra-helper/entra-helper/ipc"
)

// azCompatVersion is the Azure CLI version whose output the shim mirrors.
const azCompatVersion = "2.67.0"

const azUnsupported = "entra-helper's az shim supports only `az account get-access-token`, `az account show` and `az version`"

// azResourceType maps `--resource-type` to its resource (public cloud), ""
// for an unknown type. A switch, not a map: nothing is built at start-up.
func azResourceType(t string) string {
	switch t {
	case "arm":
		return "https://management.core.windows.net/"
	case "aad-graph":
		return "https://graph.windows.net/"
	case "ms-graph":
		return "https://graph.microsoft.com/"
	case "batch":
		return "https://batch.core.windows.net/"
	case "data-lake":
		return "https://datalake.azure.net/"
	case "media":
		return "https://rest.media.azure.net"
	case "oss-rdbms":
		return "https://ossrdbms-aad.database.windows.net"
	case "storage":
		return "https://storage.azure.com"
	case "synapse":
		return "https://dev.azuresynapse.net"
	case "databricks":
		return "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
	}
	return ""
}

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
		name, val, hasVal := strings.Cut(arg, "=")
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", usageError("argument " + name + ": expected one argument")
			}
			i++
			return args[i], nil
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
			z.resource, err = value()
		case "--resource-type":
			z.resourceType, err = value()
		case "--tenant", "-t":
			z.tenant, err = value()
		case "--subscription", "-s", "--name", "-n":
			z.subscription, err = value()
		case "--output", "-o":
			z.output, err = value()
		case "--query":
			z.query, err = value()
		case "--scope", "--scopes":
			// --scope takes one or more values, as in the Azure CLI.
			if hasVal {
				z.scopes = append(z.scopes, val)
				break
			}
			n := 0
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				n++
				z.scopes = append(z.scopes, args[i])
			}
			if n == 0 {
				err = usageError("argument --scope: expected at least one argument")
			}
		default:
			err = azUsage("unrecognized argument " + name)
		}
		if err != nil {
			return nil, err
		}
	}
	switch z.output {
	case "", "json", "jsonc", "tsv", "none":
	default:
		return nil, azUsage(fmt.Sprintf("output format %q is not supported here (json, jsonc, tsv, none)", z.output))
	}
	if z.query != "" && !isQueryPath(z.query) {
		return nil, azUsage(fmt.Sprintf("--query %q is not supported here: only field names like accessToken or user.name", z.query))
	}
	n := 0
	for _, set := range []bool{z.resource != "", z.resourceType != "", len(z.scopes) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, usageError("usage error: --resource, --resource-type and --scope are mutually exclusive")
	}
	if z.resourceType != "" && azResourceType(z.resourceType) == "" {
		return nil, usageError(fmt.Sprintf("argument --resource-type: invalid choice: %q", z.resourceType))
	}
	return z, nil
}

// scopesFor is the scopes get-access-token asks for; Azure Resource
// Manager's when nothing is given, as the Azure CLI does.
func (z *azArgs) scopesFor() []string {
	switch {
	case len(z.scopes) > 0:
		return z.scopes
	case z.resource != "":
		return []string{resourceScope(z.resource)}
	case z.resourceType != "":
		return []string{resourceScope(azResourceType(z.resourceType))}
	}
	return []string{managementScope}
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

func (a *app) azGetAccessToken(z *azArgs) error {
	tok, err := a.getToken(&ipc.Request{Op: ipc.OpToken, Profile: a.profile, Scopes: z.scopesFor()})
	if err != nil {
		return err
	}
	if z.tenant != "" && tok.Tenant != "" && isGUID(z.tenant) && isGUID(tok.Tenant) && !strings.EqualFold(z.tenant, tok.Tenant) {
		return failf("%s signs in to tenant %s, not %s; set ENTRA_HELPER_PROFILE to a profile of tenant %s",
			profileName(orDefault(tok.Profile, a.profile)), tok.Tenant, z.tenant, z.tenant)
	}
	return a.azOutput(a.azTokenOf(tok, z.subscription), z)
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
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	resp, err := a.do(ctx, &ipc.Request{Op: ipc.OpProfile, Profile: a.profile}, nil)
	if err != nil {
		return err
	}
	p := resp.Profile
	if p == nil {
		return failf("entra-helperd answered without the settings of %s; see its log", profileName(a.profile))
	}
	acct := azAccount{
		EnvironmentName:  "AzureCloud",
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
		if j, err := decodeJWT(tok.AccessToken); err == nil {
			for _, k := range []string{"upn", "unique_name", "preferred_username", "email", "oid"} {
				if s, ok := j.claims[k].(string); ok && s != "" {
					acct.User.Name = s
					break
				}
			}
			if tid, ok := j.claims["tid"].(string); ok && tid != "" {
				acct.TenantID, acct.HomeTenantID = tid, tid
			}
		}
	default:
		acct.User.Type = "servicePrincipal"
		acct.User.Name = p.ClientID
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

// isGUID reports whether s looks like 8-4-4-4-12 hex.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return false
			}
		}
	}
	return true
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
