package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/broker"
	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/ipc"
)

// handle answers one ipc request.
func (d *Daemon) handle(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
	d.requests.Add(1)
	resp, err := d.answer(ctx, peer, req, send)
	if err != nil {
		resp = &ipc.Response{Error: toWireError(err)}
		d.log.Info("request failed", zap.String("op", req.Op), zap.String("profile", req.Profile),
			zap.Stringer("peer", peer), zap.String("code", resp.Error.Code), zap.Error(err))
	}
	_ = send(resp)
}

func (d *Daemon) answer(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) (*ipc.Response, error) {
	switch req.Op {
	case ipc.OpStatus:
		return &ipc.Response{Status: d.status(ctx, peer)}, nil
	case ipc.OpDoctor:
		return d.doctor(ctx, peer, req.Profile)
	case ipc.OpToken, ipc.OpLogin, ipc.OpLogout, ipc.OpProfile, ipc.OpVerify, ipc.OpGitToken, ipc.OpGitErase:
	default:
		return nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("unknown operation %q: is the client newer than the daemon? restart entra-helperd", req.Op)}
	}
	p, prof, err := d.profile(req.Profile)
	if err != nil {
		// Another user of a system daemon gets the policy's refusal, as for
		// a profile it may not use: the config's path and which profiles
		// exist are the administrator's (status hides them too).
		if derr := d.access.Use(peer, access.Socket, req.Profile); derr != nil {
			return nil, derr
		}
		return nil, err
	}
	if err := d.access.Use(peer, access.Socket, p.Name); err != nil {
		return nil, err
	}
	switch req.Op {
	case ipc.OpToken:
		return d.token(ctx, peer, p, prof, req)
	case ipc.OpGitToken:
		git := *req
		git.Scopes = []string{p.GitScope}
		return d.token(ctx, peer, p, prof, &git)
	case ipc.OpGitErase:
		if d.broker.Drop(p.Name, []string{p.GitScope}, req.Token) {
			d.log.Info("dropped the token git was refused with", zap.String("profile", p.Name),
				zap.String("scope", p.GitScope), zap.Stringer("peer", peer))
		}
		return &ipc.Response{}, nil
	case ipc.OpLogin:
		if err := d.access.Manage(peer, access.Socket, p.Name); err != nil {
			return nil, err
		}
		return d.login(ctx, peer, p, prof, req, send)
	case ipc.OpLogout:
		if err := d.access.Manage(peer, access.Socket, p.Name); err != nil {
			return nil, err
		}
		if err := prof.Logout(ctx); err != nil {
			return nil, err
		}
		d.setAccount(p.Name, tokensource.Account{}, false)
		d.broker.Forget(p.Name)
		d.log.Info("signed out", zap.String("profile", p.Name), zap.Stringer("peer", peer))
		return &ipc.Response{}, nil
	case ipc.OpProfile:
		tenant, from := tenantOf(p, prof)
		appService, imds, header := d.identityURLs(p.Name)
		return &ipc.Response{Profile: &ipc.ProfileInfo{
			Name: p.Name, Flow: p.Flow, Tenant: tenant, TenantSource: from, ClientID: p.ClientID, Scopes: p.Scopes,
			Cloud: p.CloudTable().Name, DatabricksHost: p.DatabricksHost, WorkspaceResourceID: p.WorkspaceResourceID,
			MetadataURL: d.metadataURL(p.Name), MetadataDown: d.metaDown,
			IdentityEndpoint: appService, IdentityHeader: header, IMDSEndpoint: imds,
		}}, nil
	default: // ipc.OpVerify
		return d.verify(ctx, p, req.Token)
	}
}

// profile resolves a requested profile name ("" is the default).
func (d *Daemon) profile(name string) (*config.Profile, tokensource.Profile, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, ok := d.cfg.Profile(name)
	if !ok {
		if name == "" {
			return nil, nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf(
				"no profile was named and %s sets no default_profile: pass -p NAME or set ENTRA_HELPER_PROFILE", d.cfg.Path)}
		}
		return nil, nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf(
			"profile %q is not in %s: add [profiles.%s] there, then run `kill -HUP` on entra-helperd or restart it", name, d.cfg.Path, name)}
	}
	return p, d.profiles[p.Name], nil
}

