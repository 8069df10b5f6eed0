package daemon

import (
	"context"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/endpoint"
)

// identityProfiles lists the profiles the managed-identity endpoint may
// serve and the default profile's name.
func (d *Daemon) identityProfiles() ([]endpoint.IdentityProfile, string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]endpoint.IdentityProfile, 0, len(d.cfg.Profiles))
	for name, p := range d.cfg.Profiles {
		out = append(out, endpoint.IdentityProfile{Name: name, ClientID: p.ClientID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	def := ""
	if p, ok := d.cfg.Profile(""); ok {
		def = p.Name
	}
	return out, def
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

// scrubIdentityEnv drops the managed-identity variables that point at this
// daemon's own endpoint (inherited when the client started the daemon from
// a shell that ran `entra-helper azure env`): the secret must not reach the
// daemon's children, and a managed-identity profile must not ask itself.
func (d *Daemon) scrubIdentityEnv() {
	if d.idSecret == "" {
		return
	}
	dropped := []string{}
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "ARM_MSI_ENDPOINT", "MSI_ENDPOINT"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		own := v == d.idSecret || strings.Contains(v, "/"+d.idSecret) ||
			d.idAddr != "" && strings.Contains(v, "://"+d.idAddr+"/")
		if own {
			os.Unsetenv(k)
			dropped = append(dropped, k)
		}
	}
	if len(dropped) > 0 {
		d.log.Info("ignoring managed-identity variables that point at this daemon", zap.Strings("variables", dropped))
	}
}
