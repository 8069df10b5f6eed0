//go:build unix

package e2e

// git over HTTPS through `entra-helper credential`, with the real git: a
// smart-HTTP git server on loopback (git http-backend behind net/http/cgi,
// over TLS with the fake Entra's CA) that takes only a Basic password that
// is a valid fake-Entra token for the Azure DevOps resource.

import (
	"crypto/tls"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/entra-helper/entra-helper/internal/entratest"
)

const adoResource = "499b84ac-1321-427f-aa17-267ca6975798"

// gitServer is a smart-HTTP git server whose repositories live under root.
type gitServer struct {
	t     *testing.T
	entra *entratest.Server
	git   string
	root  string
	url   string

	mu         sync.Mutex
	revokeNext bool            // the next valid token is refused, then and ever after
	revoked    map[string]bool // tokens refused although valid
	accepted   []string        // every token let in, in order
	users      []string        // the username of every Basic attempt
}

func newGitServer(t *testing.T, entra *entratest.Server, root string) *gitServer {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	g := &gitServer{t: t, entra: entra, git: git, root: root, revoked: map[string]bool{}}
	ts := httptest.NewUnstartedServer(g)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{entra.ServerCertificate()}, MinVersion: tls.VersionTLS12}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	g.url = ts.URL
	return g
}

// ServeHTTP lets a request through to git http-backend only with a Basic
// password that is a token of the fake Entra (signature checked against its
// keys, not expired) for the Azure DevOps resource, and not revoked.
func (g *gitServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	valid := false
	if ok {
		claims, err := g.entra.VerifyToken(pass)
		valid = err == nil && claims["aud"] == adoResource
	}
	g.mu.Lock()
	if ok {
		g.users = append(g.users, user)
	}
	if valid && g.revokeNext {
		g.revokeNext = false
		g.revoked[pass] = true
	}
	if valid && !g.revoked[pass] {
		g.accepted = append(g.accepted, pass)
	} else {
		valid = false
	}
	g.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Basic realm="entra-helper test"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	h := &cgi.Handler{
		Path: g.git,
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1",
			"REMOTE_USER=" + user, "PATH=" + os.Getenv("PATH"),
		},
	}
	h.ServeHTTP(w, r)
}

func (g *gitServer) revokeNextToken() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revokeNext = true
}

func (g *gitServer) acceptedTokens() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.accepted...)
}

func (g *gitServer) lastUser() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.users) == 0 {
		return ""
	}
	return g.users[len(g.users)-1]
}

// git runs git in dir with the env's environment (its HOME, so its global
// config) and GIT_TRACE=1; its output is kept for the leak check.
func (e *env) git(dir string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), e.environ...),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=",
		"GIT_SSL_CAINFO="+filepath.Join(e.dir, "ca.pem"), "GIT_TRACE=1",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@contoso.example",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@contoso.example")
	out, errOut, code := runCmd(e.t, cmd, "")
	e.outputs = append(e.outputs, out, errOut)
	return out, errOut, code
}

func (e *env) mustGit(dir string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.git(dir, args...)
	if code != 0 {
		e.t.Fatalf("git %v: exit %d:\n%s", args, code, errOut)
	}
	return out
}

