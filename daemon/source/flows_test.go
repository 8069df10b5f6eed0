package source

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/store"
)

const (
	testClientID = "3f0c5a8e-1b2d-4c6e-8a9f-0b1c2d3e4f50"
	testUser     = "alice@contoso.example"
	testPassword = "correct horse battery staple"
	testSecret   = "s3cret~Value.of-the-secret"
	mgmtScope    = "https://management.core.windows.net/.default"
)

var dbScopes = []string{config.DatabricksScope}

// fixture is a fake Entra, a store and a profile config over them.
type fixture struct {
	t   *testing.T
	srv *entratest.Server
	st  *store.Memory
	p   *config.Profile
}

func newFixture(t *testing.T, opts entratest.Options, flow string) *fixture {
	t.Helper()
	srv := entratest.NewTB(t, opts)
	srv.AddUser(entratest.User{Username: testUser, Password: testPassword})
	return &fixture{t: t, srv: srv, st: store.NewMemory(), p: &config.Profile{
		Name: "prod", Flow: flow, Tenant: srv.Tenant(), ClientID: testClientID,
		AuthorityHost: srv.URL(), Scopes: dbScopes, Username: testUser,
	}}
}

// profile starts a Profile over the fixture's store, as a (re)started daemon would.
func (f *fixture) profile(opts Options) tokensource.Profile {
	f.t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = f.srv.Client()
	}
	p, err := New(f.p, f.st, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) acquire(p tokensource.Profile, scopes ...string) tokensource.Token {
	f.t.Helper()
	if len(scopes) == 0 {
		scopes = dbScopes
	}
	tok, err := p.Acquire(context.Background(), scopes)
	if err != nil {
		f.t.Fatalf("Acquire: %v", err)
	}
	claims, err := f.srv.VerifyToken(tok.Value.Reveal())
	if err != nil {
		f.t.Fatalf("token does not verify: %v", err)
	}
	if tok.Tenant != f.srv.Tenant() || claims["tid"] != f.srv.Tenant() {
		f.t.Errorf("tenant = %q, claims tid = %v, want %s", tok.Tenant, claims["tid"], f.srv.Tenant())
	}
	if !tok.ExpiresOn.After(time.Now().Add(30 * time.Minute)) {
		f.t.Errorf("ExpiresOn = %v", tok.ExpiresOn)
	}
	return tok
}

// wantKind checks that err is an *tokensource.Error of kind whose message holds every want.
func wantKind(t *testing.T, err error, kind tokensource.Kind, want ...string) *tokensource.Error {
	t.Helper()
	var ae *tokensource.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *tokensource.Error", err, err)
	}
	if ae.Kind != kind {
		t.Fatalf("kind = %v, want %v: %s", ae.Kind, kind, ae.Message)
	}
	for _, w := range want {
		if !strings.Contains(ae.Error(), w) {
			t.Errorf("message %q lacks %q", ae.Error(), w)
		}
	}
	return ae
}

// checkFailures covers what every flow must do when Entra fails.
func (f *fixture) checkFailures(p tokensource.Profile) {
	f.t.Helper()
	ctx := context.Background()
	f.srv.FailTokens(http.StatusServiceUnavailable, 0)
	_, err := p.Acquire(ctx, dbScopes)
	wantKind(f.t, err, tokensource.KindUnavailable, "prod")
	f.srv.FailTokens(http.StatusTooManyRequests, 7*time.Second)
	_, err = p.Acquire(ctx, dbScopes)
	if ae := wantKind(f.t, err, tokensource.KindUnavailable, "throttling"); ae.RetryAfter != 7*time.Second {
		f.t.Errorf("RetryAfter = %v, want 7s", ae.RetryAfter)
	}
	f.srv.Heal()
	f.acquire(p)
}

