//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/ipcserver"
	"github.com/entra-helper/entra-helper/ipc"
)

// TestMain doubles as a fake entra-helperd: the autostart tests place a
// symlink called entra-helperd to this test binary next to the client.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == daemonName() {
		os.Exit(fakeDaemonMain())
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// fakeDaemonMain serves the defaultAnswer daemon on $ENTRA_HELPER_SOCKET
// until it has answered one request (or 30 s passed), then exits.
func fakeDaemonMain() int {
	sock := os.Getenv(ipc.SocketEnv)
	if os.Getenv("FAKE_DAEMON_LOSES") == "1" {
		// A daemon that lost the start race: another one holds the ports.
		fmt.Fprintln(os.Stderr, "cannot serve the metadata endpoint: address already in use")
		return 1
	}
	l, err := ipc.Listen(sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake entra-helperd:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "fake entra-helperd: listening on", sock)
	answered := make(chan struct{}, 1)
	srv := &ipcserver.Server{Handler: func(ctx context.Context, _ ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		resp, _ := defaultAnswer(req, nil)
		send(resp)
		select {
		case answered <- struct{}{}:
		default:
		}
	}}
	go srv.Serve(l)
	select {
	case <-answered:
	case <-time.After(30 * time.Second):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return 0
}

var (
	buildOnce sync.Once
	buildDir  string
	clientBin string
	buildErr  error
)

// client builds the entra-helper binary once per test run.
func client(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process tests build the binary")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "entra-helper-bin-")
		if buildErr != nil {
			return
		}
		clientBin = filepath.Join(buildDir, "entra-helper")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		out, err := exec.Command(goBin, "build", "-o", clientBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return clientBin
}

// shortDir is a private temporary directory with a short path (socket
// paths are limited to about 100 bytes).
func shortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "eh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// procDaemon is a fake daemon served in the test process.
type procDaemon struct {
	sock string
	mu   sync.Mutex
	reqs []ipc.Request
}

func (d *procDaemon) requests() []ipc.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ipc.Request(nil), d.reqs...)
}

