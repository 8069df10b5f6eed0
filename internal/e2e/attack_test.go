//go:build unix

// The attacks use Unix credentials (another uid through SysProcAttr);
// internal/winesmoke covers what Wine can show of Windows.

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/ipc"
)

// These tests play the attacker against a running daemon: another local
// user, garbage on the socket, clients that hog connections, and web pages
// aiming at the metadata endpoint. Whatever they do, they get no token, the
// daemon keeps serving its user, and its log shows no secret (the env's
// leak check runs after each test).

const (
	attackWorkspace = "https://adb-1234567890123456.7.azuredatabricks.net"
	attackSecret    = "attack-Sp~Secret.value-0123456789"
	nobodyUID       = 65534
)

const attackProfile = `
[profiles.sp]
flow = "client-secret"
tenant = "{tenant}"
client_id = "` + spClientID + `"
authority_host = "{authority}"
databricks_host = "` + attackWorkspace + `"
`

// attackEnv is a signed-in daemon with the metadata endpoint on a free
// loopback port.
func attackEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, attackProfile)
	e.secrets = append(e.secrets, attackSecret)
	e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: attackSecret})
	e.enableMetadata()
	e.startDaemon()
	if _, stderr, code := e.client(attackSecret, "login", "-p", "sp", "--secret-stdin"); code != 0 {
		t.Fatalf("login: exit %d: %s", code, stderr)
	}
	return e
}

// enableMetadata turns the metadata endpoint on, on a loopback port that
// was free a moment ago.
func (e *env) enableMetadata() { e.enableListener("metadata_listen") }

// enableListener sets the [daemon] key (metadata_listen, identity_listen),
// off in the env's config, to a loopback address that was free a moment
// ago, and returns it.
func (e *env) enableListener(key string) string {
	e.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	path := e.configPath()
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := strings.Replace(string(b), key+` = ""`, fmt.Sprintf("%s = %q", key, addr), 1)
	if cfg == string(b) {
		e.t.Fatalf("the env's config has no %s line to replace", key)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return addr
}

func (e *env) configPath() string {
	for _, kv := range e.environ {
		if v, ok := strings.CutPrefix(kv, "ENTRA_HELPER_CONFIG="); ok {
			return v
		}
	}
	e.t.Fatal("no ENTRA_HELPER_CONFIG in the env")
	return ""
}

// socket is the daemon's socket path ($XDG_RUNTIME_DIR/entra-helper/daemon.sock).
func (e *env) socket() string {
	return filepath.Join(e.dir, "run", "entra-helper", "daemon.sock")
}

// daemonLog is what the daemons of e logged so far.
func (e *env) daemonLog() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	var b strings.Builder
	for _, l := range e.logs {
		b.WriteString(l.String())
	}
	return b.String()
}

// metadataURL asks the daemon for the profile's endpoint URL; its path
// secret joins the leak check.
func (e *env) metadataURL(profile string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := ipc.Call(ctx, e.socket(), &ipc.Request{Op: ipc.OpProfile, Profile: profile}, nil)
	if err != nil || resp.Profile == nil || resp.Profile.MetadataURL == "" {
		e.t.Fatalf("profile %s: %+v, %v", profile, resp, err)
	}
	u := resp.Profile.MetadataURL
	parts := strings.Split(u, "/") // http: "" host secret profile
	if len(parts) != 5 || len(parts[3]) < 16 {
		e.t.Fatalf("unexpected metadata URL shape (%d parts)", len(parts))
	}
	e.secrets = append(e.secrets, parts[3])
	return u
}

// mustToken is the user's own `entra-helper token`, which must keep working.
func (e *env) mustToken(during string) {
	e.t.Helper()
	out, stderr, code := e.client("", "token", "-p", "sp")
	if code != 0 {
		e.t.Fatalf("token %s: exit %d: %s", during, code, stderr)
	}
	e.secrets = append(e.secrets, strings.TrimSpace(out))
}

