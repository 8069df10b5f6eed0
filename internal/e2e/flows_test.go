//go:build unix

package e2e

// Every sign-in flow the way a user goes through it, with the real binaries:
// login, token, status, a kill -9 and restart without a new sign-in, and a
// logout that leaves nothing in the keychain. Then refresh-token rotation
// across crashes and revoked or expired refresh tokens.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/source"
	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

const (
	publicClientID = "3c5f7a1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b" // user flows
	certClientID   = "4d6e8f10-3c5e-4f70-9a1b-2c3d4e5f6a7b"
	fedClientID    = "5e7f9011-4d6f-4081-8b2c-3d4e5f6a7b8c"
	managementRes  = "https://management.core.windows.net/"
	alice          = "alice@contoso.example"
	alicePassword  = "correct-horse-battery-staple-42"
	fedSubject     = "system:serviceaccount:jobs:etl"
)

// profileTOML is a [profiles.NAME] table against the fake Entra.
func profileTOML(name, flow, clientID string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n[profiles.%s]\nflow = %q\n", name, flow)
	if flow != "managed-identity" {
		fmt.Fprintf(&b, "tenant = \"{tenant}\"\nclient_id = %q\nauthority_host = \"{authority}\"\n", clientID)
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

var (
	browserOnce sync.Once
	browserBin  string
	browserErr  error
)

// browserProgram builds ./browser (the $BROWSER of these tests) once.
func browserProgram(t *testing.T) string {
	t.Helper()
	browserOnce.Do(func() {
		bin := filepath.Join(binDir, "browser")
		if out, err := exec.Command("go", "build", "-o", bin, "./browser").CombinedOutput(); err != nil {
			browserErr = fmt.Errorf("building the test browser: %v\n%s", err, out)
			return
		}
		browserBin = bin
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserBin
}

// setenv adds variables to the environment of the daemon and the client
// (call before startDaemon).
func (e *env) setenv(kv ...string) {
	e.environ = append(e.environ, kv...)
}

// daemonConfig adds lines to the config's [daemon] table (call before
// startDaemon).
func (e *env) daemonConfig(lines ...string) {
	e.t.Helper()
	path := filepath.Join(e.dir, "home", ".config", "entra-helper", "config.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "[daemon]\n", "[daemon]\n"+strings.Join(lines, "\n")+"\n", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// status runs `entra-helper status --json`.
func (e *env) status() ipc.Status {
	e.t.Helper()
	out, stderr, code := e.client("", "status", "--json")
	if code != 0 {
		e.t.Fatalf("status --json: exit %d: %s", code, stderr)
	}
	var st ipc.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("status --json is not JSON: %v", err)
	}
	return st
}

func (e *env) profileStatus(name string) ipc.ProfileStatus {
	e.t.Helper()
	st := e.status()
	for _, p := range st.Profiles {
		if p.Name == name {
			return p
		}
	}
	e.t.Fatalf("status --json has no profile %s", name)
	return ipc.ProfileStatus{}
}

// waitState polls status until profile is in state (an event the daemon
// reaches by itself, e.g. its start-up renewal failing).
func (e *env) waitState(name, state string) ipc.ProfileStatus {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ps := e.profileStatus(name)
		if ps.State == state {
			return ps
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("profile %s stayed %q (last error %q), want %q", name, ps.State, ps.LastError, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bgClient is an entra-helper run still going, read while it runs.
type bgClient struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	done           chan struct{}
	err            error
}

// startClient runs entra-helper in the background.
func (e *env) startClient(stdin string, args ...string) *bgClient {
	e.t.Helper()
	c := &bgClient{done: make(chan struct{})}
	c.cmd = exec.Command(filepath.Join(binDir, "entra-helper"), args...)
	c.cmd.Env = e.environ
	c.cmd.Stdin = strings.NewReader(stdin)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	e.t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// lockedBuffer is a buffer written by a child process and read while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the client's stderr matches re and returns the
// submatches; it fails if the client ends first.
func (c *bgClient) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(c.stderr.String()); m != nil {
			return m
		}
		select {
		case <-c.done:
			if m := re.FindStringSubmatch(c.stderr.String()); m != nil {
				return m
			}
			t.Fatalf("entra-helper %v ended (%v) before printing %s: %s", c.cmd.Args[1:], c.err, re, c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("entra-helper %v did not print %s: %s", c.cmd.Args[1:], re, c.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the client to end and returns its outputs and exit code.
func (c *bgClient) wait(e *env) (string, string, int) {
	e.t.Helper()
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		e.t.Fatalf("entra-helper %v did not end: %s", c.cmd.Args[1:], c.stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		code = ee.ExitCode()
	} else if c.err != nil {
		e.t.Fatal(c.err)
	}
	e.outputs = append(e.outputs, c.stderr.String())
	return c.stdout.String(), c.stderr.String(), code
}

// interactiveGrants counts the sign-ins at the fake: codes, device codes
// (each poll) and passwords.
func interactiveGrants(s *entratest.Server) int {
	return s.TokenRequestsFor(entratest.GrantAuthorizationCode) +
		s.TokenRequestsFor(entratest.GrantDeviceCode) +
		s.TokenRequestsFor(entratest.GrantPassword)
}

// tokenPathRequests counts requests that reached the token endpoint's path,
// counted before the fake's latency (so a request held there is counted).
func tokenPathRequests(s *entratest.Server) int {
	return s.Requests("/" + s.Tenant() + "/oauth2/v2.0/token")
}

// keyringLeftovers lists the keychain items of profile (their names, never
// their values): through secret-tool when it is installed, and through
// go-keyring (the store's own reader) for every key the profile may use.
func keyringLeftovers(t *testing.T, profile string) []string {
	t.Helper()
	var left []string
	prefix := "profile/" + profile + "/"
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Log("secret-tool is not installed (apt-get install libsecret-tools): checking through go-keyring only")
	} else {
		cmd := exec.Command("secret-tool", "search", "--all", "service", store.DefaultKeyringService)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out // attributes go to stderr
		err := cmd.Run()
		var ee *exec.ExitError
		nothingFound := errors.As(err, &ee) && ee.ExitCode() == 1 && out.Len() == 0 // no item of the service at all
		if err != nil && !nothingFound {
			t.Fatalf("secret-tool search: %v", err) // its output may hold secrets: not shown
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "attribute.username = "); ok && strings.HasPrefix(name, prefix) {
				left = append(left, "secret-tool: "+name)
			}
		}
	}
	kr := store.NewKeyring(store.KeyringOptions{})
	for _, k := range source.Keys(profile) {
		_, err := kr.Get(context.Background(), k)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			t.Fatalf("reading the keychain: %v", err)
		default:
			left = append(left, "go-keyring: "+k)
		}
	}
	return left
}

// passwordGrant signs alice in at the fake directly, as another tool would,
// and returns the refresh token.
func passwordGrant(t *testing.T, s *entratest.Server, clientID string) string {
	t.Helper()
	form := url.Values{
		"grant_type":  {"password"},
		"client_id":   {clientID},
		"username":    {alice},
		"password":    {alicePassword},
		"scope":       {databricksResource + "/.default offline_access openid profile"},
		"client_info": {"1"},
	}
	return postToken(t, s, form)
}

// postToken POSTs form to the fake's token endpoint and returns the refresh
// token it answers with.
func postToken(t *testing.T, s *entratest.Server, form url.Values) string {
	t.Helper()
	resp, err := s.Client().PostForm(s.Authority()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body.RefreshToken == "" {
		t.Fatalf("token endpoint: HTTP %d %s, no refresh token", resp.StatusCode, body.Error)
	}
	return body.RefreshToken
}

var (
	certOnce sync.Once
	certPEM  []byte // certificate and key
	certX509 *x509.Certificate
	certKey  string // the key's PEM block alone
	certErr  error
)

// testCertificate returns a self-signed RSA certificate with its key, as
// `openssl req -x509 -newkey rsa:2048 -nodes` makes for an app registration.
func testCertificate(t *testing.T) ([]byte, *x509.Certificate, string) {
	t.Helper()
	certOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()),
			Subject:      pkix.Name{CommonName: "entra-helper e2e"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		if certX509, err = x509.ParseCertificate(der); err != nil {
			certErr = err
			return
		}
		pk, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			certErr = err
			return
		}
		certKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}))
		certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), certKey...)
	})
	if certErr != nil {
		t.Fatal(certErr)
	}
	return certPEM, certX509, certKey
}

// flowCase is one sign-in flow, end to end.
type flowCase struct {
	flow    string
	profile func(name string) string
	user    bool // a user flow: the token has alice's upn
	// stored: the credential comes from login and lives in the store
	// (else from a file or the environment, usable without a login).
	stored bool
	appID  string
	// prepare registers what the flow needs at the fake and in the
	// environment, before the daemon starts; files it writes go to dir
	// ({dir} in profile), outside the leak-checked test directory.
	prepare func(t *testing.T, e *env, dir string)
	// login signs the profile in as a user would and returns the client's
	// stderr.
	login func(t *testing.T, e *env, name string) string
}

// mustLogin runs login and fails unless it signed in.
func mustLogin(t *testing.T, e *env, stdin string, args ...string) string {
	t.Helper()
	out, stderr, code := e.client(stdin, append([]string{"login"}, args...)...)
	if code != 0 || !strings.Contains(out, "Signed in") {
		t.Fatalf("login %v: exit %d: %s%s", args, code, out, stderr)
	}
	return stderr
}

var (
	deviceCodeRE   = regexp.MustCompile(`enter the code ([A-Z0-9]{9})`)
	authorizeURLRE = regexp.MustCompile(`(https://\S+/oauth2/v2\.0/authorize\?\S+)`)
	flowRE         = regexp.MustCompile(`flow = "([^"]+)"`)
)

// addAlice registers alice and the public client app that signs her in by
// default at the fake.
func (e *env) addAlice() {
	e.entra.AddUser(entratest.User{Username: alice, Password: alicePassword})
	e.entra.AddApp(entratest.App{ClientID: publicClientID, Public: true, DefaultUser: alice})
}

func flowCases() []flowCase {
	publicApp := (*env).addAlice
	spSecret := "e2e-flows~ClientSecret.Value-0123456789abc"
	return []flowCase{{
		flow:    "browser",
		stored:  true,
		profile: func(n string) string { return profileTOML(n, "browser", publicClientID, `username = "`+alice+`"`) },
		user:    true,
		prepare: func(t *testing.T, e *env, dir string) {
			publicApp(e)
			e.setenv("BROWSER="+browserProgram(t), "ENTRA_E2E_BROWSER_LOG="+filepath.Join(e.dir, "browser.log"))
		},
		login: func(t *testing.T, e *env, name string) string {
			stderr := mustLogin(t, e, "", "-p", name)
			if !strings.Contains(stderr, "Opening the sign-in page") || !authorizeURLRE.MatchString(stderr) {
				t.Errorf("login did not say it opens the browser with the URL: %s", stderr)
			}
			log, err := os.ReadFile(filepath.Join(e.dir, "browser.log"))
			if err != nil {
				t.Fatalf("$BROWSER was not run: %v", err)
			}
			// The authorize page is a form_post form, posted to MSAL's loopback listener.
			if !regexp.MustCompile(`(?m)^GET 127\.0\.0\.1:\d+ -> 200 "Working\.\.\."$`).Match(log) ||
				!regexp.MustCompile(`(?m)^POST localhost:\d+ -> 200`).Match(log) {
				t.Errorf("the browser did not go through the form_post sign-in:\n%s", log)
			}
			return stderr
		},
	}, {
		flow:    "browser-no-browser",
		stored:  true,
		profile: func(n string) string { return profileTOML(n, "browser", publicClientID) },
		user:    true,
		prepare: func(t *testing.T, e *env, dir string) {
			publicApp(e)
			// $BROWSER is set but must not run with --no-browser.
			e.setenv("BROWSER="+browserProgram(t), "ENTRA_E2E_BROWSER_LOG="+filepath.Join(e.dir, "daemon-browser.log"))
		},
		login: func(t *testing.T, e *env, name string) string {
			c := e.startClient("", "login", "-p", name, "--no-browser")
			u := c.waitFor(t, authorizeURLRE)[1]
			// The person opens the printed URL in their browser.
			b := exec.Command(browserProgram(t), u)
			b.Env = append(append([]string(nil), e.environ...), "ENTRA_E2E_BROWSER_LOG="+filepath.Join(e.dir, "person-browser.log"))
			if out, err := b.CombinedOutput(); err != nil {
				t.Fatalf("opening the printed URL: %v: %s", err, out)
			}
			out, stderr, code := c.wait(e)
			if code != 0 || !strings.Contains(out, "Signed in") {
				t.Fatalf("login --no-browser: exit %d: %s%s", code, out, stderr)
			}
			if !strings.Contains(stderr, "Open this page in a browser") {
				t.Errorf("login --no-browser did not ask to open the page: %s", stderr)
			}
			if _, err := os.Stat(filepath.Join(e.dir, "daemon-browser.log")); err == nil {
				t.Errorf("the daemon ran $BROWSER although --no-browser was given")
			}
			return stderr
		},
	}, {
		flow:    "device-code",
		stored:  true,
		profile: func(n string) string { return profileTOML(n, "device-code", publicClientID) },
		user:    true,
		prepare: func(t *testing.T, e *env, dir string) { publicApp(e) },
		login: func(t *testing.T, e *env, name string) string {
			c := e.startClient("", "login", "-p", name)
			m := c.waitFor(t, deviceCodeRE) // printed while the client waits
			// The person opens the verification page and enters the code.
			resp, err := e.entra.Client().Get(e.entra.URL() + "/devicelogin?" + url.Values{"user_code": {m[1]}, "username": {alice}}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("approving the device code: HTTP %d", resp.StatusCode)
			}
			out, stderr, code := c.wait(e)
			if code != 0 || !strings.Contains(out, "Signed in") || !strings.Contains(out, alice) {
				t.Fatalf("device-code login: exit %d: %s%s", code, out, stderr)
			}
			return stderr
		},
	}, {
		flow:   "username-password",
		stored: true,
		profile: func(n string) string {
			return profileTOML(n, "username-password", publicClientID, `username = "`+alice+`"`)
		},
		user:    true,
		prepare: func(t *testing.T, e *env, dir string) { publicApp(e); e.secrets = append(e.secrets, alicePassword) },
		login: func(t *testing.T, e *env, name string) string {
			return mustLogin(t, e, alicePassword+"\n", "-p", name, "--password-stdin")
		},
	}, {
		flow:    "refresh-token",
		stored:  true,
		profile: func(n string) string { return profileTOML(n, "refresh-token", publicClientID) },
		user:    true,
		prepare: func(t *testing.T, e *env, dir string) { publicApp(e) },
		login: func(t *testing.T, e *env, name string) string {
			rt := passwordGrant(t, e.entra, publicClientID)
			e.secrets = append(e.secrets, rt)
			return mustLogin(t, e, rt+"\n", "-p", name, "--refresh-token-stdin")
		},
	}, {
		flow:    "client-secret",
		stored:  true,
		profile: func(n string) string { return profileTOML(n, "client-secret", spClientID) },
		appID:   spClientID,
		prepare: func(t *testing.T, e *env, dir string) {
			e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: spSecret})
			e.secrets = append(e.secrets, spSecret)
		},
		login: func(t *testing.T, e *env, name string) string {
			return mustLogin(t, e, spSecret, "-p", name, "--secret-stdin")
		},
	}, {
		flow: "client-certificate-file",
		profile: func(n string) string {
			return profileTOML(n, "client-certificate", certClientID, `certificate = "{dir}/app.pem"`)
		},
		appID: certClientID,
		prepare: func(t *testing.T, e *env, dir string) {
			pemBytes, cert, _ := testCertificate(t)
			e.entra.AddApp(entratest.App{ClientID: certClientID, Certificate: cert})
			_, _, key := testCertificate(t)
			e.secrets = append(e.secrets, key)
			if err := os.WriteFile(filepath.Join(dir, "app.pem"), pemBytes, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		login: func(t *testing.T, e *env, name string) string { return mustLogin(t, e, "", "-p", name) },
	}, {
		flow:    "client-certificate-stdin",
		stored:  true,
		profile: func(n string) string { return profileTOML(n, "client-certificate", certClientID) },
		appID:   certClientID,
		prepare: func(t *testing.T, e *env, dir string) {
			_, cert, key := testCertificate(t)
			e.entra.AddApp(entratest.App{ClientID: certClientID, Certificate: cert})
			e.secrets = append(e.secrets, key)
		},
		login: func(t *testing.T, e *env, name string) string {
			pemBytes, _, _ := testCertificate(t)
			return mustLogin(t, e, string(pemBytes), "-p", name, "--certificate-stdin")
		},
	}, {
		flow: "federated",
		profile: func(n string) string {
			return profileTOML(n, "federated", fedClientID, `federated_token_file = "{dir}/federated.jwt"`)
		},
		appID: fedClientID,
		prepare: func(t *testing.T, e *env, dir string) {
			e.entra.AddApp(entratest.App{ClientID: fedClientID,
				Federated: []entratest.FederatedCredential{{Issuer: e.entra.FederatedIssuer(), Subject: fedSubject}}})
			tok := e.entra.IssueFederatedToken(fedSubject, "")
			e.secrets = append(e.secrets, tok)
			if err := os.WriteFile(filepath.Join(dir, "federated.jwt"), []byte(tok+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		login: func(t *testing.T, e *env, name string) string { return mustLogin(t, e, "", "-p", name) },
	}, {
		flow:    "managed-identity",
		profile: func(n string) string { return profileTOML(n, "managed-identity", "") },
		appID:   entratest.DefaultManagedIdentityClientID,
		prepare: func(t *testing.T, e *env, dir string) {
			for k, v := range e.entra.ManagedIdentityEnv() {
				e.setenv(k + "=" + v)
			}
			e.secrets = append(e.secrets, e.entra.ManagedIdentityEnv()["IDENTITY_HEADER"])
		},
		login: func(t *testing.T, e *env, name string) string { return mustLogin(t, e, "", "-p", name) },
	}}
}

// TestEveryFlowEndToEnd signs in with every flow, gets tokens, kills the
// daemon with SIGKILL, restarts it and gets a token without a new sign-in,
// then logs out and finds nothing of the profile left in the keychain.
func TestEveryFlowEndToEnd(t *testing.T) {
	requireKeyring(t)
	for _, tc := range flowCases() {
		t.Run(tc.flow, func(t *testing.T) {
			t.Parallel()
			name := "e2e-flow-" + tc.flow // the keychain is shared: one name per test
			e := newEnv(t, "")
			cfgPath := filepath.Join(e.dir, "home", ".config", "entra-helper", "config.toml")
			dir := t.TempDir()
			prof := strings.NewReplacer("{authority}", e.entra.URL(), "{tenant}", e.entra.Tenant(), "{dir}", dir).Replace(tc.profile(name))
			appendFile(t, cfgPath, prof)
			tc.prepare(t, e, dir)
			e.startDaemon()
			wantState := ipc.StateReady
			if tc.stored {
				wantState = ipc.StateNeedsLogin
			}
			if ps := e.profileStatus(name); ps.State != wantState {
				t.Errorf("before login: state %q, want %q", ps.State, wantState)
			}

			tc.login(t, e, name)
			check := func(tok, aud string) {
				t.Helper()
				c, err := e.entra.VerifyToken(tok)
				if err != nil {
					t.Fatalf("the token is not the fake's: %v", err)
				}
				if c["aud"] != aud {
					t.Errorf("aud = %v, want %s", c["aud"], aud)
				}
				if tc.user {
					if c["upn"] != alice || c["idtyp"] != "user" {
						t.Errorf("upn = %v, idtyp = %v; want %s, user", c["upn"], c["idtyp"], alice)
					}
				} else if c["appid"] != tc.appID || c["idtyp"] != "app" {
					t.Errorf("appid = %v, idtyp = %v; want %s, app", c["appid"], c["idtyp"], tc.appID)
				}
			}
			check(e.token("-p", name), databricksResource)
			check(e.token("-p", name, "--resource", managementRes), managementRes)

			ps := e.profileStatus(name)
			wantAcct := alice
			if !tc.user {
				wantAcct = fmt.Sprint(claims(t, e.token("-p", name))["oid"])
			}
			wantFlow := flowRE.FindStringSubmatch(prof)[1]
			if ps.State != ipc.StateReady || ps.Account != wantAcct || ps.Flow != wantFlow {
				t.Errorf("status: state %q, account %q, flow %q; want ready, %s, %s", ps.State, ps.Account, ps.Flow, wantAcct, wantFlow)
			}
			if len(ps.Tokens) == 0 {
				t.Errorf("status lists no cached token for %s", name)
			}

			// kill -9 and start again: no new sign-in, and a real call to
			// Entra (access tokens are never stored).
			e.killDaemon()
			signIns, calls := interactiveGrants(e.entra), e.entra.TokenRequests()
			e.startDaemon()
			check(e.token("-p", name), databricksResource)
			if n := interactiveGrants(e.entra) - signIns; n != 0 {
				t.Errorf("after a restart the daemon made %d interactive grant requests, want 0", n)
			}
			if e.entra.TokenRequests() == calls {
				t.Errorf("after a restart the token came from no call to Entra: was an access token stored?")
			}
			if ps := e.profileStatus(name); ps.State != ipc.StateReady {
				t.Errorf("after a restart: state %q (%s), want ready", ps.State, ps.LastError)
			}

			// The checker sees what login stored, so an empty answer below means something.
			if left := keyringLeftovers(t, name); tc.stored && len(left) == 0 {
				t.Errorf("the keychain holds nothing of %s after its login", name)
			}
			if _, stderr, code := e.client("", "logout", "-p", name); code != 0 {
				t.Fatalf("logout: exit %d: %s", code, stderr)
			}
			if left := keyringLeftovers(t, name); len(left) > 0 {
				t.Errorf("after logout the keychain still holds %v", left)
			}
			if !tc.stored {
				return // the credential is a file or the environment: tokens keep coming
			}
			if _, stderr, code := e.client("", "token", "-p", name); code != 3 || !strings.Contains(stderr, "entra-helper login -p "+name) {
				t.Errorf("token after logout: exit %d, %q; want 3 naming the login command", code, stderr)
			}
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// storedRefreshToken reads the refresh token the daemon keeps for profile
// in the keychain (as the daemon would: MSAL's cache in
// profile/NAME/msal-cache).
func storedRefreshToken(t *testing.T, st store.Store, profile string) string {
	t.Helper()
	b, err := st.Get(context.Background(), source.Keys(profile)[2])
	if err != nil {
		t.Fatalf("reading the stored MSAL cache: %v", err)
	}
	var cache struct {
		AccessToken  map[string]json.RawMessage
		RefreshToken map[string]struct {
			Secret string `json:"secret"`
		}
	}
	if err := json.Unmarshal(b, &cache); err != nil {
		t.Fatalf("the stored MSAL cache is not JSON: %v", err)
	}
	if len(cache.AccessToken) > 0 {
		t.Errorf("the stored MSAL cache holds %d access tokens", len(cache.AccessToken))
	}
	if len(cache.RefreshToken) != 1 {
		t.Fatalf("the stored MSAL cache holds %d refresh tokens, want 1", len(cache.RefreshToken))
	}
	for _, rt := range cache.RefreshToken {
		return rt.Secret
	}
	return ""
}

// TestRefreshTokenRotationAcrossCrashes runs against an Entra whose refresh
// tokens are single use (the old one dies when a new one is issued), and
// kills the daemon with SIGKILL around a redemption:
//   - after a rotation completed: the new refresh token was stored before
//     the token was handed out, so a restart needs no sign-in;
//   - while the redemption is held at Entra (not yet answered): Entra did not
//     rotate, the stored token is still good, a restart needs no sign-in;
//   - after Entra rotated but before the answer reached the store (the
//     answer is lost): the stored token is dead. No client can avoid that
//     with single-use tokens; the guarantee is a clear exit 3 naming
//     `entra-helper login -p P` after one call to Entra, not a storm.
func TestRefreshTokenRotationAcrossCrashes(t *testing.T) {
	const name = "e2e-rotation"
	e := newEnvWith(t, entratest.Options{SingleUseRefreshTokens: true},
		profileTOML(name, "username-password", publicClientID, `username = "`+alice+`"`))
	e.entra.AddUser(entratest.User{Username: alice, Password: alicePassword})
	e.entra.AddApp(entratest.App{ClientID: publicClientID, Public: true})
	e.secrets = append(e.secrets, alicePassword)
	e.startDaemon()
	t.Cleanup(func() {
		if e.daemon != nil {
			e.client("", "logout", "-p", name)
		}
	})
	mustLogin(t, e, alicePassword, "-p", name, "--password-stdin")
	e.token("-p", name)
	signIns := interactiveGrants(e.entra)
	kr := store.NewKeyring(store.KeyringOptions{})

	// 1. A rotation completes (a new scope: one redemption), then SIGKILL.
	rotations := e.entra.TokenRequestsFor(entratest.GrantRefreshToken)
	before := storedRefreshToken(t, kr, name)
	e.token("-p", name, "--resource", managementRes)
	if n := e.entra.TokenRequestsFor(entratest.GrantRefreshToken) - rotations; n != 1 {
		t.Fatalf("a new scope made %d refresh-token redemptions, want 1", n)
	}
	if after := storedRefreshToken(t, kr, name); after == before {
		t.Fatal("the rotated refresh token was not stored before the token was handed out")
	}
	e.killDaemon()
	e.startDaemon()
	e.token("-p", name, "--resource", managementRes)
	e.token("-p", name)

	// 2. SIGKILL while the redemption waits at Entra.
	e.entra.SetLatency(time.Minute)
	held := tokenPathRequests(e.entra)
	processed := e.entra.TokenRequestsFor(entratest.GrantRefreshToken)
	c := e.startClient("", "token", "-p", name, "--scope", "https://graph.microsoft.com/.default")
	deadline := time.Now().Add(15 * time.Second)
	for tokenPathRequests(e.entra) == held {
		if time.Now().After(deadline) {
			t.Fatal("the daemon never sent the redemption")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.killDaemon()
	e.entra.SetLatency(0)
	if _, _, code := c.wait(e); code == 0 {
		t.Fatal("the token request whose daemon was killed succeeded")
	}
	if n := e.entra.TokenRequestsFor(entratest.GrantRefreshToken) - processed; n != 0 {
		t.Fatalf("Entra processed %d redemptions of the killed daemon, want 0", n)
	}
	e.startDaemon()
	e.token("-p", name, "--scope", "https://graph.microsoft.com/.default")
	if n := interactiveGrants(e.entra) - signIns; n != 0 {
		t.Fatalf("the crashes made %d interactive grant requests, want 0", n)
	}

	// 3. Entra rotated, the answer never reached the store: the redemption
	// is replayed here with the stored token, as if the daemon had sent it
	// and died before reading the answer.
	e.killDaemon()
	postToken(t, e.entra, url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {publicClientID},
		"refresh_token": {storedRefreshToken(t, kr, name)},
		"scope":         {databricksResource + "/.default offline_access openid profile"},
		"client_info":   {"1"},
	})
	rotations = e.entra.TokenRequestsFor(entratest.GrantRefreshToken)
	e.startDaemon()
	ps := e.waitState(name, ipc.StateNeedsLogin) // the start-up renewal fails
	if !strings.Contains(ps.LastError, "entra-helper login -p "+name) {
		t.Errorf("status last_error %q does not name the login command", ps.LastError)
	}
	assertNeedsLogin(t, e, name, "")
	if n := e.entra.TokenRequestsFor(entratest.GrantRefreshToken) - rotations; n != 1 {
		t.Errorf("a dead refresh token caused %d redemptions, want 1", n)
	}
	// A new sign-in repairs the profile.
	mustLogin(t, e, alicePassword, "-p", name, "--password-stdin")
	e.token("-p", name)
}

// assertNeedsLogin runs `token` a few times (default scopes, or resource)
// and wants exit 3 naming the login command each time.
func assertNeedsLogin(t *testing.T, e *env, name, resource string) {
	t.Helper()
	args := []string{"token", "-p", name}
	if resource != "" {
		args = append(args, "--resource", resource)
	}
	for range 3 {
		_, stderr, code := e.client("", args...)
		if code != 3 || !strings.Contains(stderr, "entra-helper login -p "+name) {
			t.Fatalf("%v: exit %d, %q; want 3 naming `entra-helper login -p %s`", args, code, stderr, name)
		}
	}
}

// TestDeadRefreshToken revokes or expires the user's refresh tokens at
// Entra: the still-valid access token keeps being served, a new scope gives
// exit 3 naming the login command after one call to Entra however often it
// is asked, and so does a restarted daemon.
func TestDeadRefreshToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(s *entratest.Server, user string)
	}{
		{"revoked", (*entratest.Server).RevokeRefreshTokens},
		{"expired", (*entratest.Server).ExpireRefreshTokens},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "e2e-dead-rt-" + tc.name
			e := newEnvWith(t, entratest.Options{AutoApproveDeviceCodes: true}, profileTOML(name, "device-code", publicClientID))
			e.addAlice()
			e.startDaemon()
			t.Cleanup(func() {
				if e.daemon != nil {
					e.client("", "logout", "-p", name)
				}
			})
			stderr := mustLogin(t, e, "", "-p", name)
			if !deviceCodeRE.MatchString(stderr) {
				t.Errorf("device-code login did not print Entra's message: %s", stderr)
			}
			e.token("-p", name)

			tc.kill(e.entra, alice)
			rotations := e.entra.TokenRequestsFor(entratest.GrantRefreshToken)
			e.token("-p", name) // still valid: served from memory
			assertNeedsLogin(t, e, name, managementRes)
			if n := e.entra.TokenRequestsFor(entratest.GrantRefreshToken) - rotations; n != 1 {
				t.Errorf("a dead refresh token and 3 requests caused %d redemptions, want 1", n)
			}

			e.killDaemon()
			rotations = e.entra.TokenRequestsFor(entratest.GrantRefreshToken)
			e.startDaemon()
			e.waitState(name, ipc.StateNeedsLogin)
			assertNeedsLogin(t, e, name, "")
			if n := e.entra.TokenRequestsFor(entratest.GrantRefreshToken) - rotations; n != 1 {
				t.Errorf("after a restart a dead refresh token caused %d redemptions, want 1", n)
			}
		})
	}
}
