package daemon

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/broker"
	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/allocguard"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/ipc"
)

// fixedProfile is a signed-in profile whose source hands out one token.
type fixedProfile struct{ tok tokensource.Token }

func (f fixedProfile) Acquire(context.Context, []string) (tokensource.Token, error) {
	return f.tok, nil
}
func (fixedProfile) Login(context.Context, tokensource.LoginInput, func(tokensource.Prompt)) (tokensource.Account, error) {
	return tokensource.Account{}, nil
}
func (fixedProfile) Logout(context.Context) error { return nil }
func (fixedProfile) Account(context.Context) (tokensource.Account, bool) {
	return tokensource.Account{ObjectID: "oid"}, true
}

// TestSocketCacheHitAllocs guards the daemon's part of a socket token
// request answered from the cache: the handler (profile, access policy,
// broker hit, audit record, answer) and the answer's encoding on the wire.
// It counts allocations, which do not depend on the machine's speed; a
// regression (reflection, a log line, a copy per request) shows as more.
func TestSocketCacheHitAllocs(t *testing.T) {
	allocguard.SkipUnderRace(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(`default_profile = "sp"

[profiles.sp]
flow = "client-secret"
tenant = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"
client_id = "12a34b56-789c-0d12-e3fa-b456789c0123"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	prof := fixedProfile{tok: tokensource.Token{Value: secret.New(strings.Repeat("eyJ0eXAi", 200)),
		ExpiresOn: time.Now().Add(time.Hour), Scopes: cfg.Profiles["sp"].Scopes}}
	b := broker.New(clock.Real{}, broker.Policy{})
	defer b.Close()
	b.SetSource("sp", prof)
	audit := access.NewAudit(zap.NewNop(), access.AuditOptions{Executable: func(int32) string { return "/usr/bin/entra-helper" }})
	defer audit.Close()
	pol, err := access.New(access.Options{Audit: audit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cfg: cfg, profiles: map[string]tokensource.Profile{"sp": prof}, broker: b, access: pol,
		log: zap.NewNop(), logins: map[string]bool{}}

	ctx := context.Background()
	peer := ipc.Self()
	req := &ipc.Request{V: ipc.ProtocolVersion, Op: ipc.OpToken, Profile: "sp"}
	var got *ipc.Response
	send := func(r *ipc.Response) error {
		got = r
		out := *r
		out.V = ipc.ProtocolVersion
		return ipc.WriteMessage(io.Discard, &out)
	}
	d.handle(ctx, peer, req, send) // the first request fills the cache
	if got == nil || got.Token == nil || got.Token.AccessToken == "" {
		t.Fatalf("no token: %+v", got)
	}
	// Exactly 3 (the answer and its Token; the server's copy of the
	// answer to set its version, here in send), counted without -race. The
	// broker's lookup and a repeated audit record allocate nothing;
	// encoding/json alone took 27.
	const max = 3

	if n := testing.AllocsPerRun(200, func() { d.handle(ctx, peer, req, send) }); n > max {
		t.Errorf("a socket cache hit allocates %.0f times, want at most %d", n, max)
	}
}
