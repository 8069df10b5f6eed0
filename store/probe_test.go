//go:build linux

package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// countingBackend is the real go-keyring behind the real probe, counting
// how often go-keyring itself is called.
type countingBackend struct {
	goKeyring
	calls *atomic.Int32
}

func (c countingBackend) Get(service, user string) (string, error) {
	c.calls.Add(1)
	return c.goKeyring.Get(service, user)
}

func (c countingBackend) Set(service, user, password string) error {
	c.calls.Add(1)
	return c.goKeyring.Set(service, user, password)
}

func (c countingBackend) Delete(service, user string) error {
	c.calls.Add(1)
	return c.goKeyring.Delete(service, user)
}

func probedKeyring() (*Keyring, *atomic.Int32) {
	calls := new(atomic.Int32)
	k := NewKeyring(KeyringOptions{Service: "entra-helper-probe-test", Timeout: 5 * time.Second, ConfigPath: "/cfg/config.toml"})
	k.backend = countingBackend{calls: calls}
	return k, calls
}

// tripwire puts a dbus-launch on PATH that records being run, so a test
// proves godbus's auto-launch never happens.
func tripwire(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	script := "#!/bin/sh\ntouch " + mark + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "dbus-launch"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return mark
}

func TestProbeNoSessionBus(t *testing.T) {
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this user has a systemd session bus at /run/user/UID/bus")
	}
	mark := tripwire(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	k, calls := probedKeyring()
	start := time.Now()
	_, err := k.Get(context.Background(), "profile/p/secret")
	u, ok := AsUnavailable(err)
	if !ok || u.Reason != NoSessionBus {
		t.Fatalf("Get without a session bus: %v, want NoSessionBus", err)
	}
	t.Logf("failed in %s", time.Since(start)) // a wait would end as KeychainTimeout (Timeout 5s), not NoSessionBus
	for _, want := range []string{"no D-Bus session bus", "DBUS_SESSION_BUS_ADDRESS is unset", `store = "file"`, "/cfg/config.toml", "entra-helper setup --store file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("dbus-launch was run: the probe auto-launched a session bus")
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("go-keyring was called %d times after the probe failed", n)
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		t.Fatal("the probe set DBUS_SESSION_BUS_ADDRESS")
	}
}

// privateBus starts a dbus-daemon with the standard session configuration
// (so the Secret Service is activatable when gnome-keyring is installed)
// and points DBUS_SESSION_BUS_ADDRESS at it.
func privateBus(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		if os.Getenv("ENTRA_HELPER_REQUIRE_KEYRING") == "1" {
			t.Fatal("dbus-daemon not found")
		}
		t.Skip("dbus-daemon not found (apt-get install dbus)")
	}
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the bus address: %v", err)
	}
	addr = strings.TrimSpace(addr)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	return addr
}

// ownerOf reports whether name has an owner on the bus at addr.
func hasOwner(t *testing.T, name string) bool {
	t.Helper()
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Hello(); err != nil {
		t.Fatal(err)
	}
	var owned bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", dbus.FlagNoAutoStart, name).Store(&owned); err != nil {
		t.Fatal(err)
	}
	return owned
}

func TestProbeNoSecretServiceNeverActivatesOne(t *testing.T) {
	privateBus(t)
	k, calls := probedKeyring()
	for _, op := range []func() error{
		func() error { _, err := k.Get(context.Background(), "profile/p/secret"); return err },
		func() error { return k.Set(context.Background(), "profile/p/secret", []byte("v")) },
		func() error { return k.Delete(context.Background(), "profile/p/secret") },
	} {
		err := op()
		if u, ok := AsUnavailable(err); !ok || u.Reason != NoSecretService {
			t.Fatalf("on a bus without a Secret Service: %v, want NoSecretService", err)
		}
		for _, want := range []string{"no Secret Service runs on the D-Bus session bus", "gnome-keyring-daemon --start --components=secrets", `store = "file"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	}
	if calls.Load() != 0 {
		t.Fatal("go-keyring was called: the bus would have activated a keyring daemon")
	}
	if hasOwner(t, secretsName) {
		t.Fatal("the probe activated a Secret Service on the bus")
	}
}

func TestProbeLockedKeyringWithoutDisplay(t *testing.T) {
	if _, err := exec.LookPath("gnome-keyring-daemon"); err != nil {
		if os.Getenv("ENTRA_HELPER_REQUIRE_KEYRING") == "1" {
			t.Fatal("gnome-keyring-daemon not found")
		}
		t.Skip("gnome-keyring-daemon not found")
	}
	addr := privateBus(t)
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	home := t.TempDir()
	// A keyring daemon with no unlocked (here: no) login keyring, as on a
	// server where nobody logged in graphically.
	gk := exec.Command("gnome-keyring-daemon", "--foreground", "--components=secrets")
	gk.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr, "HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_RUNTIME_DIR="+home)
	if err := gk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gk.Process.Kill(); _ = gk.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for !hasOwner(t, secretsName) {
		if time.Now().After(deadline) {
			t.Fatal("gnome-keyring-daemon did not take org.freedesktop.secrets")
		}
		time.Sleep(20 * time.Millisecond)
	}
	k, calls := probedKeyring()
	start := time.Now()
	_, err := k.Get(context.Background(), "profile/p/secret")
	if u, ok := AsUnavailable(err); !ok || u.Reason != KeychainLocked {
		t.Fatalf("Get with a locked keyring: %v, want KeychainLocked", err)
	}
	if !strings.Contains(err.Error(), "locked or missing") || !strings.Contains(err.Error(), `store = "file"`) {
		t.Errorf("error %q", err)
	}
	t.Logf("failed in %s", time.Since(start)) // waiting for a prompt would end as KeychainTimeout (Timeout 5s), not KeychainLocked
	if calls.Load() != 0 {
		t.Fatal("go-keyring was called: it would have asked for a prompt")
	}
}

func TestClassifyBackend(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Reason
	}{
		{errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), KeychainLocked},
		{dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown"}, NoSecretService},
		{dbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied"}, AccessDenied},
		{errors.New("dbus: couldn't determine address of session bus"), NoSessionBus},
	} {
		u := classifyBackend(c.err, "cfg")
		if u == nil || u.Reason != c.want {
			t.Errorf("classifyBackend(%v) = %v, want %v", c.err, u, c.want)
		}
	}
	if u := classifyBackend(errors.New("something else"), "cfg"); u != nil {
		t.Errorf("an unknown error was classified: %v", u)
	}
}
