//go:build linux

// Package winesmoke runs the Windows build of entra-helper and entra-helperd
// under Wine through the main job, against the fake Entra ID over TLS:
// daemon start, status, login, token, a restart that needs no new sign-in
// (Windows Credential Manager, and the file store with its key), autostart,
// logout. scripts/wine-test.sh (make test-windows) builds the binaries and
// the Wine prefix and sets ENTRA_HELPER_WINE*; without them the test skips.
//
// Wine has one user and enforces no pipe DACLs, so access control is not
// tested here (docs/install.md says what is and what is not).
package winesmoke

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/entratest"
)

const spClientID = "12a34b56-789c-0d12-e3fa-b456789c0123"

// world is one Wine prefix with the Windows binaries and a fake Entra.
type world struct {
	t          *testing.T
	wine       string
	wineserver string
	bin        string
	dir        string
	entra      *entratest.Server
	outputs    []string // everything the binaries printed, for the leak check
	daemon     *exec.Cmd
	exited     chan struct{} // closed when daemon has exited
	daemonLog  *syncBuffer
}

func newWorld(t *testing.T) *world {
	wine := os.Getenv("ENTRA_HELPER_WINE")
	if wine == "" {
		t.Skip("needs the Windows binaries and a Wine prefix: run make test-windows")
	}
	w := &world{t: t, wine: wine, wineserver: os.Getenv("ENTRA_HELPER_WINESERVER"),
		bin: os.Getenv("ENTRA_HELPER_WINE_BIN"), dir: t.TempDir()}
	if os.Getenv("WINEPREFIX") == "" || w.bin == "" || w.wineserver == "" {
		t.Fatal("ENTRA_HELPER_WINE is set without WINEPREFIX, ENTRA_HELPER_WINESERVER and ENTRA_HELPER_WINE_BIN: run make test-windows")
	}
	w.entra = entratest.NewTB(t, entratest.Options{})
	if err := w.entra.WriteCAFile(filepath.Join(w.dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.killAll)
	w.startWineserver()
	return w
}

// startWineserver starts the prefix's wineserver, persistent and with no
// pipe of ours: one started by a Windows process would inherit its
// stdout and stderr and keep them open after the process ends.
func (w *world) startWineserver() {
	w.t.Helper()
	cmd := exec.Command(w.wineserver, "-p")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if err := cmd.Run(); err != nil {
		w.t.Logf("wineserver -p: %v (one runs already)", err)
	}
}

// win returns the Windows name of the Unix path p (Wine's drive Z: is /).
func win(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// config writes a config file (Unix path returned) for a daemon with the
// given [daemon] lines and the service principal profile sp.
func (w *world) config(name, daemon string) string {
	p := filepath.Join(w.dir, name+".toml")
	doc := fmt.Sprintf("[daemon]\nmetadata_listen = \"\"\nidentity_listen = \"\"\nlog_level = \"debug\"\n%s\n\n[profiles.sp]\nflow = \"client-secret\"\ntenant = %q\nclient_id = %q\nauthority_host = %q\n",
		daemon, w.entra.Tenant(), spClientID, w.entra.URL())
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// env is the environment of a Windows process: Wine's own variables and
// ours, nothing else from this process (no Unix XDG_* paths).
func (w *world) env(config, pipe string, autostart bool) []string {
	env := []string{"ENTRA_HELPER_CONFIG=" + win(config), "ENTRA_HELPER_SOCKET=" + pipe,
		"SSL_CERT_FILE=" + win(filepath.Join(w.dir, "ca.pem"))}
	if !autostart {
		env = append(env, "ENTRA_HELPER_NO_AUTOSTART=1")
	}
	for _, k := range []string{"PATH", "HOME", "USER", "LANG", "TMPDIR", "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "WINEARCH"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// newPipe returns a pipe name of its own for one daemon.
func newPipe() string {
	b := make([]byte, 6)
	rand.Read(b)
	return `\\.\pipe\entra-helper-smoke-` + hex.EncodeToString(b)
}

// client runs entra-helper.exe and returns its stdout, stderr and exit code.
func (w *world) client(env []string, stdin string, args ...string) (string, string, int) {
	w.t.Helper()
	cmd := exec.Command(w.wine, append([]string{filepath.Join(w.bin, "entra-helper.exe")}, args...)...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	// Files, not pipes: a daemon the client starts inherits its Unix
	// descriptors under Wine and would hold a pipe open.
	outf, errf := w.tempFile(), w.tempFile()
	defer outf.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("running entra-helper.exe under Wine: %v", err)
	}
	out, _ := os.ReadFile(outf.Name())
	errb, _ := os.ReadFile(errf.Name())
	w.outputs = append(w.outputs, string(out), string(errb))
	return string(out), string(errb), code
}

// tempFile returns a new empty file in the test's directory.
func (w *world) tempFile() *os.File {
	w.t.Helper()
	f, err := os.CreateTemp(w.dir, "out-*")
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}

// startDaemon starts entra-helperd.exe and waits until status answers.
func (w *world) startDaemon(env []string) {
	w.t.Helper()
	cmd := exec.Command(w.wine, filepath.Join(w.bin, "entra-helperd.exe"))
	cmd.Env = env
	w.daemonLog = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = w.daemonLog, w.daemonLog
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.daemon = cmd
	exited := make(chan struct{})
	w.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, _, code := w.client(env, "", "status"); code == 0 {
			return
		}
		select {
		case <-exited:
			w.t.Fatalf("entra-helperd.exe exited at start; its log:\n%s", w.daemonLog)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("entra-helperd.exe did not answer; its log:\n%s", w.daemonLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopDaemon ends the daemon the test started (Wine turns the kill into
// TerminateProcess: the pipe and every handle go with it).
func (w *world) stopDaemon() {
	if w.daemon == nil {
		return
	}
	w.daemon.Process.Kill()
	<-w.exited
	w.outputs = append(w.outputs, w.daemonLog.String())
	w.daemon = nil
}

// restartWine stops every Windows process of the prefix and its
// wineserver, which writes the registry (and so the Credential Manager)
// to disk; the next Windows process starts a fresh one.
func (w *world) restartWine() {
	w.t.Helper()
	w.stopDaemon()
	if out, err := exec.Command(w.wineserver, "-k").CombinedOutput(); err != nil && len(out) > 0 {
		w.t.Logf("wineserver -k: %v: %s", err, out)
	}
	exec.Command(w.wineserver, "-w").Run()
	w.startWineserver()
}

func (w *world) killAll() {
	w.stopDaemon()
	exec.Command(w.wineserver, "-k").Run()
	exec.Command(w.wineserver, "-w").Run()
}

// wantToken asks for sp's token and checks that the fake Entra signed it.
func (w *world) wantToken(env []string, what string) {
	w.t.Helper()
	out, stderr, code := w.client(env, "", "token", "-p", "sp")
	if code != 0 {
		w.t.Fatalf("%s: token: exit %d: %s", what, code, stderr)
	}
	if _, err := w.entra.VerifyToken(strings.TrimSpace(out)); err != nil {
		w.t.Fatalf("%s: token: not a token of the fake Entra: %v", what, err)
	}
}

// wantExit runs the client and checks its exit code and that stderr
// holds every one of want.
func (w *world) wantExit(env []string, stdin string, code int, want []string, args ...string) {
	w.t.Helper()
	_, stderr, got := w.client(env, stdin, args...)
	if got != code {
		w.t.Fatalf("%s: exit %d, want %d: %s", strings.Join(args, " "), got, code, stderr)
	}
	for _, s := range want {
		if !strings.Contains(stderr, s) {
			w.t.Fatalf("%s: stderr %q lacks %q", strings.Join(args, " "), stderr, s)
		}
	}
}

func (w *world) checkNoLeak(secret string) {
	for _, o := range w.outputs {
		if strings.Contains(o, secret) {
			w.t.Fatalf("the secret shows in an output or log:\n%s", o)
		}
	}
}

// TestWindowsMainJob: Credential Manager, the daemon started by hand and by
// the client.
func TestWindowsMainJob(t *testing.T) {
	w := newWorld(t)
	const secret = "s3cr3t~Windows.Smoke-0123456789"
	w.entra.AddApp(entratest.App{ClientID: spClientID, Secret: secret})
	env := w.env(w.config("keyring", `store = "keyring"`), newPipe(), false)

	w.startDaemon(env)
	out, stderr, code := w.client(env, "", "status")
	if code != 0 || !strings.Contains(out, "keyring") || !strings.Contains(out, "sp") {
		t.Fatalf("status: exit %d: %s%s", code, out, stderr)
	}
	w.wantExit(env, "", 3, []string{"entra-helper login -p sp"}, "token", "-p", "sp")
	w.wantExit(env, secret, 0, nil, "login", "-p", "sp", "--secret-stdin")
	w.wantToken(env, "after login")

	// A new daemon, under a new wineserver: the secret comes back from the
	// Credential Manager, no sign-in.
	before := w.entra.TokenRequests()
	w.restartWine()
	w.startDaemon(env)
	w.wantToken(env, "after a daemon and wineserver restart")
	if w.entra.TokenRequests() != before+1 {
		t.Fatalf("token requests %d -> %d: want exactly one (the new daemon's)", before, w.entra.TokenRequests())
	}
	w.stopDaemon()

	// No daemon: the client starts entra-helperd.exe from next to itself.
	auto := w.env(w.config("keyring", `store = "keyring"`), newPipe(), true)
	w.wantToken(auto, "through autostart")
	w.wantExit(auto, "", 0, nil, "logout", "-p", "sp")
	w.wantExit(auto, "", 3, []string{"entra-helper login -p sp"}, "token", "-p", "sp")
	w.checkNoLeak(secret)
}

// TestWindowsFileStore: store = "file" keeps its session across a daemon
// restart, and refuses a key file others may read, with Windows advice.
func TestWindowsFileStore(t *testing.T) {
	w := newWorld(t)
	const secret = "s3cr3t~Windows.FileStore-0123456789"
	w.entra.AddApp(entratest.App{ClientID: spClientID, Secret: secret})
	key := filepath.Join(w.dir, "store.key")
	k := make([]byte, 32)
	rand.Read(k)
	if err := os.WriteFile(key, k, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(w.dir, "state")
	cfg := w.config("file", fmt.Sprintf("store = \"file\"\nstate_dir = %q\nstore_key_file = %q", win(state), win(key)))
	env := w.env(cfg, newPipe(), false)

	// Wine shows a file others may read (0644) as one with an Everyone
	// entry: the daemon refuses the key, with advice for Windows.
	cmd := exec.Command(w.wine, filepath.Join(w.bin, "entra-helperd.exe"))
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	log, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(log), "icacls") || strings.Contains(string(log), "chmod") {
		t.Fatalf("daemon with a key others may read: %v, want a refusal naming icacls and not chmod:\n%s", err, log)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}

	w.startDaemon(env)
	w.wantExit(env, secret, 0, nil, "login", "-p", "sp", "--secret-stdin")
	w.wantToken(env, "after login")
	files, _ := filepath.Glob(filepath.Join(state, "store", "*.enc"))
	if len(files) == 0 {
		t.Fatalf("no encrypted file in %s", filepath.Join(state, "store"))
	}
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(secret)) {
			t.Fatalf("%s holds the secret in clear", f)
		}
	}

	w.stopDaemon()
	w.startDaemon(env)
	out, _, _ := w.client(env, "", "status")
	if !strings.Contains(out, "file") {
		t.Fatalf("status does not name the file store:\n%s", out)
	}
	w.wantToken(env, "after a daemon restart with the file store")
	w.wantExit(env, "", 0, nil, "logout", "-p", "sp")
	w.wantExit(env, "", 3, []string{"entra-helper login -p sp"}, "token", "-p", "sp")
	w.checkNoLeak(secret)
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
