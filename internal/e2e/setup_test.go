//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/entratest"
)

const setupSecret = "setup-Sp~Secret.value-9876543210"

// setupWorld is what `entra-helper setup` starts from: nothing but a HOME,
// a fake Entra ID (its CA in SSL_CERT_FILE) and the client's autostart.
type setupWorld struct {
	t       *testing.T
	home    string
	environ []string
	entra   *entratest.Server
	cfg     string
}

func (w *setupWorld) run(stdin string, args ...string) (string, string, int) {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "entra-helper"), args...)
	cmd.Env = w.environ
	return runCmd(w.t, cmd, stdin)
}

// stopDaemon stops the daemon the client started, by the pid it reports.
func (w *setupWorld) stopDaemon() {
	out, _, code := w.run("", "status", "--json")
	if code != 0 {
		return
	}
	var st struct {
		PID int `json:"pid"`
	}
	if json.Unmarshal([]byte(out), &st) == nil && st.PID > 0 {
		_ = syscall.Kill(st.PID, syscall.SIGTERM)
	}
}

// daemonsOf lists the entra-helperd processes whose environment has
// HOME=home: the ones a test's commands started.
func daemonsOf(home string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + ent.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "entra-helperd" {
			continue
		}
		env, err := os.ReadFile("/proc/" + ent.Name() + "/environ")
		if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00HOME="+home+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// noDaemonLeft fails the test if an entra-helperd its commands started
// still runs once the other cleanups are done (a daemon left behind keeps
// running on the shared machine), and kills it.
func noDaemonLeft(t *testing.T, home string) {
	t.Helper()
	var left []int
	for i := 0; i < 100; i++ { // a stopped daemon takes a moment to exit
		if left = daemonsOf(home); len(left) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	t.Errorf("entra-helperd %v was left running after the test", left)
}

// signIn runs setup from nothing and checks the store it picked, the token
// it leads to, and that nothing it wrote can be read by another user.
func (w *setupWorld) signIn(wantStore string) {
	t := w.t
	w.entra.AddApp(entratest.App{ClientID: spClientID, Secret: setupSecret})
	t.Cleanup(w.stopDaemon)
	// The one thing a test must set: no fixed loopback port (other daemons
	// run on this machine). Everything else comes from setup.
	if err := os.MkdirAll(filepath.Dir(w.cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.cfg, []byte("# test: no metadata endpoint\n[daemon]\nmetadata_listen = \"\"\nidentity_listen = \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := w.run(setupSecret, "setup", "-p", "sp", "--flow", "client-secret", "--tenant", w.entra.Tenant(),
		"--client-id", spClientID, "--authority-host", w.entra.URL(), "--secret-stdin", "--yes")
	if code != 0 {
		t.Fatalf("setup: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	t.Logf("setup said:\n%s", out)
	for _, want := range []string{"entra-helper setup will update " + w.cfg, "store: " + wantStore, "[profiles.sp]",
		`flow = "client-secret"`, "Wrote " + w.cfg, "Signed in sp", "entra-helper token -p sp"} {
		if !strings.Contains(out, want) {
			t.Errorf("setup's output lacks %q", want)
		}
	}
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "# test: no metadata endpoint\n[daemon]\nmetadata_listen = \"\"") {
		t.Errorf("setup did not keep the config's own lines:\n%s", cfg)
	}
	if !strings.Contains(string(cfg), "# Profile sp") || !strings.Contains(string(cfg), `store = "`+wantStore+`"`) && wantStore == "file" {
		t.Errorf("the config is not commented or lacks the store:\n%s", cfg)
	}
	tok, stderr, code := w.run("", "token", "-p", "sp")
	if code != 0 || strings.Count(strings.TrimSpace(tok), ".") != 2 {
		t.Fatalf("token after setup: exit %d, %q, %s", code, tok, stderr)
	}
	w.nothingReadableByOthers(strings.TrimSpace(tok))
}

// nothingReadableByOthers opens HOME to everyone, as many homes are, and
// checks that uid nobody can read no file setup and the daemon wrote, and
// that no file holds the secret or the token in plaintext.
func (w *setupWorld) nothingReadableByOthers(token string) {
	t := w.t
	for d := w.home; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var files []string
	_ = filepath.WalkDir(w.home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), setupSecret) || strings.Contains(string(b), token) {
				t.Errorf("%s holds the secret or the token in plaintext", p)
			}
		}
		return nil
	})
	if len(files) < 2 { // at least the config and the daemon's log
		t.Fatalf("only %v under HOME: where did setup write?", files)
	}
	if os.Geteuid() != 0 {
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %04o", f, fi.Mode().Perm())
			}
		}
		return
	}
	for _, f := range files {
		cmd := exec.Command("cat", f)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
		if out, err := cmd.Output(); err == nil {
			t.Errorf("uid %d can read %s (%d bytes)", nobodyUID, f, len(out))
		}
	}
}

func newSetupWorld(t *testing.T, environ []string, home string) *setupWorld {
	t.Helper()
	w := &setupWorld{t: t, home: home, environ: environ, entra: entratest.NewTB(t, entratest.Options{}),
		cfg: filepath.Join(home, ".config", "entra-helper", "config.toml")}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := w.entra.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	w.environ = append(w.environ, "SSL_CERT_FILE="+ca, "ENTRA_HELPER_NO_AUTOSTART=0", "ENTRA_HELPER_CONFIG=")
	return w
}