func startProcDaemon(t testing.TB) *procDaemon {
	t.Helper()
	d := &procDaemon{sock: filepath.Join(shortDir(t), "run", "d.sock")}
	l, err := ipc.Listen(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ipcserver.Server{Handler: func(ctx context.Context, _ ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		d.mu.Lock()
		d.reqs = append(d.reqs, *req)
		d.mu.Unlock()
		if req.Op == ipc.OpLogin && req.Profile != "needs" {
			send(&ipc.Response{Event: &ipc.Event{Kind: ipc.EventDeviceCode, Message: "To sign in, enter the code FAKE-CODE at https://microsoft.com/devicelogin"}})
		}
		resp, _ := defaultAnswer(req, nil)
		send(resp)
	}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return d
}

// baseEnv is a hermetic environment for the client.
func baseEnv(t *testing.T, sock string) []string {
	home := t.TempDir()
	return []string{
		"HOME=" + home,
		"PATH=",
		"TZ=UTC",
		"XDG_STATE_HOME=" + filepath.Join(home, "state"),
		ipc.SocketEnv + "=" + sock,
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, bin string, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %s: %v", bin, err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

func TestProcessTokenFormats(t *testing.T) {
	bin := client(t)
	d := startProcDaemon(t)
	env := baseEnv(t, d.sock)
	want := testToken("prod", nil)

	r := runBin(t, bin, env, "", "token", "-p", "prod")
	if r.code != 0 || r.stdout != want.AccessToken+"\n" {
		t.Fatalf("token: %+v", r)
	}
	r = runBin(t, bin, env, "", "token", "-p", "prod", "-o", "header")
	if r.code != 0 || r.stdout != "Authorization: Bearer "+want.AccessToken+"\n" {
		t.Errorf("header: %+v", r)
	}
	r = runBin(t, bin, env, "", "token", "-p", "prod", "-o", "json", "--resource", "https://management.core.windows.net/")
	var j tokenJSON
	if err := json.Unmarshal([]byte(r.stdout), &j); r.code != 0 || err != nil || j.AccessToken != "tok-"+managementScope || j.ExpiresOn != want.ExpiresOn || j.TokenType != "Bearer" {
		t.Errorf("json: %+v %v", r, err)
	}
	r = runBin(t, bin, env, "", "token", "-p", "prod", "-o", "az")
	var az azToken
	if err := json.Unmarshal([]byte(r.stdout), &az); r.code != 0 || err != nil || az.ExpiresOn != "2024-03-01 12:59:59.000000" || az.ExpiresOnInt != want.ExpiresOn {
		t.Errorf("az (TZ=UTC): %+v %v", r, err)
	}
	if _, err := time.LoadLocation("Asia/Kolkata"); err == nil {
		r = runBin(t, bin, append(env, "TZ=Asia/Kolkata"), "", "token", "-p", "prod", "-o", "az")
		if err := json.Unmarshal([]byte(r.stdout), &az); err != nil || az.ExpiresOn != "2024-03-01 18:29:59.000000" {
			t.Errorf("az in Asia/Kolkata: %+v", r)
		}
	}
	r = runBin(t, bin, env, "", "token", "-p", "prod", "-o", "exec-credential")
	var ec execCredential
	if err := json.Unmarshal([]byte(r.stdout), &ec); r.code != 0 || err != nil || ec.Status.Token != want.AccessToken || ec.Status.ExpirationTimestamp != "2024-03-01T12:59:59Z" {
		t.Errorf("exec-credential: %+v %v", r, err)
	}
	r = runBin(t, bin, append(env, envProfile+"=fromenv"), "", "token", "--scope", "s1", "--scope", "s2", "--min-valid", "15m")
	reqs := d.requests()
	last := reqs[len(reqs)-1]
	if r.code != 0 || last.Profile != "fromenv" || strings.Join(last.Scopes, " ") != "s1 s2" || last.MinValidMS != 900000 {
		t.Errorf("request %+v from %+v", last, r)
	}
}

func TestProcessLogin(t *testing.T) {
	bin := client(t)
	d := startProcDaemon(t)
	const secret = "proc-Secret~value-123"
	r := runBin(t, bin, baseEnv(t, d.sock), secret+"\n", "login", "-p", "sp", "--secret-stdin")
	if r.code != 0 {
		t.Fatalf("login: %+v", r)
	}
	reqs := d.requests()
	if len(reqs) != 1 || reqs[0].Login == nil || reqs[0].Login.ClientSecret != secret {
		t.Fatalf("the secret did not arrive: %+v", reqs)
	}
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("the secret was printed: %+v", r)
	}
	if !strings.Contains(r.stderr, "FAKE-CODE") || !strings.Contains(r.stdout, "Signed in sp") {
		t.Errorf("events or result missing: %+v", r)
	}
}

func TestProcessExitCodes(t *testing.T) {
	bin := client(t)
	d := startProcDaemon(t)
	env := baseEnv(t, d.sock)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "-p", "needs"}, 3, "entra-helper login -p needs"},
		{[]string{"login", "-p", "needs"}, 3, "entra-helper login -p needs"},
		{[]string{"token", "-p", "down"}, 5, "down"},
		{[]string{"headers", "-p", "down"}, 5, "down"},
		{[]string{"token", "-p", "nope"}, 2, "nope"},
		{[]string{"token", "--bogus"}, 2, "--bogus"},
	} {
		r := runBin(t, bin, env, "", tt.args...)
		if r.code != tt.code || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%q: %+v, want exit %d and %q", tt.args, r, tt.code, tt.want)
		}
	}
}

func TestProcessNoDaemon(t *testing.T) {
	bin := client(t)
	env := append(baseEnv(t, filepath.Join(shortDir(t), "none.sock")), envNoAutostart+"=1")
	r := runBin(t, bin, env, "", "token")
	if r.code != 4 || !strings.Contains(r.stderr, envNoAutostart) {
		t.Errorf("%+v", r)
	}
}

// installClient copies the client into a fresh directory, with a fake
// entra-helperd (this test binary) next to it when withDaemon.
func installClient(t *testing.T, withDaemon bool) string {
	t.Helper()
	dir := shortDir(t)
	src, err := os.Open(client(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "entra-helper")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	if withDaemon {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(self, filepath.Join(dir, daemonName())); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func TestProcessAutostart(t *testing.T) {
	bin := installClient(t, true)
	sock := filepath.Join(shortDir(t), "run", "d.sock")
	env := baseEnv(t, sock)
	r := runBin(t, bin, env, "", "token", "-p", "prod")
	if r.code != 0 || r.stdout != testToken("prod", nil).AccessToken+"\n" {
		t.Fatalf("autostart: %+v", r)
	}
	logPath := daemonLogOf(env)
	fi, err := os.Stat(logPath)
	if err != nil {
		t.Fatalf("no daemon log: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %o", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(logPath)); di.Mode().Perm() != 0o700 {
		t.Errorf("log dir mode %o", di.Mode().Perm())
	}
	// The daemon logs before it serves, so the line is there.
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "fake entra-helperd: listening") {
		t.Errorf("log: %q", b)
	}
}

// daemonLogOf is where an autostarted daemon logs in env.
func daemonLogOf(env []string) string {
	var logPath string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "XDG_STATE_HOME="); ok {
			logPath = filepath.Join(v, "entra-helper", "daemon.log")
		}
	}
	return logPath
}

// TestProcessCredentialAutostart: git's get starts the daemon as token
// does; erase never starts one (nothing is cached without a daemon).
func TestProcessCredentialAutostart(t *testing.T) {
	bin := installClient(t, true)
	env := baseEnv(t, filepath.Join(shortDir(t), "run", "d.sock"))
	r := runBin(t, bin, env, "protocol=https\nhost=dev.azure.com\npassword=x\n", "credential", "-p", "prod", "erase")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("erase without a daemon: %+v", r)
	}
	if _, err := os.Stat(daemonLogOf(env)); err == nil {
		t.Fatal("erase started a daemon")
	}
	r = runBin(t, bin, env, "protocol=https\nhost=dev.azure.com\n\n", "credential", "-p", "prod", "get")
	want := fmt.Sprintf("username=entra-helper\npassword=tok-%s\npassword_expiry_utc=%d\n", adoScope, testToken("prod", nil).ExpiresOn)
	if r.code != 0 || r.stdout != want {
		t.Fatalf("get with autostart: %+v, want stdout %q", r, want)
	}
}

