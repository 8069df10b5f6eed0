package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/source"
	"github.com/entra-helper/entra-helper/daemon/tenant"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/store"
)

// Where a profile's tenant came from, as status reports it.
const (
	tenantFromConfig  = "config"
	tenantNotYetFound = "not found yet: taken from %s/aad/auth on first use"
	tenantFromStore   = "found at %s/aad/auth on %s"
)

// tenantKey is the store key of the tenant found from a profile's workspace.
func tenantKey(profile string) string { return "profile/" + profile + "/tenant" }

// foundTenant is what the store keeps of a discovered tenant: not a secret,
// but it must outlive restarts so that the profile's tokens keep their tenant.
type foundTenant struct {
	Tenant         string    `json:"tenant"`
	DatabricksHost string    `json:"databricks_host"`
	FoundAt        time.Time `json:"found_at"`
}

// tenantReporter is an tokensource.Profile that can say where its tenant came from.
type tenantReporter interface {
	TenantSource() (tenant, from string)
}

// tenantOf is the tenant profile p uses ("" while not found yet) and where
// it came from.
func tenantOf(p *config.Profile, prof tokensource.Profile) (tenant, from string) {
	if r, ok := prof.(tenantReporter); ok {
		return r.TenantSource()
	}
	return p.Tenant, tenantFromConfig
}

// newProfile builds the tokensource.Profile of p: the flow's source, behind a
// workspaceTenantProfile when the tenant is to be found from databricks_host.
func (d *Daemon) newProfile(p *config.Profile, opts source.Options) (tokensource.Profile, error) {
	if p.Tenant != "" || p.DatabricksHost == "" || p.Flow == config.FlowManagedIdentity {
		return source.New(p, d.store, opts)
	}
	return &workspaceTenantProfile{p: p, st: d.store, log: d.log.Named("tenant"), opts: opts,
		discover: func(ctx context.Context) (tenant.Discovery, error) {
			return tenant.Discover(ctx, d.http, p.DatabricksHost)
		},
		clock: d.opts.Clock}, nil
}

// workspaceTenantProfile is the tokensource.Profile of a profile without a tenant
// but with a Databricks workspace: on first use it takes the tenant it found
// before from the store, else follows the workspace's /aad/auth redirect once
// and keeps the tenant in the store; then it builds the flow's source for
// that tenant and hands every call to it.
type workspaceTenantProfile struct {
	p        *config.Profile
	st       store.Store
	log      *zap.Logger
	opts     source.Options
	discover func(context.Context) (tenant.Discovery, error)
	clock    clock.Clock

	mu    sync.Mutex
	inner tokensource.Profile
	found foundTenant
}

// profile returns the flow's source, finding the tenant first when needed;
// with network false it only looks in the store.
func (w *workspaceTenantProfile) profile(ctx context.Context, network bool) (tokensource.Profile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inner != nil {
		return w.inner, nil
	}
	found, err := w.remembered(ctx)
	if err != nil && network {
		found, err = w.findAndRemember(ctx)
	}
	if err != nil {
		return nil, err
	}
	cp := *w.p
	cp.Tenant = found.Tenant
	inner, err := source.New(&cp, w.st, w.opts)
	if err != nil {
		return nil, err
	}
	w.inner, w.found = inner, found
	return inner, nil
}

// remembered is the tenant found before for this workspace, if any.
func (w *workspaceTenantProfile) remembered(ctx context.Context) (foundTenant, error) {
	var f foundTenant
	b, err := w.st.Get(ctx, tenantKey(w.p.Name))
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Tenant == "" || f.DatabricksHost != w.p.DatabricksHost {
		return foundTenant{}, store.ErrNotFound // another workspace's, or unreadable: find it again
	}
	return f, nil
}

// findAndRemember asks the workspace for its tenant and keeps the answer.
func (w *workspaceTenantProfile) findAndRemember(ctx context.Context) (foundTenant, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	d, err := w.discover(dctx)
	if err != nil {
		var ae *tokensource.Error
		if errors.As(err, &ae) {
			ae.Message = fmt.Sprintf("profile %s: %s", w.p.Name, ae.Message)
		}
		return foundTenant{}, err
	}
	if d.LoginHost != w.p.AuthorityBaseURL() {
		w.log.Warn("the workspace signs in at another authority than the profile's; check cloud and authority_host",
			zap.String("profile", w.p.Name), zap.String("workspace_login", d.LoginHost), zap.String("authority", w.p.AuthorityBaseURL()))
	}
	f := foundTenant{Tenant: d.Tenant, DatabricksHost: w.p.DatabricksHost, FoundAt: w.clock.Now().UTC()}
	b, _ := json.Marshal(f)
	if err := w.st.Set(ctx, tenantKey(w.p.Name), b); err != nil {
		return foundTenant{}, fmt.Errorf("profile %s: cannot keep the tenant found at %s in the %s store: %w", w.p.Name, w.p.DatabricksHost, w.st.Name(), err)
	}
	w.log.Info("found the profile's tenant from its workspace", zap.String("profile", w.p.Name),
		zap.String("tenant", d.Tenant), zap.String("databricks_host", w.p.DatabricksHost))
	return f, nil
}