// A headless user (no session bus): setup picks the file store with a
// fresh 0600 key, and the token works.
func TestSetupHeadlessFileStore(t *testing.T) {
	e := newNoBusEnv(t)
	w := newSetupWorld(t, e.environ, e.home)
	before := e.marked()
	w.signIn("file")
	key := filepath.Join(e.home, ".config", "entra-helper", "store.key")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the store key %s: %v, mode %v; want 0600", key, err, fi)
	}
	if after := e.marked(); len(after) != len(before) {
		t.Errorf("dbus-daemon/gnome-keyring-daemon processes before %v, after %v", before, after)
	}
	if _, err := os.Stat(e.tripped); err == nil {
		t.Error("dbus-launch was run")
	}
	// Running setup again for another profile keeps the first and the key.
	keyBefore, _ := os.ReadFile(key)
	out, stderr, code := w.run("", "setup", "-p", "other", "--flow", "device-code", "--tenant", w.entra.Tenant(),
		"--client-id", spClientID, "--authority-host", w.entra.URL(), "--no-login", "--yes")
	if code != 0 {
		t.Fatalf("second setup: exit %d: %s %s", code, out, stderr)
	}
	cfg, _ := os.ReadFile(w.cfg)
	keyAfter, _ := os.ReadFile(key)
	if !strings.Contains(string(cfg), "[profiles.sp]") || !strings.Contains(string(cfg), "[profiles.other]") || string(keyAfter) != string(keyBefore) {
		t.Errorf("the second setup lost a profile or replaced the key:\n%s", cfg)
	}
	if _, stderr, code := w.run("", "token", "-p", "sp"); code != 0 {
		t.Errorf("token -p sp after the second setup: exit %d: %s", code, stderr)
	}
	// A Databricks profile while the daemon's metadata endpoint is off
	// (metadata_listen = ""): the next steps do not offer a command that
	// cannot work, they say what to set.
	out, stderr, code = w.run(setupSecret, "setup", "-p", "dbx", "--flow", "client-secret", "--tenant", w.entra.Tenant(),
		"--client-id", spClientID, "--authority-host", w.entra.URL(), "--databricks-host", "https://adb-1234567890123456.7.azuredatabricks.net",
		"--secret-stdin", "--yes")
	if code != 0 {
		t.Fatalf("setup -p dbx: exit %d: %s %s", code, out, stderr)
	}
	if strings.Contains(out, `eval "$(entra-helper databricks env`) || !strings.Contains(out, "metadata_listen") {
		t.Errorf("setup -p dbx offers `databricks env` though the metadata endpoint is off:\n%s", out)
	}
}

// A desktop user (a real Secret Service): setup picks the keychain.
func TestSetupDesktopKeyring(t *testing.T) {
	requireKeyring(t)
	dir := t.TempDir()
	home, run := filepath.Join(dir, "home"), filepath.Join(dir, "run")
	for _, d := range []string{home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	environ := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "XDG_RUNTIME_DIR="+run)
	w := newSetupWorld(t, environ, home)
	t.Cleanup(func() { noDaemonLeft(t, home) }) // runs last
	w.signIn("keyring")
	// Runs before signIn's stopDaemon, while the daemon still answers (a
	// logout after it would autostart a daemon nobody stops); the test
	// keyring outlives the test.
	t.Cleanup(func() { w.run("", "logout", "-p", "sp") })
	if _, err := os.Stat(filepath.Join(home, ".config", "entra-helper", "store.key")); err == nil {
		t.Error("setup wrote a file store key though the keychain answers")
	}
}

// doctor --fix on a headless machine whose config says store = "keyring":
// it says what it will write, switches to the file store with a fresh key,
// and the profile signs in and gets a token.
func TestDoctorFixSwitchesToFileStore(t *testing.T) {
	e := newNoBusEnv(t)
	w := newSetupWorld(t, e.environ, e.home)
	w.entra.AddApp(entratest.App{ClientID: spClientID, Secret: setupSecret})
	t.Cleanup(w.stopDaemon)
	e.writeConfig("[daemon]\nmetadata_listen = \"\"\nidentity_listen = \"\"\nstore = \"keyring\"\n\n[profiles.sp]\nflow = \"client-secret\"\ntenant = \"" +
		w.entra.Tenant() + "\"\nclient_id = \"" + spClientID + "\"\nauthority_host = \"" + w.entra.URL() + "\"\n")

	out, stderr, code := w.run("", "doctor", "--fix")
	if code != 2 || !strings.Contains(stderr, "pass --yes") {
		t.Errorf("doctor --fix without a terminal or --yes: exit %d, %q; want 2 asking for --yes", code, stderr)
	}
	out, stderr, code = w.run("", "doctor", "--fix", "--yes")
	if code != 0 {
		t.Fatalf("doctor --fix --yes: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"FAIL  store", "doctor --fix will update " + w.cfg, "store: file", "a fresh random 32-byte key, mode 0600",
		"Wrote " + w.cfg, "entra-helper login -p sp"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor --fix output lacks %q:\n%s", want, out)
		}
	}
	if _, stderr, code := w.run(setupSecret, "login", "-p", "sp", "--secret-stdin"); code != 0 {
		t.Fatalf("login after doctor --fix: exit %d: %s", code, stderr)
	}
	tok, stderr, code := w.run("", "token", "-p", "sp")
	if code != 0 {
		t.Fatalf("token after doctor --fix: exit %d: %s", code, stderr)
	}
	w.nothingReadableByOthers(strings.TrimSpace(tok))
	if _, err := os.Stat(e.tripped); err == nil {
		t.Error("dbus-launch was run")
	}
}