// TestAttackOtherUser: a socket made reachable by another user (a world-
// writable link to it) still serves nobody but its owner; neither does the
// metadata endpoint, even with its secret.
func TestAttackOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another uid")
	}
	e := attackEnv(t)
	url := e.metadataURL("sp")

	// A directory every user may enter, holding the client and a link to
	// the daemon's socket; the socket itself opened up to everyone.
	open, err := os.MkdirTemp("", "eh-open")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(open)
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(open, "daemon.sock")
	if err := os.Link(e.socket(), link); err != nil {
		t.Skipf("cannot link the socket: %v", err)
	}
	if err := os.Chmod(e.socket(), 0o777); err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(open, "entra-helper")
	copyFile(t, filepath.Join(binDir, "entra-helper"), client, 0o755)

	asNobody := func(stdin string, name string, args ...string) (string, string, int) {
		cmd := exec.Command(name, args...)
		cmd.Env = []string{"HOME=" + open, "PATH=/usr/bin:/bin", ipc.SocketEnv + "=" + link, "ENTRA_HELPER_NO_AUTOSTART=1"}
		cmd.Dir = open
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
		out, errOut, code := runCmd(t, cmd, stdin)
		e.outputs = append(e.outputs, out, errOut)
		return out, errOut, code
	}

	for _, args := range [][]string{{"token", "-p", "sp"}, {"status"}, {"databricks", "env", "-p", "sp"}} {
		out, stderr, code := asNobody("", client, args...)
		if code == 0 || out != "" {
			t.Fatalf("uid %d ran %v: exit %d, stdout %q", nobodyUID, args, code, out)
		}
		if !strings.Contains(stderr, fmt.Sprintf("uid %d", nobodyUID)) || !strings.Contains(stderr, "may not use") {
			t.Errorf("uid %d ran %v: stderr %q, want the peer check's refusal", nobodyUID, args, stderr)
		}
	}
	if !strings.Contains(e.daemonLog(), fmt.Sprintf("refused uid %d", nobodyUID)) {
		t.Error("the daemon's log does not show the refusal")
	}

	// The metadata endpoint, with the right secret and headers, from
	// uid 65534: refused by the TCP peer's owner. The URL goes to curl on
	// stdin, never in its argv.
	if curl, err := exec.LookPath("curl"); err == nil {
		cfg := fmt.Sprintf("url = %q\nheader = \"X-Databricks-Metadata-Version: 1\"\nheader = \"X-Databricks-Host: %s\"\nsilent\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\"\n", url, attackWorkspace)
		out, stderr, code := asNobody(cfg, curl, "--config", "-")
		if code != 0 || out != "403" {
			t.Errorf("metadata endpoint as uid %d: curl exit %d, status %q (%s), want 403", nobodyUID, code, out, stderr)
		}
	} else {
		t.Log("no curl: the metadata endpoint's peer check as another uid is not exercised")
	}

	e.mustToken("after another user's attempts")
}