// checkLogout: Logout deletes every key; Acquire then needs a login.
func (f *fixture) checkLogout(p tokensource.Profile) {
	f.t.Helper()
	if err := p.Logout(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	if keys := f.st.Keys(); len(keys) != 0 {
		f.t.Errorf("keys left after logout: %v", keys)
	}
	_, err := p.Acquire(context.Background(), dbScopes)
	wantKind(f.t, err, tokensource.KindNeedsLogin, "entra-helper login -p prod")
	if _, ok := p.Account(context.Background()); ok && f.p.Flow != config.FlowClientCertificate && f.p.Flow != config.FlowFederated {
		f.t.Error("Account still known after logout")
	}
}

// assertNoSecretInStore checks the store never holds an access token.
func (f *fixture) assertNoAccessToken(tokens ...tokensource.Token) {
	f.t.Helper()
	for _, k := range f.st.Keys() {
		v, _ := f.st.Get(context.Background(), k)
		if strings.Contains(string(v), `"AccessToken"`) {
			f.t.Errorf("%s holds an AccessToken section", k)
		}
		for _, tok := range tokens {
			if strings.Contains(string(v), tok.Value.Reveal()) {
				f.t.Errorf("%s holds an access token", k)
			}
		}
	}
}

func TestClientSecretFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{RefreshIn: 30 * time.Minute}, config.FlowClientSecret)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Secret: testSecret})
	ctx := context.Background()
	p := f.profile(Options{})

	_, err := p.Acquire(ctx, dbScopes)
	wantKind(t, err, tokensource.KindNeedsLogin, "profile prod is not signed in", "--secret-stdin")
	if _, ok := p.Account(ctx); ok {
		t.Error("Account known before login")
	}

	// A wrong secret (here: a secret ID pasted) is refused and not stored.
	_, err = p.Login(ctx, tokensource.LoginInput{ClientSecret: secret.New("9a8b7c6d-0000-1111-2222-333344445555")}, nil)
	wantKind(t, err, tokensource.KindFailed, "client secret of profile prod is wrong", "not its Secret ID", "login -p prod --secret-stdin", "AADSTS7000215")
	if len(f.st.Keys()) != 0 {
		t.Fatalf("stored after a failed login: %v", f.st.Keys())
	}
	_, err = p.Login(ctx, tokensource.LoginInput{}, nil)
	wantKind(t, err, tokensource.KindUsage, "--secret-stdin")

	a, err := p.Login(ctx, tokensource.LoginInput{ClientSecret: secret.New(testSecret + "\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Tenant != f.srv.Tenant() || a.ObjectID == "" || a.Username != "" {
		t.Errorf("account = %+v", a)
	}
	if v, err := f.st.Get(ctx, "profile/prod/client-secret"); err != nil || string(v) != testSecret {
		t.Fatalf("stored secret = %q, %v", v, err)
	}

	// A wrong secret at a later login keeps the good one.
	_, err = p.Login(ctx, tokensource.LoginInput{ClientSecret: secret.New("wrong")}, nil)
	wantKind(t, err, tokensource.KindFailed, "client secret")
	if v, _ := f.st.Get(ctx, "profile/prod/client-secret"); string(v) != testSecret {
		t.Fatal("good secret replaced by a failed login")
	}

	before := f.srv.TokenRequestsFor(entratest.GrantClientCredentials)
	t1 := f.acquire(p)
	t2 := f.acquire(p)
	if got := f.srv.TokenRequestsFor(entratest.GrantClientCredentials) - before; got != 2 {
		t.Fatalf("2 acquisitions made %d token requests: MSAL answered from its cache", got)
	}
	if t1.Value.Reveal() == t2.Value.Reveal() {
		t.Error("the same access token twice")
	}
	if t1.RefreshIn < 29*time.Minute || t1.RefreshIn > 31*time.Minute {
		t.Errorf("RefreshIn = %v, want about 30m", t1.RefreshIn)
	}
	if len(t1.Scopes) != 1 || t1.Scopes[0] != config.DatabricksScope {
		t.Errorf("scopes = %v", t1.Scopes)
	}
	f.acquire(p, mgmtScope)

	// A restarted daemon reads the secret from the store.
	p2 := f.profile(Options{})
	f.acquire(p2)
	if a, ok := p2.Account(ctx); !ok || a.Tenant != f.srv.Tenant() {
		t.Errorf("Account after restart = %+v, %v", a, ok)
	}
	f.checkFailures(p2)
	f.assertNoAccessToken(t1, t2)
	f.checkLogout(p2)
}

// newCert makes a self-signed RSA certificate and its PEM bundle.
func newCert(t *testing.T, notAfter time.Time) (*x509.Certificate, []byte, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "entra-helper test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...)
	return cert, b, key
}

func TestClientCertificateFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{}, config.FlowClientCertificate)
	cert, bundle, _ := newCert(t, time.Now().Add(24*time.Hour))
	f.srv.AddApp(entratest.App{ClientID: testClientID, Certificate: cert})
	ctx := context.Background()

	// Stored with --certificate-stdin.
	p := f.profile(Options{})
	_, err := p.Acquire(ctx, dbScopes)
	wantKind(t, err, tokensource.KindNeedsLogin, "--certificate-stdin")
	other, otherBundle, _ := newCert(t, time.Now().Add(24*time.Hour))
	_ = other
	_, err = p.Login(ctx, tokensource.LoginInput{Certificate: secret.New(string(otherBundle))}, nil)
	wantKind(t, err, tokensource.KindFailed, "certificate of profile prod was not accepted")
	if len(f.st.Keys()) != 0 {
		t.Fatal("unaccepted certificate stored")
	}
	if _, err := p.Login(ctx, tokensource.LoginInput{Certificate: secret.New(string(bundle))}, nil); err != nil {
		t.Fatal(err)
	}
	before := f.srv.TokenRequests()
	f.acquire(p)
	f.acquire(p)
	if f.srv.TokenRequests()-before != 2 {
		t.Fatal("an acquisition was answered from MSAL's cache")
	}
	f.acquire(f.profile(Options{})) // restart
	f.checkFailures(p)
	f.checkLogout(p)

	// From a file named in the config.
	dir := t.TempDir()
	f.p.Certificate = filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(f.p.Certificate, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	p = f.profile(Options{})
	if _, err := p.Login(ctx, tokensource.LoginInput{}, nil); err != nil {
		t.Fatal(err)
	}
	f.acquire(p)
	_, err = p.Login(ctx, tokensource.LoginInput{Certificate: secret.New(string(bundle))}, nil)
	wantKind(t, err, tokensource.KindUsage, "remove certificate from the config")
	// A rotated file is picked up without a restart.
	if err := os.WriteFile(f.p.Certificate, otherBundle, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = p.Acquire(ctx, dbScopes)
	wantKind(t, err, tokensource.KindFailed, "not accepted")
	if err := os.WriteFile(f.p.Certificate, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	f.acquire(p)
}

func TestCertificateProblems(t *testing.T) {
	_, good, key := newCert(t, time.Now().Add(time.Hour))
	_, expired, _ := newCert(t, time.Now().Add(-time.Minute))
	certOnly := good[:strings.Index(string(good), "-----BEGIN PRIVATE KEY")]
	//lint:ignore SA1019 testing that legacy encrypted keys are refused.
	legacy, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), []byte("pw"), x509.PEMCipherAES256) //nolint:staticcheck
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pem, want string
	}{
		{"pkcs8 encrypted", string(certOnly) + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted private key"},
		{"legacy encrypted", string(certOnly) + string(pem.EncodeToMemory(legacy)), "encrypted private key"},
		{"ec key", string(certOnly) + "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n", "RSA"},
		{"no key", string(certOnly), "no private key"},
		{"not pem", "hello", "not PEM"},
		{"expired", string(expired), "expired on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := entratest.NewTB(t, entratest.Options{})
			p, err := New(&config.Profile{Name: "prod", Flow: config.FlowClientCertificate, Tenant: srv.Tenant(),
				ClientID: testClientID, AuthorityHost: srv.URL()}, store.NewMemory(), Options{HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Login(context.Background(), tokensource.LoginInput{Certificate: secret.New(tt.pem)}, nil)
			ae := wantKind(t, err, tokensource.KindFailed, "certificate of profile prod", tt.want)
			if srv.TokenRequests() != 0 {
				t.Error("a bad certificate reached Entra")
			}
			if strings.Contains(ae.Error(), "MIIB") {
				t.Error("key material in the message")
			}
		})
	}
}

func TestFederatedFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{}, config.FlowFederated)
	f.srv.AddApp(entratest.App{ClientID: testClientID,
		Federated: []entratest.FederatedCredential{{Issuer: f.srv.FederatedIssuer(), Subject: "repo:acme/app:ref:refs/heads/main"}}})
	f.p.FederatedTokenFile = filepath.Join(t.TempDir(), "token")
	ctx := context.Background()
	p := f.profile(Options{})

	_, err := p.Acquire(ctx, dbScopes)
	var missing *fs.PathError // the OS's own words for a missing file
	if _, serr := os.Stat(f.p.FederatedTokenFile); !errors.As(serr, &missing) {
		t.Fatalf("stat of the missing token file: %v", serr)
	}
	wantKind(t, err, tokensource.KindFailed, "cannot read the federated token file", f.p.FederatedTokenFile, missing.Err.Error())

	write := func(subject string) {
		if err := os.WriteFile(f.p.FederatedTokenFile, []byte(f.srv.IssueFederatedToken(subject, "")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("repo:acme/app:ref:refs/heads/main")
	if _, err := p.Login(ctx, tokensource.LoginInput{}, nil); err != nil {
		t.Fatal(err)
	}
	before := f.srv.TokenRequests()
	f.acquire(p)
	f.acquire(p)
	if f.srv.TokenRequests()-before != 2 {
		t.Fatal("an acquisition was answered from MSAL's cache")
	}
	// The file is read on every call.
	write("repo:acme/other:ref:refs/heads/main")
	_, err = p.Acquire(ctx, dbScopes)
	wantKind(t, err, tokensource.KindFailed, "federated token of profile prod was rejected")
	write("repo:acme/app:ref:refs/heads/main")
	f.acquire(p)
	f.checkFailures(p)
}

// browser plays the user's browser: it loads the sign-in page and submits
// Entra's answer (form_post, or a redirect) to MSAL's loopback listener.
func browser(t *testing.T, client *http.Client) func(string) error {
	inputRE := regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	actionRE := regexp.MustCompile(`action="([^"]+)"`)
	return func(authURL string) error {
		go func() {
			c := *client
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.Get(authURL)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var target string
			form := url.Values{}
			if loc := resp.Header.Get("Location"); loc != "" {
				u, _ := url.Parse(loc)
				form = u.Query()
				u.RawQuery = ""
				target = u.String()
			} else if m := actionRE.FindSubmatch(body); m != nil {
				target = html.UnescapeString(string(m[1]))
				for _, in := range inputRE.FindAllSubmatch(body, -1) {
					form.Set(string(in[1]), html.UnescapeString(string(in[2])))
				}
			} else {
				t.Errorf("browser: unexpected sign-in page (HTTP %d): %s", resp.StatusCode, body)
				return
			}
			r2, err := http.PostForm(target, form)
			if err != nil {
				t.Errorf("browser: posting to the loopback: %v", err)
				return
			}
			r2.Body.Close()
		}()
		return nil
	}
}

// checkUserProfile runs what every signed-in user profile must do.
func (f *fixture) checkUserProfile(p tokensource.Profile, a tokensource.Account) {
	t := f.t
	t.Helper()
	ctx := context.Background()
	if a.Username != testUser || a.ObjectID == "" || a.Tenant != f.srv.Tenant() {
		t.Errorf("login account = %+v", a)
	}
	if got, ok := p.Account(ctx); !ok || got.Username != testUser || got.ObjectID != a.ObjectID || got.Tenant != a.Tenant {
		t.Errorf("Account = %+v, %v; want %+v", got, ok, a)
	}
	before := f.srv.TokenRequestsFor(entratest.GrantRefreshToken)
	t1 := f.acquire(p)
	t2 := f.acquire(p)
	f.acquire(p, mgmtScope)
	if got := f.srv.TokenRequestsFor(entratest.GrantRefreshToken) - before; got != 3 {
		t.Fatalf("3 acquisitions made %d refresh token requests: MSAL answered from its cache", got)
	}
	claims, _ := f.srv.VerifyToken(t1.Value.Reveal())
	if claims["upn"] != testUser && claims["unique_name"] != testUser {
		t.Errorf("token claims = %v", claims)
	}
	f.assertNoAccessToken(t1, t2)

	// Restart: a new Profile over the same store needs no login.
	p2 := f.profile(Options{})
	f.acquire(p2)
	if got, ok := p2.Account(ctx); !ok || got.Username != testUser {
		t.Errorf("Account after restart = %+v, %v", got, ok)
	}
	f.checkFailures(p2)

	// Revoked refresh tokens: sign in again.
	f.srv.RevokeRefreshTokens(testUser)
	_, err := p2.Acquire(ctx, dbScopes)
	wantKind(t, err, tokensource.KindNeedsLogin, "sign in again: entra-helper login -p prod")
	f.checkLogout(p2)
}

func TestBrowserFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{SingleUseRefreshTokens: true}, config.FlowBrowser)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Public: true})
	ctx := context.Background()

	var opened []string
	var mu sync.Mutex
	open := browser(t, f.srv.Client())
	p := f.profile(Options{OpenBrowser: func(u string) error {
		mu.Lock()
		opened = append(opened, u)
		mu.Unlock()
		return open(u)
	}})
	_, err := p.Acquire(ctx, dbScopes)
	wantKind(t, err, tokensource.KindNeedsLogin, "profile prod is not signed in: run `entra-helper login -p prod`")

	var prompts []tokensource.Prompt
	a, err := p.Login(ctx, tokensource.LoginInput{}, func(pr tokensource.Prompt) { prompts = append(prompts, pr) })
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || len(prompts) != 1 || prompts[0].Kind != tokensource.PromptBrowserURL || prompts[0].URL != opened[0] {
		t.Fatalf("opened %v, prompts %+v", opened, prompts)
	}
	u, _ := url.Parse(opened[0])
	if !strings.HasPrefix(opened[0], f.srv.URL()+"/"+f.srv.Tenant()+"/oauth2/v2.0/authorize") ||
		u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("login_hint") != testUser {
		t.Errorf("sign-in URL %s", opened[0])
	}
	f.checkUserProfile(p, a)

	// --no-browser: the URL is only reported.
	opened = nil
	p = f.profile(Options{OpenBrowser: func(u string) error { opened = append(opened, u); return nil }})
	_, err = p.Login(ctx, tokensource.LoginInput{NoBrowser: true}, func(pr tokensource.Prompt) {
		if pr.Kind == tokensource.PromptBrowserURL {
			_ = open(pr.URL)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 0 {
		t.Errorf("browser opened with NoBrowser: %v", opened)
	}
	f.acquire(p)

	// A browser that cannot start is not fatal: the user opens the URL.
	p = f.profile(Options{OpenBrowser: func(string) error { return errors.New("no display") }})
	if _, err := p.Login(ctx, tokensource.LoginInput{}, func(pr tokensource.Prompt) { _ = open(pr.URL) }); err != nil {
		t.Fatal(err)
	}
}

var userCodeRE = regexp.MustCompile(`enter the code ([A-Z0-9]+)`)

func TestDeviceCodeFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{}, config.FlowDeviceCode)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Public: true})
	p := f.profile(Options{})
	var prompts []tokensource.Prompt
	a, err := p.Login(context.Background(), tokensource.LoginInput{}, func(pr tokensource.Prompt) {
		prompts = append(prompts, pr)
		m := userCodeRE.FindStringSubmatch(pr.Message)
		if m == nil {
			t.Errorf("no user code in %q", pr.Message)
			return
		}
		if err := f.srv.ApproveDeviceCode(m[1], testUser); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(prompts) != 1 || prompts[0].Kind != tokensource.PromptDeviceCode || prompts[0].URL == "" {
		t.Fatalf("prompts = %+v", prompts)
	}
	f.checkUserProfile(p, a)
}

func TestUsernamePasswordFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{}, config.FlowUsernamePassword)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Public: true})
	p := f.profile(Options{})
	ctx := context.Background()
	_, err := p.Login(ctx, tokensource.LoginInput{Password: secret.New("wrong")}, nil)
	wantKind(t, err, tokensource.KindFailed, "wrong username or password for profile prod", "AADSTS50126")
	_, err = p.Login(ctx, tokensource.LoginInput{}, nil)
	wantKind(t, err, tokensource.KindUsage, "--password-stdin")
	if len(f.st.Keys()) != 0 {
		t.Fatalf("stored after failed logins: %v", f.st.Keys())
	}
	a, err := p.Login(ctx, tokensource.LoginInput{Password: secret.New(testPassword)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range f.st.Keys() {
		v, _ := f.st.Get(ctx, k)
		if strings.Contains(string(v), testPassword) {
			t.Fatalf("password stored in %s", k)
		}
	}
	f.checkUserProfile(p, a)
}

// storedRefreshToken returns the refresh token in a profile's stored MSAL cache.
func storedRefreshToken(t *testing.T, st store.Store, name string) string {
	t.Helper()
	b, err := st.Get(context.Background(), keyMSALCache(name))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]map[string]map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, rt := range c[sectionRefreshToken] {
		return rt["secret"].(string)
	}
	t.Fatal("no refresh token stored")
	return ""
}

func TestRefreshTokenFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{SingleUseRefreshTokens: true}, config.FlowRefreshToken)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Public: true})
	ctx := context.Background()

	// Get a refresh token the way a user would bring one: from another tool.
	other := *f.p
	other.Name, other.Flow = "other", config.FlowUsernamePassword
	otherStore := store.NewMemory()
	op, err := New(&other, otherStore, Options{HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Login(ctx, tokensource.LoginInput{Password: secret.New(testPassword)}, nil); err != nil {
		t.Fatal(err)
	}
	rt := storedRefreshToken(t, otherStore, "other")

	p := f.profile(Options{})
	_, err = p.Login(ctx, tokensource.LoginInput{RefreshToken: secret.New("not-a-refresh-token")}, nil)
	wantKind(t, err, tokensource.KindNeedsLogin, "refresh token given for profile prod was refused", "--refresh-token-stdin")
	if len(f.st.Keys()) != 0 {
		t.Fatalf("stored after a failed import: %v", f.st.Keys())
	}
	a, err := p.Login(ctx, tokensource.LoginInput{RefreshToken: secret.New(rt + "\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := f.st.Get(ctx, keyMSALCache("prod"))
	if strings.Contains(string(blob), "import-") || strings.Contains(string(blob), rt) {
		t.Fatalf("the placeholder or the redeemed token stayed: %s", blob)
	}
	accts, _ := accountsInCache(blob)
	if len(accts) != 1 {
		t.Fatalf("accounts = %+v", accts)
	}
	// Single-use refresh tokens: each acquisition rotates it, and the
	// rotated token is stored before Acquire returns.
	f.acquire(p)
	rt1 := storedRefreshToken(t, f.st, "prod")
	f.acquire(p)
	if rt2 := storedRefreshToken(t, f.st, "prod"); rt2 == rt1 {
		t.Fatal("rotated refresh token not stored")
	}
	f.checkUserProfile(p, a)
}

func TestUserProfileConcurrentAcquire(t *testing.T) {
	f := newFixture(t, entratest.Options{SingleUseRefreshTokens: true}, config.FlowUsernamePassword)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Public: true})
	p := f.profile(Options{})
	if _, err := p.Login(context.Background(), tokensource.LoginInput{Password: secret.New(testPassword)}, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scope := config.DatabricksScope
			if i%2 == 1 {
				scope = mgmtScope
			}
			if _, err := p.Acquire(context.Background(), []string{scope}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Acquire: %v", err)
	}
	f.acquire(f.profile(Options{}))
}

func TestConfidentialConcurrentAcquire(t *testing.T) {
	f := newFixture(t, entratest.Options{}, config.FlowClientSecret)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Secret: testSecret})
	p := f.profile(Options{})
	if _, err := p.Login(context.Background(), tokensource.LoginInput{ClientSecret: secret.New(testSecret)}, nil); err != nil {
		t.Fatal(err)
	}
	before := f.srv.TokenRequests()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scope := config.DatabricksScope
			if i%2 == 1 {
				scope = mgmtScope
			}
			if _, err := p.Acquire(context.Background(), []string{scope}); err != nil {
				t.Errorf("concurrent Acquire: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := f.srv.TokenRequests() - before; got != 8 {
		t.Errorf("8 acquisitions made %d token requests", got)
	}
}

func TestManagedIdentityFlow(t *testing.T) {
	f := newFixture(t, entratest.Options{}, config.FlowManagedIdentity)
	for k, v := range f.srv.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
	f.p.ClientID = ""
	p := f.profile(Options{})
	ctx := context.Background()
	if a, ok := p.Account(ctx); !ok || a.Tenant != f.srv.Tenant() {
		t.Errorf("Account = %+v, %v", a, ok)
	}
	if _, err := p.Login(ctx, tokensource.LoginInput{}, nil); err != nil {
		t.Fatal(err)
	}
	before := f.srv.TokenRequestsFor(entratest.GrantManagedIdentity)
	f.acquire(p)
	f.acquire(p)
	if got := f.srv.TokenRequestsFor(entratest.GrantManagedIdentity) - before; got != 2 {
		t.Fatalf("2 acquisitions made %d managed identity requests", got)
	}
	_, err := p.Acquire(ctx, []string{config.DatabricksScope, mgmtScope})
	wantKind(t, err, tokensource.KindUsage, "exactly one scope")
	f.checkFailures(p)
	if len(f.st.Keys()) != 0 {
		t.Errorf("managed identity stored %v", f.st.Keys())
	}

	// A user-assigned identity must be known.
	f.p.ClientID = "0b0b0b0b-1111-2222-3333-444455556666"
	_, err = f.profile(Options{}).Acquire(ctx, dbScopes)
	if err == nil || tokensource.KindOf(err) == tokensource.KindUnavailable {
		t.Errorf("unknown user-assigned identity: %v", err)
	}
}

// TestNewRejectsBadProfiles: a missing tenant, client_id, username or
// federated_token_file and a plain-http authority are daemon/config's to
// refuse (TestLoadErrors in daemon/config); New refuses what it cannot
// dispatch.
func TestNewRejectsBadProfiles(t *testing.T) {
	st := store.NewMemory()
	tests := []struct {
		name string
		p    config.Profile
		want string
	}{
		{"authority not a URL", config.Profile{Name: "x", Flow: config.FlowBrowser, Tenant: "t", ClientID: "c", AuthorityHost: "https://[::1"}, "not a URL"},
		{"unknown flow", config.Profile{Name: "x", Flow: "magic", Tenant: "t", ClientID: "c"}, "magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.p, st, Options{})
			wantKind(t, err, tokensource.KindUsage, "profile x", tt.want)
		})
	}
	for _, flow := range []string{config.FlowClientSecret, config.FlowClientCertificate, config.FlowBrowser,
		config.FlowDeviceCode, config.FlowRefreshToken, config.FlowManagedIdentity} {
		if _, err := New(&config.Profile{Name: "ok", Flow: flow, Tenant: "t", ClientID: "c"}, st, Options{}); err != nil {
			t.Errorf("%s: %v", flow, err)
		}
	}
}

func TestAuthorityAndDiscovery(t *testing.T) {
	tests := []struct {
		p         config.Profile
		authority string
		discovery bool
	}{
		{config.Profile{Cloud: "public"}, "https://login.microsoftonline.com/t", true},
		{config.Profile{Cloud: "usgov"}, "https://login.microsoftonline.us/t", true},
		{config.Profile{Cloud: "china"}, "https://login.chinacloudapi.cn/t", true},
		{config.Profile{AuthorityHost: "https://login.example:8443/"}, "https://login.example:8443/t", false},
	}
	for _, tt := range tests {
		p := tt.p
		p.Name, p.Flow, p.Tenant, p.ClientID = "x", config.FlowBrowser, "t", "c"
		prof, err := New(&p, store.NewMemory(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		b := prof.(*userProfile).base
		if b.authority != tt.authority || b.discovery != tt.discovery {
			t.Errorf("%+v: authority %q discovery %v, want %q %v", tt.p, b.authority, b.discovery, tt.authority, tt.discovery)
		}
	}
}

func ExampleNew() {
	p := &config.Profile{Name: "prod", Flow: config.FlowClientSecret, Tenant: "contoso.example",
		ClientID: "12a34b56-789c-0d12-e3fa-b456789c0123", Scopes: []string{config.DatabricksScope}}
	prof, err := New(p, store.NewMemory(), Options{})
	if err != nil {
		panic(err)
	}
	_, err = prof.Acquire(context.Background(), p.Scopes)
	fmt.Println(err)
	// Output: profile prod is not signed in: run `entra-helper login -p prod --secret-stdin`
}

func TestUserProfileStoreFailure(t *testing.T) {
	f := newFixture(t, entratest.Options{SingleUseRefreshTokens: true}, config.FlowUsernamePassword)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Public: true})
	ctx := context.Background()
	p := f.profile(Options{})
	if _, err := p.Login(ctx, tokensource.LoginInput{Password: secret.New(testPassword)}, nil); err != nil {
		t.Fatal(err)
	}
	locked := errors.New("keychain is locked")
	f.st.FailWith(func(op, key string) error {
		if op == "set" {
			return locked
		}
		return nil
	})
	// The rotated refresh token cannot be stored: the caller hears of it.
	_, err := p.Acquire(ctx, dbScopes)
	wantKind(t, err, tokensource.KindFailed, "secret store failed to write the sign-in of profile prod")
	// The rotated token is kept in memory, so the profile still works, and
	// it reaches the store once the store works again.
	f.st.FailWith(nil)
	f.acquire(p)
	f.acquire(f.profile(Options{}))
}

func TestTwoInstancesShareRotation(t *testing.T) {
	// A config reload rebuilds a profile while the old instance may still
	// be used: both must follow the rotated refresh token in the store.
	f := newFixture(t, entratest.Options{SingleUseRefreshTokens: true}, config.FlowUsernamePassword)
	f.srv.AddApp(entratest.App{ClientID: testClientID, Public: true})
	p1 := f.profile(Options{})
	if _, err := p1.Login(context.Background(), tokensource.LoginInput{Password: secret.New(testPassword)}, nil); err != nil {
		t.Fatal(err)
	}
	p2 := f.profile(Options{})
	f.acquire(p2)
	f.acquire(p1)
	f.acquire(p2)
}

// BenchmarkConfidentialAcquire compares one long-lived MSAL client whose
// cache accessor keeps nothing (what the package does) with a fresh client
// per call; the metric requests/op counts HTTP calls to the fake Entra.
func BenchmarkConfidentialAcquire(b *testing.B) {
	srv := entratest.NewTB(b, entratest.Options{})
	srv.AddApp(entratest.App{ClientID: testClientID, Secret: testSecret})
	p := &config.Profile{Name: "bench", Flow: config.FlowClientSecret, Tenant: srv.Tenant(), ClientID: testClientID, AuthorityHost: srv.URL()}
	ctx := context.Background()
	requests := func() int {
		n := 0
		for _, v := range srv.Stats().ByPath {
			n += v
		}
		return n
	}
	b.Run("shared-client-nocache", func(b *testing.B) {
		st := store.NewMemory()
		prof, _ := New(p, st, Options{HTTPClient: srv.Client()})
		if _, err := prof.Login(ctx, tokensource.LoginInput{ClientSecret: secret.New(testSecret)}, nil); err != nil {
			b.Fatal(err)
		}
		before := requests()
		b.ResetTimer()
		for b.Loop() {
			if _, err := prof.Acquire(ctx, dbScopes); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(requests()-before)/float64(b.N), "requests/op")
	})
	b.Run("fresh-client-per-call", func(b *testing.B) {
		st := store.NewMemory()
		_ = st.Set(ctx, keySecret("bench"), []byte(testSecret))
		before := requests()
		b.ResetTimer()
		for b.Loop() {
			prof, _ := New(p, st, Options{HTTPClient: srv.Client()})
			if _, err := prof.Acquire(ctx, dbScopes); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(requests()-before)/float64(b.N), "requests/op")
	})
}
