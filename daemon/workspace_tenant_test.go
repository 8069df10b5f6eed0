package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/source"
	"github.com/entra-helper/entra-helper/daemon/tenant"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/store"
)

// A profile without a tenant takes its workspace's: found once over TLS,
// kept in the store, taken from there by the next daemon, found again after
// logout or when databricks_host changes.
func TestWorkspaceTenantProfile(t *testing.T) {
	const tid = "0b4c5a6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
	srv := entratest.NewTB(t, entratest.Options{Tenant: tid})
	srv.AddApp(entratest.App{ClientID: "c1", Secret: "s3cret-value"})
	ws, err := srv.StartWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	st := store.NewMemory()
	p := &config.Profile{Name: "w", Flow: config.FlowClientSecret, ClientID: "c1", Cloud: "public",
		AuthorityHost: srv.URL(), DatabricksHost: ws.URL(), Scopes: []string{config.DatabricksScope}}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	newProfile := func(p *config.Profile) *workspaceTenantProfile {
		return &workspaceTenantProfile{p: p, st: st, log: zap.NewNop(),
			opts: source.Options{HTTPClient: srv.Client()},
			discover: func(ctx context.Context) (tenant.Discovery, error) {
				return tenant.Discover(ctx, srv.Client(), p.DatabricksHost)
			},
			clock: clock.NewFake(now)}
	}
	ctx := context.Background()

	w := newProfile(p)
	if tnt, from := w.TenantSource(); tnt != "" || !strings.HasPrefix(from, "not found yet") {
		t.Errorf("before use: %q from %q", tnt, from)
	}
	if _, ok := w.Account(ctx); ok || ws.Requests() != 0 {
		t.Errorf("Account asked the workspace (%d) or is signed in", ws.Requests())
	}
	if _, err := w.Login(ctx, tokensource.LoginInput{ClientSecret: secret.New("s3cret-value")}, nil); err != nil {
		t.Fatal(err)
	}
	tok, err := w.Acquire(ctx, p.Scopes)
	if err != nil || tok.Tenant != tid {
		t.Fatalf("token tenant %q, %v", tok.Tenant, err)
	}
	if tnt, from := w.TenantSource(); tnt != tid || from != "found at "+ws.URL()+"/aad/auth on 2026-11-30T12:00:00Z" {
		t.Errorf("after use: %q from %q", tnt, from)
	}

	// The next daemon takes it from the store.
	w2 := newProfile(p)
	if _, err := w2.Acquire(ctx, p.Scopes); err != nil || ws.Requests() != 1 {
		t.Errorf("restart: %v, workspace asked %d times", err, ws.Requests())
	}
	// Another workspace: found again.
	moved := *p
	moved.DatabricksHost = strings.Replace(ws.URL(), "127.0.0.1", "localhost", 1) // another host, the same server
	w3 := newProfile(&moved)
	if _, err := w3.Acquire(ctx, p.Scopes); err != nil || ws.Requests() != 2 {
		t.Errorf("new host: %v, workspace asked %d times", err, ws.Requests())
	}
	// Logout forgets the tenant too.
	if err := w3.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, tenantKey("w")); err != store.ErrNotFound {
		t.Errorf("tenant kept after logout: %v", err)
	}
}

// A workspace that cannot be reached fails the request, naming the profile,
// and the next request tries again.
func TestWorkspaceTenantUnreachable(t *testing.T) {
	srv := entratest.NewTB(t, entratest.Options{})
	ws, err := srv.StartWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	url := ws.URL()
	ws.Close()
	p := &config.Profile{Name: "w", Flow: config.FlowClientSecret, ClientID: "c1", AuthorityHost: srv.URL(), DatabricksHost: url}
	w := &workspaceTenantProfile{p: p, st: store.NewMemory(), log: zap.NewNop(), opts: source.Options{HTTPClient: srv.Client()},
		discover: func(ctx context.Context) (tenant.Discovery, error) { return tenant.Discover(ctx, srv.Client(), url) },
		clock:    clock.Real{}}
	_, err = w.Acquire(context.Background(), []string{config.DatabricksScope})
	if tokensource.KindOf(err) != tokensource.KindUnavailable || !strings.Contains(err.Error(), "profile w: cannot reach "+url) {
		t.Errorf("err = %v", err)
	}
	if w.inner != nil {
		t.Error("a profile was built without a tenant")
	}
}