// bareRepo creates root/org/_git/repo with one commit, as Azure Repos lays
// out its URLs.
func (e *env) bareRepo(root, org string) string {
	e.t.Helper()
	bare := filepath.Join(root, org, "_git", "repo")
	e.mustGit(e.dir, "init", "-q", "--bare", bare)
	seed := filepath.Join(e.dir, "seed-"+org)
	e.mustGit(e.dir, "init", "-q", seed)
	if err := os.WriteFile(filepath.Join(seed, "README"), []byte("hello from "+org+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.mustGit(seed, "add", "README")
	e.mustGit(seed, "commit", "-q", "-m", "first")
	e.mustGit(seed, "push", "-q", bare, "HEAD:refs/heads/main")
	e.mustGit(bare, "symbolic-ref", "HEAD", "refs/heads/main")
	return bare
}

// entraRequests counts every request the fake Entra has had, on any path.
func entraRequests(s *entratest.Server) int {
	n := 0
	for _, c := range s.Stats().ByPath {
		n += c
	}
	return n
}

func TestGitThroughCredentialHelper(t *testing.T) {
	const (
		spName   = "e2e-git-sp"
		userName = "e2e-git-user"
		secret   = "e2e-git~ClientSecret.Value-0123456789abc"
	)
	e := newEnvWith(t, entratest.Options{AutoApproveDeviceCodes: true},
		profileTOML(spName, "client-secret", spClientID)+profileTOML(userName, "device-code", publicClientID))
	e.secrets = append(e.secrets, secret)
	e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: secret})
	e.addAlice()
	e.startDaemon()
	t.Cleanup(func() {
		if e.daemon != nil {
			e.client("", "logout", "-p", spName)
			e.client("", "logout", "-p", userName)
		}
	})
	if _, stderr, code := e.client(secret, "login", "-p", spName, "--secret-stdin"); code != 0 {
		t.Fatalf("login: exit %d: %s", code, stderr)
	}
	mustLogin(t, e, "", "-p", userName)

	home := filepath.Join(e.dir, "home")
	work := filepath.Join(e.dir, "work")
	root := filepath.Join(e.dir, "repos")
	for _, d := range []string{work, root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	srv := newGitServer(t, e.entra, root)
	// A global helper that would save passwords in plain text: the entries
	// git configure writes must keep it away from our URLs.
	e.mustGit(e.dir, "config", "--global", "credential.helper", "store")

	// Not subtests: the env's helpers fail the test they were made with.
	for _, tc := range []struct{ org, profile string }{{"contoso", spName}, {"users", userName}} {
		t.Logf("organisation %s, profile %s", tc.org, tc.profile)
		func() {
			bare := e.bareRepo(root, tc.org)
			orgURL := srv.url + "/" + tc.org
			if _, stderr, code := e.client("", "git", "configure", "-p", tc.profile, "--url", orgURL); code != 0 {
				t.Fatalf("git configure: exit %d: %s", code, stderr)
			}
			before := snapshotDir(t, home)
			idp := e.entra.TokenRequests()
			signIns := interactiveGrants(e.entra)

			clone := filepath.Join(work, tc.org)
			e.mustGit(work, "clone", "-q", orgURL+"/_git/repo", clone)
			if b, err := os.ReadFile(filepath.Join(clone, "README")); err != nil || !strings.Contains(string(b), tc.org) {
				t.Fatalf("the clone has no README: %v", err)
			}
			if n := e.entra.TokenRequests() - idp; n != 1 {
				t.Errorf("the first clone made %d token requests, want 1 (the profile's first git token)", n)
			}
			calls := entraRequests(e.entra)
			for range 10 {
				e.mustGit(clone, "fetch", "-q")
			}
			if n := entraRequests(e.entra) - calls; n != 0 {
				t.Errorf("ten fetches made %d requests to Entra, want 0", n)
			}
			if n := len(srv.acceptedTokens()); n == 0 {
				t.Fatal("the server let nothing in")
			}
			first := srv.acceptedTokens()[len(srv.acceptedTokens())-1]
			e.secrets = append(e.secrets, first)
			if user := srv.lastUser(); tc.profile == userName && user != alice || tc.profile == spName && user != spClientID {
				t.Errorf("git sent username %q", user)
			}

			// Push a commit.
			if err := os.WriteFile(filepath.Join(clone, "CHANGES"), []byte("pushed\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			e.mustGit(clone, "add", "CHANGES")
			e.mustGit(clone, "commit", "-q", "-m", "second")
			e.mustGit(clone, "push", "-q", "origin", "HEAD:main")
			if got := e.mustGit(bare, "log", "-1", "--format=%s", "main"); strings.TrimSpace(got) != "second" {
				t.Fatalf("the server's main is at %q after the push", got)
			}

			// The server refuses the token once: that git run fails and
			// erases it; the next one succeeds with a new token and no new
			// sign-in.
			srv.revokeNextToken()
			idp = e.entra.TokenRequests()
			_, stderr, code := e.git(clone, "fetch", "-q")
			if code == 0 || !strings.Contains(stderr, "credential -p "+tc.profile+" --url "+orgURL+" erase") {
				t.Fatalf("fetch with a refused token: exit %d; want a failure that ran the helper's erase:\n%s", code, stderr)
			}
			e.mustGit(clone, "fetch", "-q")
			second := srv.acceptedTokens()[len(srv.acceptedTokens())-1]
			e.secrets = append(e.secrets, second)
			if second == first {
				t.Fatal("git's next attempt got the refused token again")
			}
			if n := e.entra.TokenRequests() - idp; n != 1 {
				t.Errorf("after the erase: %d token requests, want 1", n)
			}
			if n := interactiveGrants(e.entra) - signIns; n != 0 {
				t.Errorf("%d new sign-ins, want none", n)
			}

			// Nothing was written under HOME: no plain-text store, no cache.
			if after := snapshotDir(t, home); !equalSnapshots(before, after) {
				t.Errorf("files under HOME changed while git used the helper")
			}
		}()
	}
	e.secrets = append(e.secrets, srv.acceptedTokens()...)

	// A host the helper is not configured for: it answers nothing, and git
	// asks the next helper.
	self := filepath.Join(binDir, "entra-helper")
	other := strings.Replace(srv.url, "127.0.0.1", "localhost", 1) + "/contoso/_git/repo"
	calls := entraRequests(e.entra)
	_, stderr, code := e.git(work, "-c", "credential.helper=",
		"-c", "credential.helper="+self+" credential -p "+spName+" --url "+srv.url+"/contoso",
		"-c", "credential.helper=!f() { echo username=next-helper; echo password=not-a-token; }; f",
		"ls-remote", other)
	if code == 0 || srv.lastUser() != "next-helper" {
		t.Fatalf("ls-remote %s: exit %d, last username %q; want the next helper's refused credential:\n%s", other, code, srv.lastUser(), stderr)
	}
	if n := entraRequests(e.entra) - calls; n != 0 {
		t.Errorf("an unconfigured host cost %d requests to Entra", n)
	}

	// --unset leaves the global config as it was before configure.
	for _, org := range []string{"contoso", "users"} {
		if _, stderr, code := e.client("", "git", "configure", "--url", srv.url+"/"+org, "--unset"); code != 0 {
			t.Fatalf("git configure --unset: exit %d: %s", code, stderr)
		}
	}
	if b, err := os.ReadFile(filepath.Join(home, ".gitconfig")); err != nil || string(b) != "[credential]\n\thelper = store\n" {
		t.Errorf("~/.gitconfig after --unset: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(home, ".git-credentials")); err == nil {
		t.Error("git's store helper saved a password")
	}
}
