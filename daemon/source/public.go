package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/entra"
)

// userProfile is a signed-in user (browser, device-code, username-password,
// refresh-token). Login puts a refresh token and the account into MSAL's
// cache, persisted by msalCache without access tokens; Acquire redeems the
// refresh token with AcquireTokenSilent, one call at a time per profile (a
// refresh token may rotate on every use).
type userProfile struct {
	*base
	cache *msalCache

	mu     sync.Mutex // serializes Acquire, commits and Logout
	client *public.Client

	warnROPC sync.Once
}

func newUserProfile(b *base) *userProfile {
	return &userProfile{base: b, cache: newMSALCache(b.st, keyMSALCache(b.p.Name))}
}

func (u *userProfile) newClient(c cache.ExportReplace) (*public.Client, error) {
	opts := []public.Option{
		public.WithAuthority(u.authority),
		public.WithHTTPClient(u.opts.HTTPClient),
		public.WithCache(c),
	}
	if !u.discovery {
		opts = append(opts, public.WithInstanceDiscovery(false))
	}
	cl, err := public.New(u.p.ClientID, opts...)
	if err != nil {
		return nil, err
	}
	return &cl, nil
}

func (u *userProfile) clientLocked() (*public.Client, error) {
	if u.client == nil {
		cl, err := u.newClient(u.cache)
		if err != nil {
			return nil, err
		}
		u.client = cl
	}
	return u.client, nil
}

// accountLocked is the profile's account in the stored MSAL cache.
func (u *userProfile) accountLocked(ctx context.Context) (public.Account, bool, error) {
	blob, err := u.cache.snapshot(ctx)
	if err != nil {
		return public.Account{}, false, err
	}
	accts, err := accountsInCache(blob)
	if err != nil {
		return public.Account{}, false, &storeError{op: "read", err: fmt.Errorf("the stored MSAL cache is corrupt: %w", err)}
	}
	if len(accts) == 0 {
		return public.Account{}, false, nil
	}
	return accts[0], true, nil
}

func (u *userProfile) notSignedIn() *tokensource.Error {
	return &tokensource.Error{Kind: tokensource.KindNeedsLogin, Err: errNotSignedIn,
		Message: fmt.Sprintf("profile %s is not signed in: run `entra-helper login -p %s`", u.p.Name, u.p.Name)}
}

