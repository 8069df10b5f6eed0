//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSIGHUP: a new profile appears on SIGHUP; a broken config is
// refused and the daemon keeps serving with the old one.
func TestReloadOnSIGHUP(t *testing.T) {
	e := newEnv(t, spProfile)
	const secret = "reload-s3cret-value-0123456789"
	e.startSignedInSP(secret)
	t.Cleanup(func() { e.client("", "logout", "-p", "sp2") }) // the keyring outlives the test
	cfgPath := filepath.Join(e.dir, "home", ".config", "entra-helper", "config.toml")
	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	// A broken config: the daemon logs it and keeps the running one.
	if err := os.WriteFile(cfgPath, append(append([]byte{}, orig...), "\n[profiles.sp2]\nflw = 1\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.hup()
	waitLog(t, e, "config reload failed")
	e.token("-p", "sp")

	// A valid new profile is picked up.
	extra := strings.ReplaceAll(spProfile, "[profiles.sp]", "[profiles.sp2]")
	extra = strings.ReplaceAll(strings.ReplaceAll(extra, "{authority}", e.entra.URL()), "{tenant}", e.entra.Tenant())
	if err := os.WriteFile(cfgPath, append(append([]byte{}, orig...), extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.hup()
	waitLog(t, e, "config reloaded")
	if _, stderr, code := e.client(secret, "login", "-p", "sp2", "--secret-stdin"); code != 0 {
		t.Fatalf("login to the reloaded profile: exit %d: %s", code, stderr)
	}
	e.token("-p", "sp2")
	e.token("-p", "sp")
}

func (e *env) hup() {
	e.t.Helper()
	if err := e.daemon.Process.Signal(syscall.SIGHUP); err != nil {
		e.t.Fatal(err)
	}
}

// waitLog waits until the current daemon's log contains s.
func waitLog(t *testing.T, e *env, s string) {
	t.Helper()
	log := e.logs[len(e.logs)-1]
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.logMu.Lock()
		found := strings.Contains(log.String(), s)
		e.logMu.Unlock()
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never logged %q", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
