package daemon

import (
	"context"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/endpoint"
	"github.com/entra-helper/entra-helper/ipc"
)

// identityProfiles lists the profiles the managed-identity endpoint may
// serve and the default profile's name. The list is built once per
// config (not per request: it is sorted, and a config may have a hundred
// profiles); callers must not change it.
func (d *Daemon) identityProfiles() ([]endpoint.IdentityProfile, string) {
	d.mu.RLock()
	cfg := d.cfg
	d.mu.RUnlock()
	if l := d.identityList.Load(); l != nil && l.cfg == cfg {
		return l.profiles, l.def
	}
	l := &identityList{cfg: cfg, profiles: make([]endpoint.IdentityProfile, 0, len(cfg.Profiles))}
	for name, p := range cfg.Profiles {
		l.profiles = append(l.profiles, endpoint.IdentityProfile{Name: name, ClientID: p.ClientID})
	}
	sort.Slice(l.profiles, func(i, j int) bool { return l.profiles[i].Name < l.profiles[j].Name })
	if p, ok := cfg.Profile(""); ok {
		l.def = p.Name
	}
	d.identityList.Store(l)
	return l.profiles, l.def
}

// identityList is identityProfiles' answer for one config.
type identityList struct {
	cfg      *config.Config
	profiles []endpoint.IdentityProfile
	def      string
}

// objectID is the object ID of the identity profile is signed in as, ""
// while no token has shown it.
func (d *Daemon) objectID(profile string) string {
	d.mu.RLock()
	prof, p := d.profiles[profile], d.cfg.Profiles[profile]
	d.mu.RUnlock()
	if prof == nil || p == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, _ := prof.Account(ctx)
	if a.ObjectID == p.ClientID { // the sources' stand-in until a token showed the oid
		return ""
	}
	return a.ObjectID
}

// identityURLs are the managed-identity endpoint's URLs for profile (App
// Service, then IMDS-style with the path secret) and the header secret; all
// "" when the endpoint is off.
func (d *Daemon) identityURLs(profile string) (appService, imds, header string) {
	if d.idAddr == "" {
		return "", "", ""
	}
	base := "http://" + d.idAddr
	seg := url.PathEscape(profile)
	return base + endpoint.AppServicePath + "/" + seg, base + endpoint.IMDSPath + "/" + d.idSecret + "/" + seg, d.idSecret
}

// scrubIdentityEnv drops the endpoint variables (ipc.EndpointEnv) that
// point at an entra-helperd endpoint, this daemon's or another's, whether or
// not this daemon's endpoints are on: a shell that ran `entra-helper azure
// env` or `databricks env` must not hand their secrets to the daemon's
// children (a browser), and a managed-identity profile must not ask itself.
func (d *Daemon) scrubIdentityEnv() {
	own := func(v string) bool {
		return d.idSecret != "" && (v == d.idSecret || strings.Contains(v, "/"+d.idSecret)) ||
			d.idAddr != "" && strings.Contains(v, "://"+d.idAddr+"/")
	}
	_, dropped := ipc.DropEndpointEnv(os.Environ(), own)
	for _, k := range dropped {
		os.Unsetenv(k)
	}
	if len(dropped) > 0 {
		d.log.Info("ignoring endpoint variables that point at an entra-helperd", zap.Strings("variables", dropped))
	}
}