// Acquire redeems the stored refresh token for scopes. The rotated refresh
// token is in the store before it returns.
func (u *userProfile) Acquire(ctx context.Context, scopes []string) (tokensource.Token, error) {
	if err := u.checkScopes(scopes); err != nil {
		return tokensource.Token{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.cache.refresh()
	if err := u.ctxErr(ctx); err != nil {
		return tokensource.Token{}, err
	}
	cl, err := u.clientLocked()
	if err != nil {
		return tokensource.Token{}, u.classify(err)
	}
	acct, ok, err := u.accountLocked(ctx)
	if err != nil {
		return tokensource.Token{}, u.classify(err)
	}
	if !ok {
		return tokensource.Token{}, u.notSignedIn()
	}
	res, err := cl.AcquireTokenSilent(ctx, scopes, public.WithSilentAccount(acct))
	if err != nil {
		return tokensource.Token{}, u.classify(err)
	}
	return u.token(res.AccessToken, res.ExpiresOn, res.Metadata.RefreshOn, scopes, resultTenant(res)), nil
}

func resultTenant(res public.AuthResult) string {
	if res.IDToken.TenantID != "" {
		return res.IDToken.TenantID
	}
	return res.Account.Realm
}

// Login signs the user in with the profile's flow. The sign-in is staged in
// memory and replaces the stored one only when it succeeded.
func (u *userProfile) Login(ctx context.Context, in tokensource.LoginInput, notify func(tokensource.Prompt)) (tokensource.Account, error) {
	if notify == nil {
		notify = func(tokensource.Prompt) {}
	}
	staging := newMSALCache(nil, "")
	cl, err := u.newClient(staging)
	if err != nil {
		return tokensource.Account{}, u.classify(err)
	}
	scopes := u.loginScopes()
	var res public.AuthResult
	var placeholder string
	switch u.p.Flow {
	case config.FlowBrowser:
		res, err = u.loginBrowser(ctx, cl, scopes, in.NoBrowser, notify)
	case config.FlowDeviceCode:
		var dc public.DeviceCode
		dc, err = cl.AcquireTokenByDeviceCode(ctx, scopes)
		if err == nil {
			notify(tokensource.Prompt{Kind: tokensource.PromptDeviceCode, Message: dc.Result.Message, URL: dc.Result.VerificationURL})
			res, err = dc.AuthenticationResult(ctx)
		}
	case config.FlowUsernamePassword:
		u.warnROPC.Do(func() {
			u.log.Warn("the username-password flow is deprecated by Microsoft and fails for accounts with MFA; prefer the browser or device-code flow")
		})
		if in.Password.Empty() {
			return tokensource.Account{}, &tokensource.Error{Kind: tokensource.KindUsage,
				Message: fmt.Sprintf("profile %s needs the password of %s: run `entra-helper login -p %s --password-stdin`", u.p.Name, u.p.Username, u.p.Name)}
		}
		//lint:ignore SA1019 the profile chose this deprecated flow on purpose.
		res, err = cl.AcquireTokenByUsernamePassword(ctx, scopes, u.p.Username, in.Password.Reveal()) //nolint:staticcheck
	case config.FlowRefreshToken:
		if in.RefreshToken.Empty() {
			return tokensource.Account{}, &tokensource.Error{Kind: tokensource.KindUsage,
				Message: fmt.Sprintf("profile %s needs a refresh token: run `entra-helper login -p %s --refresh-token-stdin`", u.p.Name, u.p.Name)}
		}
		placeholder, res, err = u.importRefreshToken(ctx, cl, staging, scopes, strings.TrimSpace(in.RefreshToken.Reveal()))
	default:
		return tokensource.Account{}, usageErr(u.p, "has no user sign-in flow")
	}
	if err != nil {
		return tokensource.Account{}, u.loginError(err)
	}
	blob, err := staging.snapshot(ctx)
	if err == nil && placeholder != "" {
		blob, err = dropHomeAccount(blob, placeholder)
	}
	if err != nil {
		return tokensource.Account{}, u.classify(err)
	}
	if accts, _ := accountsInCache(blob); len(accts) == 0 {
		return tokensource.Account{}, &tokensource.Error{Kind: tokensource.KindFailed,
			Message: fmt.Sprintf("Entra signed profile %s in without a refresh token: check that the app may request offline_access", u.p.Name)}
	}
	u.mu.Lock()
	err = u.cache.commit(ctx, blob)
	u.mu.Unlock()
	if err != nil {
		return tokensource.Account{}, u.classify(err)
	}
	a := accountOf(res.Account, res.IDToken.Oid, resultTenant(res))
	if a.Tenant == "" {
		a.Tenant = tokenClaim(res.AccessToken, "tid")
	}
	u.log.Info("signed in", zap.String("username", a.Username), zap.String("tenant", a.Tenant))
	return a, nil
}

// loginError classifies a sign-in failure; an imported refresh token that
// Entra refuses gets its own advice.
func (u *userProfile) loginError(err error) error {
	out := u.classify(err)
	if ae, ok := out.(*tokensource.Error); ok && u.p.Flow == config.FlowRefreshToken && ae.Kind == tokensource.KindNeedsLogin {
		cp := *ae
		cp.Message = fmt.Sprintf("the refresh token given for profile %s was refused (expired, revoked or issued to another client than %s): get a new one and run `entra-helper login -p %s --refresh-token-stdin`", u.p.Name, u.p.ClientID, u.p.Name)
		return &cp
	}
	return out
}

func (u *userProfile) loginBrowser(ctx context.Context, cl *public.Client, scopes []string, noBrowser bool, notify func(tokensource.Prompt)) (public.AuthResult, error) {
	open := func(url string) error {
		notify(tokensource.Prompt{Kind: tokensource.PromptBrowserURL, URL: url})
		if noBrowser || u.opts.OpenBrowser == nil {
			return nil
		}
		if err := u.opts.OpenBrowser(url); err != nil {
			// The client prints the URL too: the user can open it by hand.
			u.log.Warn("could not open the browser; open the sign-in URL by hand", zap.Error(sanitize(err)))
		}
		return nil
	}
	opts := []public.AcquireInteractiveOption{public.WithOpenURL(open)}
	if u.p.Username != "" {
		opts = append(opts, public.WithLoginHint(u.p.Username))
	}
	return cl.AcquireTokenInteractive(ctx, scopes, opts...)
}

// importRefreshToken seeds the staging cache with the refresh token under a
// placeholder account and redeems it with AcquireTokenSilent: MSAL then
// writes the real account (from client_info and the id token) and the
// rotated refresh token, exactly as after an interactive sign-in. It returns
// the placeholder's home account ID for the caller to drop.
func (u *userProfile) importRefreshToken(ctx context.Context, cl *public.Client, staging *msalCache, scopes []string, rt string) (string, public.AuthResult, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", public.AuthResult{}, err
	}
	home := "import-" + hex.EncodeToString(r[:]) + "." + u.p.Tenant
	seed, err := seedRefreshToken(home, u.host, u.p.ClientID, rt)
	if err != nil {
		return "", public.AuthResult{}, err
	}
	if err := staging.commit(ctx, seed); err != nil {
		return "", public.AuthResult{}, err
	}
	acct := public.Account{HomeAccountID: home, Environment: u.host, Realm: u.p.Tenant}
	res, err := cl.AcquireTokenSilent(ctx, scopes, public.WithSilentAccount(acct))
	return home, res, err
}

// accountOf converts MSAL's account. Entra's home account ID is
// "<oid>.<tid>" of the user's home tenant.
func accountOf(a public.Account, oid, tenant string) tokensource.Account {
	out := tokensource.Account{Username: a.PreferredUsername, ObjectID: oid, Tenant: tenant}
	var homeOID, homeTID string
	if i := strings.IndexByte(a.HomeAccountID, '.'); i > 0 {
		homeOID, homeTID = a.HomeAccountID[:i], a.HomeAccountID[i+1:]
	}
	for _, v := range []string{a.LocalAccountID, homeOID} {
		if out.ObjectID == "" {
			out.ObjectID = v
		}
	}
	for _, v := range []string{a.Realm, homeTID} {
		if _, form := entra.ParseTenant(out.Tenant); out.Tenant == "" || form == entra.TenantAlias {
			out.Tenant = v
		}
	}
	return out
}

// Logout forgets the account: the stored MSAL cache and every other key of
// the profile.
func (u *userProfile) Logout(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.client = nil
	err := deleteKeys(ctx, u.base)
	u.cache.forget()
	return err
}

// Account is the signed-in user, from the stored MSAL cache.
func (u *userProfile) Account(ctx context.Context) (tokensource.Account, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.cache.refresh()
	a, ok, err := u.accountLocked(ctx)
	if err != nil || !ok {
		return tokensource.Account{}, false
	}
	return accountOf(a, "", ""), true
}