// TenantSource says which tenant the profile uses and where it came from.
func (w *workspaceTenantProfile) TenantSource() (string, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inner == nil {
		return "", fmt.Sprintf(tenantNotYetFound, w.p.DatabricksHost)
	}
	return w.found.Tenant, fmt.Sprintf(tenantFromStore, w.p.DatabricksHost, w.found.FoundAt.Format(time.RFC3339))
}

// Acquire implements tokensource.Source.
func (w *workspaceTenantProfile) Acquire(ctx context.Context, scopes []string) (tokensource.Token, error) {
	inner, err := w.profile(ctx, true)
	if err != nil {
		return tokensource.Token{}, err
	}
	return inner.Acquire(ctx, scopes)
}

// Login implements tokensource.Profile.
func (w *workspaceTenantProfile) Login(ctx context.Context, in tokensource.LoginInput, notify func(tokensource.Prompt)) (tokensource.Account, error) {
	inner, err := w.profile(ctx, true)
	if err != nil {
		return tokensource.Account{}, err
	}
	return inner.Login(ctx, in, notify)
}

// Account implements tokensource.Profile; it never asks the workspace.
func (w *workspaceTenantProfile) Account(ctx context.Context) (tokensource.Account, bool) {
	inner, err := w.profile(ctx, false)
	if err != nil {
		return tokensource.Account{}, false
	}
	return inner.Account(ctx)
}

// Logout implements tokensource.Profile: it forgets the found tenant too, so that
// the next sign-in asks the workspace again.
func (w *workspaceTenantProfile) Logout(ctx context.Context) error {
	inner, err := w.profile(ctx, false)
	var errs []error
	if err == nil {
		errs = append(errs, inner.Logout(ctx))
	} else {
		for _, k := range source.Keys(w.p.Name) {
			if err := w.st.Delete(ctx, k); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, w.st.Delete(ctx, tenantKey(w.p.Name)))
	w.mu.Lock()
	w.inner = nil
	w.mu.Unlock()
	return errors.Join(errs...)
}

// checkAskedTenant refuses a token of tenant actual (the tenant the token
// was issued in) to a caller that asked for tenant asked (az's --tenant):
// both are compared as tenant IDs, a domain resolved from the authority's
// OpenID metadata; common, organizations and consumers are always refused,
// since they never name the one tenant a profile signs in to.
func (d *Daemon) checkAskedTenant(ctx context.Context, p *config.Profile, asked, actual string) error {
	profileTenant := actual
	if profileTenant == "" {
		profileTenant = p.Tenant
	}
	askedNorm, form := entra.ParseTenant(asked)
	switch form {
	case entra.TenantAlias:
		return &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf(
			"profile %s signs in to tenant %s, and %q is not one tenant: leave --tenant out or pass %s", p.Name, profileTenant, asked, profileTenant)}
	case entra.TenantInvalid:
		return &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf(
			"%q is not a tenant ID or domain: profile %s signs in to tenant %s; pass that or leave --tenant out", asked, p.Name, profileTenant)}
	}
	if askedNorm == actual || askedNorm == p.Tenant {
		return nil // the same ID, or the profile's own domain as written
	}
	authority := p.AuthorityBaseURL()
	actualID, err := d.tenants.ID(ctx, authority, profileTenant)
	if err != nil {
		return err
	}
	askedID, err := d.tenants.ID(ctx, authority, askedNorm)
	if err != nil && tokensource.KindOf(err) != tokensource.KindUsage {
		return err
	}
	if err == nil && askedID == actualID {
		return nil
	}
	return &tokensource.Error{Kind: tokensource.KindFailed, Message: fmt.Sprintf(
		"profile %s signs in to tenant %s, not %s: set ENTRA_HELPER_PROFILE to a profile of tenant %s", p.Name, profileTenant, asked, asked)}
}
