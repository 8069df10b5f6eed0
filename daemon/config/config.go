// Package config reads and validates entra-helper's TOML config file.
// Every error names the file, the line and the key at fault.
package config

import (
	"time"

	"github.com/entra-helper/entra-helper/entra"
)

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
const DatabricksScope = entra.DatabricksResource + "/.default"

// AzureDevOpsScope is the default git_scope: the Azure DevOps resource, whose
// tokens Azure Repos accepts as a git password.
const AzureDevOpsScope = "499b84ac-1321-427f-aa17-267ca6975798/.default"

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
	IdentityListen string        // default "127.0.0.1:8772"; "" turns it off
	// MetadataListenSet and IdentityListenSet tell that the file sets the
	// address; the daemon runs without an endpoint whose unset (default)
	// port is taken, but not without one the file asks for.
	MetadataListenSet, IdentityListenSet bool
}

// Profile holds one [profiles.NAME] table, defaults filled in.
type Profile struct {
	Name                string
	Flow                string
	Tenant              string // a GUID or a verified domain, lower case; "" to find it from DatabricksHost
	ClientID            string
	Cloud               string // public | usgov | china (default public): a name in entra.Clouds
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

// CloudTable is the profile's cloud: its row of entra.Clouds.
func (p *Profile) CloudTable() *entra.Cloud {
	if c := entra.CloudByName(p.Cloud); c != nil {
		return c
	}
	return entra.Clouds[0]
}

// AuthorityBaseURL is the authority host URL for the profile:
// AuthorityHost when set (it overrides only this value of the cloud), else
// the cloud's.
func (p *Profile) AuthorityBaseURL() string {
	if p.AuthorityHost != "" {
		return p.AuthorityHost
	}
	return p.CloudTable().AuthorityHost
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