// TestProcessAutostartAz runs the client through an `az` symlink in
// another directory, as the Databricks SDK would: the daemon is still
// found next to the real executable.
func TestProcessAutostartAz(t *testing.T) {
	bin := installClient(t, true)
	azDir := shortDir(t)
	az := filepath.Join(azDir, "az")
	if err := os.Symlink(bin, az); err != nil {
		t.Fatal(err)
	}
	env := append(baseEnv(t, filepath.Join(shortDir(t), "run", "d.sock")), envProfile+"=prod")
	r := runBin(t, az, env, "", "account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "--output", "json")
	var tok struct {
		AccessToken string `json:"accessToken"`
		ExpiresOn   string `json:"expiresOn"`
		TokenType   string `json:"tokenType"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &tok); r.code != 0 || err != nil || tok.AccessToken != "tok-"+databricksScope || tok.TokenType != "Bearer" {
		t.Fatalf("az: %+v %v", r, err)
	}
	if _, err := time.ParseInLocation("2006-01-02 15:04:05.999999", tok.ExpiresOn, time.UTC); err != nil {
		t.Errorf("expiresOn: %v", err)
	}
}

func TestProcessAutostartNoDaemonBinary(t *testing.T) {
	bin := installClient(t, false)
	r := runBin(t, bin, baseEnv(t, filepath.Join(shortDir(t), "run", "d.sock")), "", "token")
	if r.code != 4 || !strings.Contains(r.stderr, "entra-helperd was found neither") {
		t.Errorf("%+v", r)
	}
}

// BenchmarkProcessToken measures a whole `entra-helper token` run against a
// daemon answering from memory: process start, dial, request, answer.
func BenchmarkProcessToken(b *testing.B) {
	bin := client(b)
	d := startProcDaemon(b)
	env := []string{"HOME=" + b.TempDir(), "PATH=", ipc.SocketEnv + "=" + d.sock}
	for b.Loop() {
		cmd := exec.Command(bin, "token", "-p", "prod")
		cmd.Env = env
		if out, err := cmd.Output(); err != nil || len(out) == 0 {
			b.Fatalf("%v %q", err, out)
		}
	}
}

// TestProcessAutostartLostRace: several clients start a daemon at once; the
// one they started loses (the winner holds the ports) and exits, and the
// winner answers on the socket a moment later. The client must get the
// winner's answer, not the loser's error.
func TestProcessAutostartLostRace(t *testing.T) {
	bin := installClient(t, true)
	sock := filepath.Join(shortDir(t), "run", "d.sock")
	env := append(baseEnv(t, sock), "FAKE_DAEMON_LOSES=1")
	srv := &ipcserver.Server{Handler: func(ctx context.Context, _ ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		resp, _ := defaultAnswer(req, nil)
		send(resp)
	}}
	served := make(chan struct{})
	go func() {
		defer close(served)
		time.Sleep(200 * time.Millisecond) // the winner, still starting
		l, err := ipc.Listen(sock)
		if err != nil {
			t.Error(err)
			return
		}
		srv.Serve(l)
	}()
	defer func() { srv.Shutdown(context.Background()); <-served }()
	r := runBin(t, bin, env, "", "token", "-p", "prod")
	if r.code != 0 || r.stdout != testToken("prod", nil).AccessToken+"\n" {
		t.Fatalf("a client whose daemon lost the start race: %+v", r)
	}
}
