package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/broker"
	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/source"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

// TestReloadIsAllOrNothing: a reload whose new profile cannot be built
// changes nothing (the old allowed user keeps the profile, the new one
// does not get it, the old profile and config stay in force); a reload
// that succeeds puts the new rules and profile in force together.
func TestReloadIsAllOrNothing(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("its allowed_users are uids; Windows users are SIDs (daemon/access and TestOtherUserLearnsNoProfileNames cover them)")
	}
	oldUser, newUser := ipc.Peer{UID: 4242, GID: 4242}, ipc.Peer{UID: 4343, GID: 4343}
	if self := ipc.Self().UID; self == oldUser.UID || self == newUser.UID {
		t.Skip("the test runs as uid 4242 or 4343")
	}
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	writeCfg := func(uid uint32) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`[profiles.sp]
flow = "client-secret"
tenant = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"
client_id = "12a34b56-789c-0d12-e3fa-b456789c0123"
allowed_users = ["%d"]
`, uid)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(oldUser.UID)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := access.New(access.Options{System: true, RatePerSecond: -1}, accessRules(cfg))
	if err != nil {
		t.Fatal(err)
	}
	b := broker.New(clock.Real{}, broker.Policy{})
	defer b.Close()
	built := 0
	var buildErr error
	d := &Daemon{opts: Options{ConfigPath: cfgPath, Clock: clock.Real{}}, cfg: cfg, log: zap.NewNop(),
		level: zap.NewAtomicLevel(), access: pol, broker: b, remember: store.Remember(store.NewMemory(), clock.Real{}),
		logins: map[string]bool{}, accounts: map[string]accountState{},
		buildProfile: func(*config.Profile, source.Options) (tokensource.Profile, error) {
			if buildErr != nil {
				return nil, buildErr
			}
			built++
			return &fixedProfile{tok: tokensource.Token{Value: secret.New(fmt.Sprintf("token-%d", built)), ExpiresOn: time.Now().Add(time.Hour)}}, nil
		}}
	if _, err := d.applyProfiles(cfg, nil); err != nil {
		t.Fatal(err)
	}
	oldProf := d.profiles["sp"]

	check := func(when string, admitted, refused ipc.Peer, wantCfg *config.Config, wantProf tokensource.Profile) {
		t.Helper()
		if err := pol.Use(admitted, access.Socket, "sp"); err != nil {
			t.Errorf("%s: %s is refused: %v", when, admitted, err)
		}
		if err := pol.Use(refused, access.Socket, "sp"); err == nil {
			t.Errorf("%s: %s is admitted", when, refused)
		}
		d.mu.RLock()
		gotCfg, gotProf := d.cfg, d.profiles["sp"]
		d.mu.RUnlock()
		if gotCfg != wantCfg || gotProf != wantProf {
			t.Errorf("%s: config %p profile %v in force, want %p %v", when, gotCfg, gotProf, wantCfg, wantProf)
		}
	}

	writeCfg(newUser.UID)
	buildErr = errors.New("injected: cannot build the profile")
	d.reload()
	check("after a failed reload", oldUser, newUser, cfg, oldProf)

	buildErr = nil
	d.reload()
	d.mu.RLock()
	newCfg := d.cfg
	d.mu.RUnlock()
	if newCfg == cfg || d.profiles["sp"] == oldProf {
		t.Fatal("a valid reload kept the old config or profile")
	}
	check("after a good reload", newUser, oldUser, newCfg, d.profiles["sp"])
}
