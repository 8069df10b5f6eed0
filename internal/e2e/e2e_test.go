//go:build unix

// Package e2e runs the real entra-helperd and entra-helper binaries against
// the fake Entra ID (internal/entratest) and a real Secret Service, the way a
// user does, and checks what a user sees, plus that no secret or token ever
// lands in a log, an output or a file.
//
// Unix only (a Unix socket and a Secret Service): the Windows build runs
// under Wine in internal/winesmoke (make test-windows).
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/config"

	"github.com/entra-helper/entra-helper/internal/entratest"
)

const (
	databricksResource = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
	spClientID         = "12a34b56-789c-0d12-e3fa-b456789c0123"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "entra-helper-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, name := range []string{"entra-helper", "entra-helperd"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "../../cmd/"+name)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireKeyring skips unless a real Secret Service is there
// (scripts/with-keyring.sh), and fails when make test asked for one.
func requireKeyring(t *testing.T) {
	t.Helper()
	if os.Getenv("ENTRA_HELPER_KEYRING") == "1" {
		return
	}
	if os.Getenv("ENTRA_HELPER_REQUIRE_KEYRING") == "1" {
		t.Fatal("no Secret Service: run through scripts/with-keyring.sh")
	}
	t.Skip("no Secret Service: run through scripts/with-keyring.sh (make test does)")
}

// env is one user's world: a HOME, a config, a fake Entra and a daemon.
type env struct {
	t       *testing.T
	dir     string
	entra   *entratest.Server
	environ []string
	daemon  *exec.Cmd
	// daemonArgs are entra-helperd's arguments (nil: none, a per-user daemon).
	daemonArgs []string
	logs       []*bytes.Buffer // every daemon run's stderr
	logMu      sync.Mutex      // guards logs' contents while a daemon writes
	outputs    []string        // every client output, for the leak check
	secrets    []string        // every secret and token seen, for the leak check
}

func newEnv(t *testing.T, profiles string) *env {
	t.Helper()
	return newEnvWith(t, entratest.Options{}, profiles)
}

// newEnvWith is newEnv with a fake Entra configured by opts.
func newEnvWith(t *testing.T, opts entratest.Options, profiles string) *env {
	t.Helper()
	requireKeyring(t)
	e := &env{t: t, dir: t.TempDir()}
	e.entra = entratest.NewTB(t, opts)
	home := filepath.Join(e.dir, "home")
	run := filepath.Join(e.dir, "run")
	for _, d := range []string{home, run, filepath.Join(home, ".config", "entra-helper")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ca := filepath.Join(e.dir, "ca.pem")
	if err := e.entra.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[daemon]\nmetadata_listen = \"\"\nidentity_listen = \"\"\nlog_level = \"debug\"\n\n%s",
		strings.ReplaceAll(strings.ReplaceAll(profiles, "{authority}", e.entra.URL()), "{tenant}", e.entra.Tenant()))
	cfgPath := filepath.Join(home, ".config", "entra-helper", "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.environ = append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "XDG_RUNTIME_DIR="+run,
		"ENTRA_HELPER_CONFIG="+cfgPath, "SSL_CERT_FILE="+ca, "ENTRA_HELPER_NO_AUTOSTART=1",
	)
	t.Cleanup(e.checkNoLeaks) // runs after stopDaemon: cleanups run last first
	t.Cleanup(e.stopDaemon)
	return e
}

func (e *env) startDaemon() {
	e.t.Helper()
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "entra-helperd"), e.daemonArgs...)
	cmd.Env = e.environ
	cmd.Stderr = &syncWriter{mu: &e.logMu, w: &log}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.daemon = cmd
	e.logs = append(e.logs, &log)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, _, code := e.client("", "status"); code == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("daemon did not answer; its log:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSignedInSP registers the service principal with secret at the fake,
// starts the daemon and signs profile sp in through the client; sp is
// signed out at the end, because the test keyring outlives the test.
func (e *env) startSignedInSP(secret string) {
	e.t.Helper()
	e.secrets = append(e.secrets, secret)
	e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: secret})
	e.startDaemon()
	e.t.Cleanup(func() { e.client("", "logout", "-p", "sp") })
	if _, stderr, code := e.client(secret, "login", "-p", "sp", "--secret-stdin"); code != 0 {
		e.t.Fatalf("login: exit %d: %s", code, stderr)
	}
}