// TestAttackGarbage: 10 MB of random bytes on the socket are refused
// without hurting anyone else.
func TestAttackGarbage(t *testing.T) {
	e := attackEnv(t)
	conn, err := net.Dial("unix", e.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	junk := make([]byte, 10<<20)
	rand.Read(junk)
	junk[0] = 0x7f // a header announcing far more than MaxMessageSize
	wrote := make(chan error, 1)
	go func() {
		conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := conn.Write(junk)
		wrote <- err
	}()
	e.mustToken("while 10 MB of garbage arrive")
	if err := <-wrote; err == nil {
		t.Fatal("the daemon swallowed 10 MB of garbage instead of hanging up")
	}
	// What it said before hanging up, if the answer was not lost to the
	// reset: a usage error, never a token.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, _ := io.ReadAll(conn)
	if bytes.Contains(rest, []byte("access_token")) {
		t.Fatal("garbage got a token")
	}
	e.mustToken("after the garbage")
}

// TestAttackSilentClient: a client that connects and never writes does not
// hold anyone up.
func TestAttackSilentClient(t *testing.T) {
	e := attackEnv(t)
	conn, err := net.Dial("unix", e.socket())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	e.mustToken("while a client stays silent")
	e.mustToken("again while a client stays silent")
}

// TestAttackIdleConnections: 500 connections held open and idle (more than
// the daemon serves at once) do not lock its user out: idle ones give way.
func TestAttackIdleConnections(t *testing.T) {
	e := attackEnv(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 500 {
		c, err := net.Dial("unix", e.socket())
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	e.mustToken("while 500 idle connections are open")
	e.mustToken("again while 500 idle connections are open")
}

// TestAttackMetadataEndpoint: a web page (DNS rebinding: a foreign Host
// header; CSRF: a guessed secret, a POST) gets no token, and nothing the
// endpoint answers lets another origin read it.
func TestAttackMetadataEndpoint(t *testing.T) {
	e := attackEnv(t)
	good := e.metadataURL("sp")
	base := good[:strings.LastIndex(good[:strings.LastIndex(good, "/")], "/")] // http://127.0.0.1:port
	wrongSecret := base + "/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/sp"
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, url, host string, headers map[string]string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			e.outputs = append(e.outputs, string(body)) // a 200 holds the token itself
		}
		return resp.StatusCode, resp.Header, string(body)
	}
	sdk := map[string]string{"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": attackWorkspace}
	withOrigin := map[string]string{"Origin": "https://evil.example"}
	for k, v := range sdk {
		withOrigin[k] = v
	}
	for _, tt := range []struct {
		name, method, url, host string
		headers                 map[string]string
		status                  int
	}{
		{"DNS rebinding: foreign Host", http.MethodGet, good, "evil.example", sdk, http.StatusForbidden},
		{"DNS rebinding: foreign Host with port", http.MethodGet, good, "evil.example:80", sdk, http.StatusForbidden},
		{"DNS rebinding: loopback-looking name", http.MethodGet, good, "127.0.0.1.evil.example", sdk, http.StatusForbidden},
		{"wrong secret", http.MethodGet, wrongSecret, "", sdk, http.StatusNotFound},
		{"no secret", http.MethodGet, base + "/sp", "", sdk, http.StatusNotFound},
		{"CSRF: a form POST", http.MethodPost, good, "", withOrigin, http.StatusMethodNotAllowed},
		{"CORS preflight", http.MethodOptions, good, "", withOrigin, http.StatusMethodNotAllowed},
		{"another workspace", http.MethodGet, good, "", map[string]string{"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": "https://evil.azuredatabricks.net"}, http.StatusForbidden},
	} {
		status, h, body := do(tt.method, tt.url, tt.host, tt.headers)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, status, tt.status)
		}
		if strings.Contains(body, "access_token") {
			t.Errorf("%s: the answer holds a token", tt.name)
		}
		if h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: the answer allows another origin to read it", tt.name)
		}
	}
	// The SDK's own request works; its answer is not for other origins.
	status, h, body := do(http.MethodGet, good, "", sdk)
	if status != http.StatusOK || !strings.Contains(body, `"access_token"`) {
		t.Fatalf("the SDK's request: status %d", status)
	}
	if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("token answer headers: %v", h)
	}
	tok := body[strings.Index(body, `"access_token":"`)+len(`"access_token":"`):]
	e.secrets = append(e.secrets, tok[:strings.Index(tok, `"`)])

	// Every token handed out is audited: who got which scope, never the token.
	e.mustToken("after the metadata attacks")
	if log := e.daemonLog(); !strings.Contains(log, `"decision": "granted"`) {
		t.Error("no audit line for the tokens handed out")
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil {
		t.Fatal(err)
	}
}
