package source

import (
	"context"
	"fmt"
	"sync"

	mi "github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
)

// bypassCache is passed to managedidentity's WithClaims: in MSAL v1.10.1 a
// non-empty claims value only makes AcquireToken skip its process-wide
// access-token cache; no managed identity source sends it anywhere.
const bypassCache = "{}"

// managedProfile is an Azure managed identity: system-assigned, or
// user-assigned when the profile has a client_id. Nothing is stored.
type managedProfile struct {
	*base

	mu     sync.Mutex
	client *mi.Client
	oid    objectID // the identity's, once a token showed it
}

func (m *managedProfile) currentClient() (*mi.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil {
		return m.client, nil
	}
	id := mi.SystemAssigned()
	if m.p.ClientID != "" {
		id = mi.UserAssignedClientID(m.p.ClientID)
	}
	// The daemon retries with its own backoff; MSAL's retries would sleep.
	cl, err := mi.New(id, mi.WithHTTPClient(m.opts.HTTPClient), mi.WithRetryPolicyDisabled())
	if err != nil {
		return nil, &tokensource.Error{Kind: tokensource.KindFailed, Err: sanitize(err),
			Message: fmt.Sprintf("profile %s cannot use a managed identity here: %s", m.p.Name, sanitize(err))}
	}
	m.client = &cl
	return m.client, nil
}

// Acquire asks the managed identity endpoint for a token of one resource.
func (m *managedProfile) Acquire(ctx context.Context, scopes []string) (tokensource.Token, error) {
	if err := m.checkScopes(scopes); err != nil {
		return tokensource.Token{}, err
	}
	if len(scopes) != 1 {
		return tokensource.Token{}, &tokensource.Error{Kind: tokensource.KindUsage,
			Message: fmt.Sprintf("profile %s uses a managed identity, which takes exactly one scope or resource per token", m.p.Name)}
	}
	cl, err := m.currentClient()
	if err != nil {
		return tokensource.Token{}, m.classify(err)
	}
	res, err := cl.AcquireToken(ctx, scopes[0], mi.WithClaims(bypassCache))
	if err != nil {
		return tokensource.Token{}, m.classify(err)
	}
	t := m.token(res.AccessToken, res.ExpiresOn, res.Metadata.RefreshOn, scopes, "")
	m.oid.note(res.AccessToken)
	return t, nil
}

// Login acquires one token to check that the managed identity works.
func (m *managedProfile) Login(ctx context.Context, _ tokensource.LoginInput, notify func(tokensource.Prompt)) (tokensource.Account, error) {
	t, err := m.Acquire(ctx, m.loginScopes()[:1])
	if err != nil {
		return tokensource.Account{}, err
	}
	if notify != nil {
		notify(tokensource.Prompt{Kind: tokensource.PromptInfo, Message: fmt.Sprintf("profile %s: the managed identity works", m.p.Name)})
	}
	a, _ := m.Account(ctx)
	if a.Tenant == "" {
		a.Tenant = t.Tenant
	}
	return a, nil
}

// Logout deletes any key the profile might have stored (none normally).
func (m *managedProfile) Logout(ctx context.Context) error {
	m.oid.forget()
	return deleteKeys(ctx, m.base)
}

// Account is the managed identity: its object ID once a token showed it,
// else its client ID (user-assigned). It is always available.
func (m *managedProfile) Account(context.Context) (tokensource.Account, bool) {
	a := tokensource.Account{ObjectID: m.oid.get(), Tenant: m.p.Tenant}
	if a.ObjectID == "" {
		a.ObjectID = m.p.ClientID
	}
	return a, true
}