func (e *env) stopDaemon() {
	if e.daemon == nil {
		return
	}
	_ = e.daemon.Process.Signal(syscall.SIGTERM)
	_ = e.daemon.Wait()
	e.daemon = nil
}

func (e *env) killDaemon() {
	_ = e.daemon.Process.Kill()
	_ = e.daemon.Wait()
	e.daemon = nil
}

// client runs entra-helper with stdin and returns stdout, stderr and the exit code.
func (e *env) client(stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(filepath.Join(binDir, "entra-helper"), args...)
	cmd.Env = e.environ
	out, errOut, code := runCmd(e.t, cmd, stdin)
	e.outputs = append(e.outputs, errOut)
	return out, errOut, code
}

// runCmd runs cmd with stdin and returns its stdout, stderr and exit code;
// a command that cannot be started fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd, stdin string) (string, string, int) {
	t.Helper()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return out.String(), errb.String(), code
}

// sdkSign has the Databricks SDK, configured by cfg, sign a request and
// returns the bearer token it set (remembered for the leak check) and all
// the request's headers.
func (e *env) sdkSign(cfg *config.Config) (string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, cfg.Host+"/api/2.0/clusters/list", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cfg.Authenticate(req); err != nil {
		e.t.Fatalf("Databricks SDK auth (%s): %v", cfg.AuthType, err)
	}
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok {
		e.t.Fatal("the SDK set no bearer token")
	}
	e.secrets = append(e.secrets, tok)
	return tok, req.Header
}

// token runs `entra-helper token` and remembers the token for the leak check.
func (e *env) token(args ...string) string {
	e.t.Helper()
	out, stderr, code := e.client("", append([]string{"token"}, args...)...)
	if code != 0 {
		e.t.Fatalf("token %v: exit %d: %s", args, code, stderr)
	}
	tok := strings.TrimSpace(out)
	e.secrets = append(e.secrets, tok)
	return tok
}

// checkNoLeaks greps every daemon log, client error output and file under
// the test's directory (HOME, state, runtime) for the secrets and tokens used.
func (e *env) checkNoLeaks() {
	t := e.t
	var haystacks []string
	for _, l := range e.logs {
		haystacks = append(haystacks, l.String())
	}
	haystacks = append(haystacks, e.outputs...)
	_ = filepath.Walk(e.dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			if b, err := os.ReadFile(path); err == nil {
				haystacks = append(haystacks, string(b))
			}
		}
		return nil
	})
	for _, s := range e.secrets {
		if len(s) < 8 {
			continue
		}
		for _, h := range haystacks {
			if strings.Contains(h, s) {
				t.Errorf("a secret or token (%d bytes) appears in a log, an error output or a file", len(s))
				return
			}
		}
	}
}

func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

const spProfile = `
[profiles.sp]
flow = "client-secret"
tenant = "{tenant}"
client_id = "` + spClientID + `"
authority_host = "{authority}"
`

