// Package source implements one tokensource.Profile per sign-in flow of
// entra-helper over MSAL Go: client secret, client certificate, workload
// identity federation, browser, device code, username/password, an imported
// refresh token and managed identity. It persists what a profile must keep
// (client secret, certificate, MSAL's cache with refresh tokens, never
// access tokens) in a store.Store, and turns Entra's errors into
// tokensource.Error advice (Classify).
//
// Store keys used, per profile NAME:
//
//	profile/NAME/client-secret  the client secret (client-secret flow)
//	profile/NAME/certificate    PEM certificate and key given to login (client-certificate flow)
//	profile/NAME/msal-cache     MSAL's cache without access tokens (user flows)
package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/jwt"
	"github.com/entra-helper/entra-helper/store"

	"github.com/entra-helper/entra-helper/entra"
)

// Options are what the daemon hands every source.
type Options struct {
	// HTTPClient is used for every call to Entra (the daemon builds it to
	// honour SSL_CERT_FILE, HTTPS_PROXY and NO_PROXY). nil: http.DefaultClient.
	HTTPClient *http.Client
	// OpenBrowser opens a sign-in page (the daemon runs $BROWSER). nil:
	// the browser flow only reports the URL.
	OpenBrowser func(url string) error
	// Log receives warnings and debug lines; never secrets. nil: no logs.
	Log *zap.Logger
	// Clock tells the time that decides refresh-in and Retry-After dates.
	// nil: clock.Real.
	Clock clock.Clock
}

// Store keys of a profile.
func keySecret(name string) string      { return "profile/" + name + "/client-secret" }
func keyCertificate(name string) string { return "profile/" + name + "/certificate" }
func keyMSALCache(name string) string   { return "profile/" + name + "/msal-cache" }

// Keys returns every store key a profile called name may use, for callers
// that clean up after a profile removed from the config.
func Keys(name string) []string {
	return []string{keySecret(name), keyCertificate(name), keyMSALCache(name)}
}

// New returns the tokensource.Profile for p's flow; st keeps what the profile must
// keep. p must have passed daemon/config's validation, the one place a
// profile's settings are checked; New does no I/O.
func New(p *config.Profile, st store.Store, opts Options) (tokensource.Profile, error) {
	if p == nil {
		return nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: "no profile given"}
	}
	if st == nil {
		return nil, &tokensource.Error{Kind: tokensource.KindFailed, Message: fmt.Sprintf("profile %s has no store", p.Name)}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	cp := *p
	cp.Scopes = slices.Clone(p.Scopes)
	b := &base{p: &cp, st: st, opts: opts, log: opts.Log.With(zap.String("profile", p.Name), zap.String("flow", p.Flow))}
	if p.Flow != config.FlowManagedIdentity {
		u, err := url.Parse(p.AuthorityBaseURL())
		if err != nil {
			return nil, usageErr(p, "has an authority_host that is not a URL")
		}
		b.authority = strings.TrimRight(p.AuthorityBaseURL(), "/") + "/" + p.Tenant
		b.host = u.Host
		b.discovery = entra.IsEntraHost(u.Hostname()) // MSAL instance discovery works only there
	}
	switch p.Flow {
	case config.FlowClientSecret, config.FlowClientCertificate, config.FlowFederated:
		return &confidentialProfile{base: b}, nil
	case config.FlowBrowser, config.FlowDeviceCode, config.FlowUsernamePassword, config.FlowRefreshToken:
		return newUserProfile(b), nil
	case config.FlowManagedIdentity:
		return &managedProfile{base: b}, nil
	}
	return nil, usageErr(p, fmt.Sprintf("has an unknown flow %q", p.Flow))
}

func usageErr(p *config.Profile, what string) *tokensource.Error {
	return &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("profile %s %s: fix the config", p.Name, what)}
}

// base holds what every flow shares.
type base struct {
	p         *config.Profile
	st        store.Store
	opts      Options
	log       *zap.Logger
	authority string // https://host/tenant
	host      string // authority host (MSAL's cache "environment")
	discovery bool   // MSAL instance discovery on
}

// classify is Classify for this profile, also mapping store failures.
func (b *base) classify(err error) error {
	if err == nil {
		return nil
	}
	if se := (*storeError)(nil); errors.As(err, &se) {
		if u, ok := store.AsUnavailable(se.err); ok {
			// The keychain's own sentence, as the daemon's log and doctor say it.
			return &tokensource.Error{Kind: tokensource.KindFailed, Err: u, Message: u.Error()}
		}
		return &tokensource.Error{Kind: tokensource.KindFailed, Err: sanitize(se.err),
			Message: fmt.Sprintf("the secret store failed to %s the sign-in of profile %s: check the keychain or the store key", se.op, b.p.Name)}
	}
	return Classify(b.p, err, b.opts.Clock.Now())
}

// checkScopes rejects an empty scope list.
func (b *base) checkScopes(scopes []string) error {
	if len(scopes) == 0 {
		return &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("no scope was requested for profile %s", b.p.Name)}
	}
	return nil
}

// loginScopes are the scopes a login acquires once to prove it works.
func (b *base) loginScopes() []string {
	if len(b.p.Scopes) > 0 {
		return b.p.Scopes
	}
	return []string{config.DatabricksScope}
}

// objectID remembers the object ID (oid) the last access token named: the
// account of a service principal or managed identity. Safe for concurrent
// use.
type objectID struct {
	mu  sync.Mutex
	oid string
}

// note keeps the oid of access, if it names one.
func (o *objectID) note(access string) {
	if oid := tokenClaim(access, "oid"); oid != "" {
		o.mu.Lock()
		o.oid = oid
		o.mu.Unlock()
	}
}

// get returns the object ID last seen, "" before any.
func (o *objectID) get() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.oid
}

// forget drops the object ID (after a logout).
func (o *objectID) forget() {
	o.mu.Lock()
	o.oid = ""
	o.mu.Unlock()
}

// tokenClaim returns a string claim of an access token without verifying
// it; "" when it is not a JWT (opaque tokens are fine).
func tokenClaim(access, name string) string {
	tok, err := jwt.Decode(access)
	if err != nil {
		return ""
	}
	return tok.ClaimString(name)
}

// token builds an tokensource.Token from MSAL's result parts.
func (b *base) token(access string, expiresOn, refreshOn time.Time, scopes []string, tenantHint string) tokensource.Token {
	t := tokensource.Token{
		Value:     secret.New(access),
		ExpiresOn: expiresOn,
		Scopes:    slices.Clone(scopes),
		Tenant:    tenantHint,
	}
	if !refreshOn.IsZero() {
		if d := refreshOn.Sub(b.opts.Clock.Now()); d > 0 {
			t.RefreshIn = d.Round(time.Second)
		}
	}
	if tid := tokenClaim(access, "tid"); tid != "" {
		t.Tenant = tid
	}
	if t.Tenant == "" {
		t.Tenant = b.p.Tenant
	}
	return t
}

// ctxErr returns ctx's error classified, if ctx is done.
func (b *base) ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return b.classify(err)
	}
	return nil
}