func (d *Daemon) token(ctx context.Context, peer ipc.Peer, p *config.Profile, prof tokensource.Profile, req *ipc.Request) (*ipc.Response, error) {
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = p.Scopes
	}
	minValid := time.Duration(req.MinValidMS) * time.Millisecond
	if minValid < 0 {
		return nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: "--min-valid must not be negative"}
	}
	tok, err := d.broker.Serve(ctx, broker.Request{Profile: p.Name, Scopes: scopes, MinValid: minValid, Explicit: minValid > 0})
	if err != nil {
		return nil, err
	}
	scope := strings.Join(tok.Scopes, " ")
	if scope == "" {
		scope = strings.Join(scopes, " ")
	}
	tenant := tok.Tenant
	if tenant == "" {
		tenant, _ = tenantOf(p, prof)
	}
	if req.Tenant != "" {
		if err := d.checkAskedTenant(ctx, p, req.Tenant, tenant); err != nil {
			return nil, err
		}
	}
	d.access.Granted(peer, access.Socket, p.Name, scope, tok.ExpiresOn)
	return &ipc.Response{Token: &ipc.Token{
		AccessToken: tok.Value.Reveal(), TokenType: "Bearer", ExpiresOn: tok.ExpiresOn.Unix(),
		Profile: p.Name, Scope: scope, Tenant: tenant, Warning: tok.Warning,
	}}, nil
}

// warnFreshness logs, once per cause, that a key is served tokens with less
// left than asked (the broker's Policy.Warn).
func (d *Daemon) warnFreshness(profile string, scopes []string, msg string) {
	d.log.Warn("serving tokens with less left than asked", zap.String("profile", profile),
		zap.String("scope", strings.Join(scopes, " ")), zap.String("warning", msg))
}

func (d *Daemon) login(ctx context.Context, peer ipc.Peer, p *config.Profile, prof tokensource.Profile, req *ipc.Request, send func(*ipc.Response) error) (*ipc.Response, error) {
	d.mu.Lock()
	if d.logins[p.Name] {
		d.mu.Unlock()
		return nil, &tokensource.Error{Kind: tokensource.KindFailed, Message: fmt.Sprintf("a sign-in of profile %s is already under way; finish or cancel it first", p.Name)}
	}
	d.logins[p.Name] = true
	d.mu.Unlock()
	d.remember.Recheck() // a sign-in is worth a fresh look at the keychain
	defer func() {
		d.mu.Lock()
		delete(d.logins, p.Name)
		d.mu.Unlock()
	}()

	var in tokensource.LoginInput
	if l := req.Login; l != nil {
		in = tokensource.LoginInput{
			ClientSecret: secret.New(l.ClientSecret), Password: secret.New(l.Password),
			RefreshToken: secret.New(l.RefreshToken), Certificate: secret.New(l.Certificate), NoBrowser: l.NoBrowser,
		}
		req.Login = nil // drop the plain copies as early as we can
	}
	notify := func(pr tokensource.Prompt) {
		_ = send(&ipc.Response{Event: &ipc.Event{Kind: eventKind(pr.Kind), Message: pr.Message, URL: pr.URL}})
	}
	acct, err := prof.Login(ctx, in, notify)
	if err != nil {
		return nil, err
	}
	d.setAccount(p.Name, acct, true)
	d.broker.Forget(p.Name)
	if err := d.broker.Pin(p.Name, p.Scopes); err != nil {
		d.log.Warn("cannot keep the profile's scopes fresh", zap.String("profile", p.Name), zap.Error(err))
	}
	who := acct.Username
	if who == "" {
		who = acct.ObjectID
	}
	d.log.Info("signed in", zap.String("profile", p.Name), zap.String("account", who), zap.Stringer("peer", peer))
	return &ipc.Response{Login: &ipc.LoginResult{Account: who, Tenant: acct.Tenant}}, nil
}

func (d *Daemon) verify(ctx context.Context, p *config.Profile, token string) (*ipc.Response, error) {
	if token == "" {
		return nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: "no token to verify"}
	}
	res, err := d.verifier.Verify(ctx, token, p.AuthorityBaseURL())
	switch {
	case err != nil:
		return &ipc.Response{Verify: &ipc.VerifyResult{Reason: err.Error()}}, nil
	case res.Expired:
		return &ipc.Response{Verify: &ipc.VerifyResult{KeyID: res.KeyID, Issuer: res.Issuer, Reason: "the signature is valid but the token has expired"}}, nil
	case res.NotYetValid:
		return &ipc.Response{Verify: &ipc.VerifyResult{KeyID: res.KeyID, Issuer: res.Issuer, Reason: "the signature is valid but the token is not valid yet (nbf)"}}, nil
	}
	return &ipc.Response{Verify: &ipc.VerifyResult{Valid: true, KeyID: res.KeyID, Issuer: res.Issuer}}, nil
}