func TestServicePrincipalEndToEnd(t *testing.T) {
	e := newEnv(t, spProfile)
	const secret = "s3cr3t~Value.For-The_SP-0123456789"
	e.secrets = append(e.secrets, secret)
	e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: secret})
	e.startDaemon()

	// A token before login: the profile needs a sign-in (exit 3 naming login).
	if _, stderr, code := e.client("", "token", "-p", "sp"); code != 3 || !strings.Contains(stderr, "entra-helper login -p sp") {
		t.Fatalf("token before login: exit %d, %q; want 3 naming the login command", code, stderr)
	}

	// A wrong secret: exit 1 with advice about AADSTS7000215, no secret shown.
	const wrong = "wrong-secret-value-0000000000"
	e.secrets = append(e.secrets, wrong)
	_, stderr, code := e.client(wrong, "login", "-p", "sp", "--secret-stdin")
	if code != 1 && code != 3 || !strings.Contains(stderr, "7000215") {
		t.Fatalf("wrong secret: exit %d, %q; want 1 or 3 with AADSTS7000215 advice", code, stderr)
	}

	if _, stderr, code := e.client(secret, "login", "-p", "sp", "--secret-stdin"); code != 0 {
		t.Fatalf("login: exit %d: %s", code, stderr)
	}
	tok := e.token("-p", "sp")
	if aud := claims(t, tok)["aud"]; aud != databricksResource {
		t.Fatalf("aud = %v, want the Databricks resource", aud)
	}
	mgmt := e.token("-p", "sp", "--resource", "https://management.core.windows.net/")
	if aud := claims(t, mgmt)["aud"]; aud != "https://management.core.windows.net/" {
		t.Fatalf("management aud = %v", aud)
	}

	// Killed and restarted: 200 concurrent requests on the cold daemon cause
	// exactly one token request, and no new sign-in is needed.
	e.killDaemon()
	before := e.entra.TokenRequests()
	e.startDaemon()
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(filepath.Join(binDir, "entra-helper"), "token", "-p", "sp")
			cmd.Env = e.environ
			if err := cmd.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					codes <- ee.ExitCode()
					return
				}
				codes <- -1
				return
			}
			codes <- 0
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 0 {
			t.Fatalf("a concurrent token call exited %d", c)
		}
	}
	if n := e.entra.TokenRequests() - before; n != 1 {
		t.Fatalf("200 concurrent calls on a cold daemon made %d token requests, want 1", n)
	}

	// Logout forgets the secret: the next token needs a sign-in again.
	if _, stderr, code := e.client("", "logout", "-p", "sp"); code != 0 {
		t.Fatalf("logout: exit %d: %s", code, stderr)
	}
	if _, _, code := e.client("", "token", "-p", "sp"); code != 3 {
		t.Fatalf("token after logout: exit %d, want 3", code)
	}
}

func TestIdentityProviderDown(t *testing.T) {
	e := newEnv(t, spProfile)
	const secret = "another-s3cret-value-abcdefghij"
	e.startSignedInSP(secret)
	e.token("-p", "sp") // cached before the outage
	e.entra.FailTokens(http.StatusServiceUnavailable, 0)
	// The cached token is still served while Entra is down.
	e.token("-p", "sp")
	// A scope never fetched cannot be: exit 5.
	if _, stderr, code := e.client("", "token", "-p", "sp", "--resource", "https://management.core.windows.net/"); code != 5 {
		t.Fatalf("new scope during outage: exit %d (%s), want 5", code, stderr)
	}
}

func TestNoDaemon(t *testing.T) {
	e := newEnv(t, spProfile)
	if _, _, code := e.client("", "token", "-p", "sp"); code != 4 {
		t.Fatalf("no daemon and no autostart: exit %d, want 4", code)
	}
}

func TestClientLinksNoHeavyModules(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", filepath.Join(binDir, "entra-helper")).CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	for _, mod := range []string{"microsoft-authentication-library", "go.uber.org/zap", "go-keyring", "kardianos/service", "go-toml", "databricks"} {
		if bytes.Contains(out, []byte(mod)) {
			t.Errorf("the client links %s:\n%s", mod, out)
		}
	}
	if runtime.GOOS == "linux" && !bytes.Contains(out, []byte("path")) {
		t.Fatalf("unexpected go version -m output: %s", out)
	}
}

// syncWriter lets the daemon's stderr be read while it is written.
type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
