//go:build linux

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noBusEnv is a user on a headless machine: no session bus
// (DBUS_SESSION_BUS_ADDRESS and DISPLAY unset), the default store =
// "keyring", autostart on. Every process the test's commands could start
// carries a marker in its environment, so that the count of dbus-daemon and
// gnome-keyring-daemon processes is this test's own, whatever else runs on
// the machine. The dbus-launch on PATH really starts a bus (as the real one
// does), so an auto-launch would show in the count.
type noBusEnv struct {
	t       *testing.T
	environ []string
	marker  string
	home    string
	cfg     string
	tripped string // exists once dbus-launch was run
}

func newNoBusEnv(t *testing.T) *noBusEnv {
	t.Helper()
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this user has a systemd session bus at /run/user/UID/bus")
	}
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon not found (apt-get install dbus)")
	}
	dir := t.TempDir()
	home, run, bin := filepath.Join(dir, "home"), filepath.Join(dir, "run"), filepath.Join(dir, "bin")
	for _, d := range []string{home, run, bin} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e := &noBusEnv{t: t, home: home, cfg: filepath.Join(home, ".config", "entra-helper", "config.toml"), tripped: filepath.Join(dir, "dbus-launch-ran")}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	e.marker = "ENTRA_HELPER_E2E_NOBUS=" + hex.EncodeToString(b)
	launch := "#!/bin/sh\ntouch " + e.tripped + "\n" +
		"addr=$(dbus-daemon --session --fork --print-address=1 </dev/null 2>/dev/null) || exit 1\n" +
		"echo \"DBUS_SESSION_BUS_ADDRESS=$addr\"\n"
	if err := os.WriteFile(filepath.Join(bin, "dbus-launch"), []byte(launch), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL", "ENTRA_HELPER_NO_AUTOSTART",
			"HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "ENTRA_HELPER_CONFIG", "ENTRA_HELPER_SOCKET", "PATH":
			continue
		}
		e.environ = append(e.environ, kv)
	}
	e.environ = append(e.environ, e.marker, "PATH="+bin+":"+os.Getenv("PATH"),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_STATE_HOME="+filepath.Join(home, ".local", "state"),
		"XDG_RUNTIME_DIR="+run)
	t.Cleanup(e.killMarked)
	return e
}

// marked lists the dbus-daemon and gnome-keyring-daemon processes that
// carry this test's marker.
func (e *noBusEnv) marked() []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		pid := ent.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		comm, err := os.ReadFile("/proc/" + pid + "/comm")
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		if name != "dbus-daemon" && !strings.HasPrefix(name, "gnome-keyring") {
			continue
		}
		env, err := os.ReadFile("/proc/" + pid + "/environ")
		if err == nil && bytes.Contains(env, []byte(e.marker+"\x00")) {
			found = append(found, pid+" "+name)
		}
	}
	return found
}

func (e *noBusEnv) killMarked() {
	for _, p := range e.marked() {
		var pid int
		fmt.Sscan(p, &pid)
		if proc, err := os.FindProcess(pid); err == nil {
			_ = proc.Kill()
		}
	}
}

func (e *noBusEnv) run(name string, args ...string) (string, string, int, time.Duration) {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Env = e.environ
	start := time.Now()
	out, errOut, code := runCmd(e.t, cmd, "")
	return out, errOut, code, time.Since(start)
}

func (e *noBusEnv) writeConfig(s string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(e.cfg), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.cfg, []byte(s), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func TestNoSessionBus(t *testing.T) {
	e := newNoBusEnv(t)
	before := e.marked()

	// No config at all: the client names the file and `entra-helper setup`.
	_, stderr, code, _ := e.run("entra-helper", "token")
	if code != 4 || !strings.Contains(stderr, "no config file at "+e.cfg) || !strings.Contains(stderr, "`entra-helper setup`") {
		t.Fatalf("token without a config: exit %d, %q; want 4 naming %s and `entra-helper setup`", code, stderr, e.cfg)
	}
	if strings.Contains(stderr, "see its log") {
		t.Errorf("the client points at a log instead of the reason: %q", stderr)
	}

	// A broken config: the client shows the daemon's file:line:key.
	e.writeConfig("[profiles.sp]\nflow = \"client-secret\"\nflwo = \"x\"\n")
	_, stderr, code, _ = e.run("entra-helper", "token", "-p", "sp")
	if code != 4 || !strings.Contains(stderr, e.cfg+":3") || !strings.Contains(stderr, "flwo") {
		t.Errorf("token with a broken config: exit %d, %q; want 4 naming %s:3 and the key", code, stderr, e.cfg)
	}

	// A config with the default store = "keyring", and no session bus.
	e.writeConfig("[daemon]\nmetadata_listen = \"\"\nidentity_listen = \"\"\n\n[profiles.sp]\nflow = \"client-secret\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"" + spClientID + "\"\n")
	problem := "keyring: there is no D-Bus session bus to find a Secret Service on (DBUS_SESSION_BUS_ADDRESS is unset"
	fix := "switch to the encrypted file store with `entra-helper setup --store file` (it writes a fresh 0600 key file and sets store = \"file\" and store_key_file in [daemon] of " + e.cfg
	sentence := func(what, s string) {
		t.Helper()
		for _, want := range []string{problem, fix, `store = "file"`, "gnome-keyring"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s: %q lacks %q", what, s, want)
			}
		}
	}

	// The daemon in the foreground exits at once with the sentence.
	_, stderr, code, took := e.run("entra-helperd")
	if code != 1 {
		t.Errorf("entra-helperd: exit %d, want 1", code)
	}
	sentence("entra-helperd", stderr)
	t.Logf("entra-helperd failed in %s", took)

	// Ten client calls: each autostarts a daemon that says why it cannot
	// start, and the client shows that sentence and gives up (exit 4)
	// instead of waiting out its 5 s autostart wait.
	for i := range 10 {
		_, stderr, code, took := e.run("entra-helper", "token", "-p", "sp")
		if code != 4 {
			t.Fatalf("token #%d: exit %d, want 4: %s", i+1, code, stderr)
		}
		// A client that waited out its autostart wait would say "does
		// not answer" instead of the sentence: no timed assertion needed,
		// which a loaded machine could fail.
		sentence(fmt.Sprintf("token #%d", i+1), stderr)
		if i == 0 {
			t.Logf("token failed in %s", took)
		}
	}

	// doctor shows it as a failed store check with the fix.
	out, _, code, _ := e.run("entra-helper", "doctor")
	if code != 1 {
		t.Errorf("doctor: exit %d, want 1", code)
	}
	var storeLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " store ") {
			storeLine = l
		}
	}
	if !strings.HasPrefix(storeLine, "FAIL") {
		t.Errorf("doctor's store line %q is not a failure:\n%s", storeLine, out)
	}
	sentence("doctor", storeLine)

	if _, err := os.Stat(e.tripped); err == nil {
		t.Error("dbus-launch was run: something auto-launched a session bus")
	}
	if after := e.marked(); len(after) != len(before) {
		t.Errorf("dbus-daemon/gnome-keyring-daemon processes before %v, after %v: the product started some", before, after)
	}
}
