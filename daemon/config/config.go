// Package config reads and validates entra-helper's TOML config file.
// Every error names the file, the line and the key at fault.
package config

import "time"

// Flows a profile may use.
const (
	FlowClientSecret      = "client-secret"
	FlowClientCertificate = "client-certificate"
	FlowFederated         = "federated"
	FlowBrowser           = "browser"
	FlowDeviceCode        = "device-code"
	FlowUsernamePassword  = "username-password"
	FlowRefreshToken      = "refresh-token"
	FlowManagedIdentity   = "managed-identity"
)

// DatabricksScope is the default scope of every profile.
const DatabricksScope = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"

// AzureDevOpsScope is the default git_scope: the Azure DevOps resource, whose
// tokens Azure Repos accepts as a git password.
const AzureDevOpsScope = "499b84ac-1321-427f-aa17-267ca6975798/.default"

// ManagementResource is the Azure management resource.
const ManagementResource = "https://management.core.windows.net/"

// Config is a loaded, validated config file.
type Config struct {
	Path           string // the file it was read from
	DefaultProfile string
	Daemon         Daemon
	Profiles       map[string]*Profile // by name
}

// Daemon holds the [daemon] table, defaults filled in.
type Daemon struct {
	LogLevel       string        // debug | info | warn | error (default info)
	LogFormat      string        // console | json (default console)
	Store          string        // keyring | file (default keyring)
	StateDir       string        // "" until resolved by the daemon
	StoreKeyFile   string        // "" means $CREDENTIALS_DIRECTORY/store.key
	MinValid       time.Duration // default 5m
	MetadataListen string        // default "127.0.0.1:8771"; "" turns it off
}

// Profile holds one [profiles.NAME] table, defaults filled in.
type Profile struct {
	Name                string
	Flow                string
	Tenant              string
	ClientID            string
	Cloud               string // public | usgov | china (default public)
	AuthorityHost       string // "" or an https URL overriding Cloud
	Scopes              []string
	GitScope            string // the scope of git's passwords (default AzureDevOpsScope)
	Username            string
	Certificate         string
	FederatedTokenFile  string
	DatabricksHost      string
	WorkspaceResourceID string
	AllowedUsers        []string // system mode: users allowed besides the owner
	AllowedGroups       []string // system mode: groups allowed
}

// AuthorityBaseURL is the authority host URL for the profile:
// AuthorityHost when set, else the cloud's host
// (https://login.microsoftonline.com, https://login.microsoftonline.us,
// https://login.chinacloudapi.cn).
func (p *Profile) AuthorityBaseURL() string {
	if p.AuthorityHost != "" {
		return p.AuthorityHost
	}
	switch p.Cloud {
	case "usgov":
		return "https://login.microsoftonline.us"
	case "china":
		return "https://login.chinacloudapi.cn"
	default:
		return "https://login.microsoftonline.com"
	}
}

// Profile returns the profile called name, or the default profile when name
// is "": DefaultProfile, else the only profile. ok is false when there is none.
func (c *Config) Profile(name string) (p *Profile, ok bool) {
	if name == "" {
		name = c.DefaultProfile
	}
	if name == "" && len(c.Profiles) == 1 {
		for _, only := range c.Profiles {
			return only, true
		}
	}
	p, ok = c.Profiles[name]
	return p, ok
}