// status reports the daemon's state, never a token: to other users (system
// mode) only the profiles they may use.
func (d *Daemon) status(ctx context.Context, peer ipc.Peer) *ipc.Status {
	d.mu.RLock()
	cfg, profiles := d.cfg, d.profiles
	accounts := maps.Clone(d.accounts)
	d.mu.RUnlock()
	now := d.opts.Clock.Now()
	st := &ipc.Status{
		Version: d.opts.Version, PID: os.Getpid(), StartedAt: d.started.Unix(), Uptime: now.Sub(d.started).Seconds(),
		Store: d.store.Name(), Config: cfg.Path, MetadataURL: d.metaAddr, IdentityURL: d.idAddr,
		MetadataDown: d.metaDown, IdentityDown: d.idDown,
		Requests: d.requests.Load(), IdPCalls: d.broker.IdPCalls(),
	}
	if d.remember != nil {
		if u, ok := d.remember.Unavailable(); ok {
			st.StoreReason = u.Error() // the sentence every store call answers with now
		}
	}
	if !peer.IsSelfOrAdmin() {
		st.Config = "" // the administrator's file: other users see their profiles only
	}
	byProfile := map[string][]ipc.TokenStatus{}
	stateOf := map[string]string{}
	lastErr := map[string]string{}
	for _, ts := range d.broker.State() {
		t := ipc.TokenStatus{Scope: strings.Join(ts.Scopes, " "), Failures: ts.Failures, Warning: ts.Warning}
		if ts.Valid {
			t.ExpiresOn = ts.ExpiresOn.Unix()
		}
		if !ts.RenewsAt.IsZero() {
			t.RenewsAt = ts.RenewsAt.Unix()
		}
		if !ts.LastRenewal.IsZero() {
			t.LastRenewal = ts.LastRenewal.Unix()
		}
		if ts.LastErr != nil {
			t.LastError = ts.LastErr.Error()
			lastErr[ts.Profile] = t.LastError
			if tokensource.KindOf(ts.LastErr) == tokensource.KindNeedsLogin {
				stateOf[ts.Profile] = ipc.StateNeedsLogin
			} else if stateOf[ts.Profile] == "" {
				stateOf[ts.Profile] = ipc.StateError
			}
		}
		byProfile[ts.Profile] = append(byProfile[ts.Profile], t)
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Profiles)) {
		p := cfg.Profiles[name]
		if !d.access.Allows(peer, name) {
			continue
		}
		tenant, from := tenantOf(p, profiles[name])
		ps := ipc.ProfileStatus{Name: name, Flow: p.Flow, Cloud: p.CloudTable().Name, Tenant: tenant, TenantSource: from,
			Tokens: byProfile[name], LastError: lastErr[name]}
		if ps.Tokens == nil {
			ps.Tokens = []ipc.TokenStatus{}
		}
		acct, signedIn := accounts[name].account, accounts[name].signedIn
		if acct.Username != "" {
			ps.Account = acct.Username
		} else {
			ps.Account = acct.ObjectID
		}
		if acct.Tenant != "" {
			ps.Tenant = acct.Tenant
		}
		switch {
		case stateOf[name] != "":
			ps.State = stateOf[name]
		case !signedIn:
			ps.State = ipc.StateNeedsLogin
		default:
			ps.State = ipc.StateReady
		}
		st.Profiles = append(st.Profiles, ps)
	}
	return st
}

// toWireError turns an error into the answer the client shows. Errors that
// are not classified keep their text: they come from our own code and the
// store, which never put secrets in errors.
func toWireError(err error) *ipc.Error {
	var denied *access.Denied
	if errors.As(err, &denied) {
		return &ipc.Error{Code: denied.Code(), Message: denied.Error()}
	}
	var ae *tokensource.Error
	if !errors.As(err, &ae) {
		return &ipc.Error{Code: ipc.CodeFailed, Message: err.Error()}
	}
	code := ipc.CodeFailed
	switch ae.Kind {
	case tokensource.KindUsage:
		code = ipc.CodeUsage
	case tokensource.KindNeedsLogin:
		code = ipc.CodeNeedsLogin
	case tokensource.KindUnavailable:
		code = ipc.CodeUnavailable
	}
	return &ipc.Error{Code: code, Message: ae.Error()}
}

// eventKind is the wire's name of a sign-in prompt's kind.
func eventKind(k tokensource.PromptKind) string {
	switch k {
	case tokensource.PromptDeviceCode:
		return ipc.EventDeviceCode
	case tokensource.PromptBrowserURL:
		return ipc.EventBrowserURL
	}
	return ipc.EventInfo
}
