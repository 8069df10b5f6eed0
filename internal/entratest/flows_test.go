package entratest

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// noRedirect is a client of s that does not follow redirects, like a test
// browser that wants to see where it is sent.
func noRedirect(s *Server) *http.Client {
	c := *s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func authorizeURL(s *Server, q url.Values) string {
	return s.Authority() + "/oauth2/v2.0/authorize?" + q.Encode()
}

func TestAuthorizeCodePKCE(t *testing.T) {
	s := newTestServer(t, Options{})
	const redirect = "http://localhost:53117/callback"
	verifier, challenge := pkcePair()
	q := url.Values{
		"client_id": {testPublic}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {databricks + "/.default openid offline_access profile"}, "state": {"st-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "login_hint": {testUser},
	}
	resp, err := noRedirect(s).Get(authorizeURL(s, q))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Fatalf("Location = %v (%v)", loc, err)
	}
	if loc.Query().Get("state") != "st-1" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect query = %v", loc.Query())
	}
	code := loc.Query().Get("code")

	c := publicClient(t, s)
	ctx := context.Background()
	// A wrong verifier burns the code, as Entra does.
	_, err = c.AcquireTokenByAuthCode(ctx, code, redirect, databricksScope, public.WithChallenge("wrong-verifier"))
	_, _, e := entraFailure(t, err)
	checkShape(t, e, "invalid_grant", 501481)
	_, err = c.AcquireTokenByAuthCode(ctx, code, redirect, databricksScope, public.WithChallenge(verifier))
	_, _, e = entraFailure(t, err)
	checkShape(t, e, "invalid_grant", 54005)

	// A fresh code with the right verifier.
	resp, err = noRedirect(s).Get(authorizeURL(s, q))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	res, err := c.AcquireTokenByAuthCode(ctx, loc.Query().Get("code"), redirect, databricksScope, public.WithChallenge(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if res.Account.PreferredUsername != testUser {
		t.Errorf("account = %+v", res.Account)
	}
	if got := s.TokenRequestsFor(GrantAuthorizationCode); got != 3 {
		t.Errorf("authorization_code requests = %d, want 3", got)
	}
}

var formInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)" />`)
var formAction = regexp.MustCompile(`<form method="POST" name="hiddenform" action="([^"]+)">`)

func TestAuthorizeFormPostAndDefaultUser(t *testing.T) {
	s := newTestServer(t, Options{})
	const redirect = "http://127.0.0.1:8400/"
	_, challenge := pkcePair()
	q := url.Values{
		"client_id": {testPublic}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"openid profile"}, "state": {"a&b<c"}, "response_mode": {"form_post"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	resp, err := noRedirect(s).Get(authorizeURL(s, q))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	m := formAction.FindSubmatch(body)
	if m == nil || string(m[1]) != redirect {
		t.Fatalf("no form to %s in %s", redirect, body)
	}
	fields := map[string]string{}
	for _, f := range formInput.FindAllSubmatch(body, -1) {
		fields[string(f[1])] = htmlUnescape(string(f[2]))
	}
	if fields["code"] == "" || fields["state"] != "a&b<c" {
		t.Errorf("fields = %v", fields)
	}
	s.mu.Lock()
	user := s.codes[fields["code"]].username
	s.mu.Unlock()
	if user != testUser {
		t.Errorf("signed-in user = %q, want the app's DefaultUser", user)
	}
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'").Replace(s)
}

func TestAuthorizeErrors(t *testing.T) {
	s := newTestServer(t, Options{})
	s.AddApp(App{ClientID: "ab000000-0000-4000-8000-000000000003", Public: true, RedirectURIs: []string{"https://app.example/cb"}})
	tests := []struct {
		name      string
		q         url.Values
		status    int
		aadsts    string // on the error page, or in the redirect
		redirectE string // error in the redirect (status 302)
	}{
		{"unknown client", url.Values{"client_id": {"12345678-0000-4000-8000-000000000000"}, "redirect_uri": {"http://localhost/"}, "response_type": {"code"}}, 400, "AADSTS700016", ""},
		{"redirect mismatch", url.Values{"client_id": {"ab000000-0000-4000-8000-000000000003"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}}, 400, "AADSTS50011", ""},
		{"non-loopback without registration", url.Values{"client_id": {testPublic}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"}}, 400, "AADSTS50011", ""},
		{"unknown login_hint", url.Values{"client_id": {testPublic}, "redirect_uri": {"http://localhost:1/"}, "response_type": {"code"}, "login_hint": {"bob@contoso.example"}}, 302, "AADSTS50034", "invalid_request"},
		{"token response_type", url.Values{"client_id": {testPublic}, "redirect_uri": {"http://localhost:1/"}, "response_type": {"token"}}, 302, "AADSTS700054", "unsupported_response_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := noRedirect(s).Get(authorizeURL(s, tt.q))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.redirectE == "" {
				if !strings.Contains(string(body), tt.aadsts) {
					t.Errorf("page lacks %s: %s", tt.aadsts, body)
				}
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if loc.Query().Get("error") != tt.redirectE || !strings.HasPrefix(loc.Query().Get("error_description"), tt.aadsts+":") {
				t.Errorf("redirect = %v", loc)
			}
		})
	}
}

// passwordGrant returns the refresh token of a password grant over plain HTTP.
func passwordGrant(t *testing.T, s *Server) string {
	t.Helper()
	status, m := postForm(t, s, "/"+s.Tenant()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"password"}, "client_id": {testPublic}, "username": {testUser}, "password": {testPassword},
		"scope": {databricks + "/.default offline_access openid profile"}, "client_info": {"1"},
	})
	if status != 200 {
		t.Fatalf("password grant: %d %v", status, m)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token", "client_info", "scope", "expires_in", "ext_expires_in", "token_type"} {
		if m[k] == nil {
			t.Errorf("response lacks %s", k)
		}
	}
	ci, err := b64.DecodeString(m["client_info"].(string))
	if err != nil || !strings.Contains(string(ci), `"utid":"`+s.Tenant()+`"`) {
		t.Errorf("client_info = %s (%v)", ci, err)
	}
	return m["refresh_token"].(string)
}

func redeem(t *testing.T, s *Server, rt string) (int, map[string]any) {
	t.Helper()
	return postForm(t, s, "/organizations/oauth2/v2.0/token", url.Values{
		"grant_type": {"refresh_token"}, "client_id": {testPublic}, "refresh_token": {rt},
		"scope": {management + "/.default offline_access"},
	})
}

func TestRefreshTokenRotation(t *testing.T) {
	tests := []struct {
		name       string
		singleUse  bool
		reuseOK    bool
		reuseError int
	}{
		{"reusable", false, true, 0},
		{"single use", true, false, 70000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{SingleUseRefreshTokens: tt.singleUse})
			rt := passwordGrant(t, s)
			status, m := redeem(t, s, rt)
			if status != 200 {
				t.Fatalf("redeem: %d %v", status, m)
			}
			next, _ := m["refresh_token"].(string)
			if next == "" || next == rt {
				t.Fatalf("no rotated refresh token")
			}
			if aud := claimsOf(t, m["access_token"].(string))["aud"]; aud != management {
				t.Errorf("aud = %v", aud)
			}
			status, m = redeem(t, s, rt)
			if tt.reuseOK != (status == 200) || (!tt.reuseOK && errCode(m) != tt.reuseError) {
				t.Errorf("reuse: %d %v", status, m)
			}
			if status, m := redeem(t, s, next); status != 200 {
				t.Errorf("rotated token: %d %v", status, m)
			}
		})
	}
}

func TestRefreshTokenFailures(t *testing.T) {
	tests := []struct {
		name     string
		break_   func(s *Server)
		aadsts   int
		suberror string
		claims   bool
	}{
		{"revoked", func(s *Server) { s.RevokeRefreshTokens(testUser) }, 50173, "bad_token", false},
		{"expired", func(s *Server) { s.ExpireRefreshTokens(testUser) }, 700082, "bad_token", false},
		{"consent", func(s *Server) { s.RequireConsent(testUser) }, 65001, "consent_required", false},
		{"mfa", func(s *Server) { s.RequireMFA(testUser) }, 50076, "basic_action", true},
		{"other user revoked", func(s *Server) { s.RevokeRefreshTokens("bob@contoso.example") }, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			rt := passwordGrant(t, s)
			tt.break_(s)
			status, m := redeem(t, s, rt)
			if tt.aadsts == 0 {
				if status != 200 {
					t.Errorf("redeem: %d %v", status, m)
				}
				return
			}
			if status != 400 || m["error"] != "invalid_grant" || errCode(m) != tt.aadsts || m["suberror"] != tt.suberror {
				t.Errorf("redeem: %d %v", status, m)
			}
			if _, has := m["claims"]; has != tt.claims {
				t.Errorf("claims present = %v, want %v", has, tt.claims)
			}
		})
	}
	s := newTestServer(t, Options{})
	if status, m := redeem(t, s, "1.not-a-token"); status != 400 || errCode(m) != 9002313 {
		t.Errorf("unknown token: %d %v", status, m)
	}
}

// TestInteractiveSignInSatisfiesConsent: after RequireConsent, an
// authorize round trip clears the requirement, as a real consent would.
func TestInteractiveSignInSatisfiesConsent(t *testing.T) {
	s := newTestServer(t, Options{})
	rt := passwordGrant(t, s)
	s.RequireConsent(testUser)
	if status, _ := redeem(t, s, rt); status != 400 {
		t.Fatalf("redeem before consent: %d", status)
	}
	resp, err := noRedirect(s).Get(authorizeURL(s, url.Values{
		"client_id": {testPublic}, "response_type": {"code"}, "redirect_uri": {"http://localhost:9/"}, "scope": {"openid"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if status, m := redeem(t, s, rt); status != 200 {
		t.Errorf("redeem after sign-in: %d %v", status, m)
	}
}

func TestDeviceCodePendingAndExpired(t *testing.T) {
	s := newTestServer(t, Options{})
	start := func() map[string]any {
		status, m := postForm(t, s, "/"+s.Tenant()+"/oauth2/v2.0/devicecode", url.Values{
			"client_id": {testPublic}, "scope": {databricks + "/.default offline_access openid profile"},
		})
		if status != 200 {
			t.Fatalf("devicecode: %d %v", status, m)
		}
		return m
	}
	poll := func(dc string) (int, map[string]any) {
		return postForm(t, s, "/"+s.Tenant()+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {testPublic}, "device_code": {dc},
		})
	}
	m := start()
	dc := m["device_code"].(string)
	if status, p := poll(dc); status != 400 || p["error"] != "authorization_pending" || errCode(p) != 70016 {
		t.Errorf("pending: %d %v", status, p)
	}
	if err := s.ApproveDeviceCode(m["user_code"].(string), "nobody@contoso.example"); err == nil {
		t.Error("approving as an unknown user worked")
	}
	if err := s.ApproveDeviceCode(m["user_code"].(string), testUser); err != nil {
		t.Fatal(err)
	}
	if status, p := poll(dc); status != 200 || p["refresh_token"] == nil {
		t.Errorf("approved: %d %v", status, p)
	}
	if status, p := poll(dc); status != 400 || errCode(p) != 54005 {
		t.Errorf("redeemed twice: %d %v", status, p)
	}

	m = start()
	dc = m["device_code"].(string)
	s.mu.Lock()
	s.devices[dc].expires = time.Now().Add(-time.Second)
	s.mu.Unlock()
	if status, p := poll(dc); status != 400 || p["error"] != "expired_token" || errCode(p) != 70019 {
		t.Errorf("expired: %d %v", status, p)
	}
	if status, p := postForm(t, s, "/"+s.Tenant()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {testClient}, "scope": {"openid"}}); status != 401 || errCode(p) != 7000218 {
		t.Errorf("confidential app without credential: %d %v", status, p)
	}
}

func TestAutoApproveDeviceCodes(t *testing.T) {
	s := newTestServer(t, Options{AutoApproveDeviceCodes: true})
	c := publicClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := c.AcquireTokenByDeviceCode(ctx, databricksScope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.AuthenticationResult(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestJWKSVerifies checks an issued token against the published JWKS only,
// as a resource server would.
func TestJWKSVerifies(t *testing.T) {
	s := newTestServer(t, Options{})
	status, m := postForm(t, s, "/"+s.Tenant()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {testClient}, "client_secret": {testSecret},
		"scope": {databricks + "/.default"},
	})
	if status != 200 {
		t.Fatalf("%d %v", status, m)
	}
	tok := m["access_token"].(string)
	if _, ok := m["refresh_token"]; ok {
		t.Error("client credentials must not return a refresh token")
	}
	for _, path := range []string{"/" + s.Tenant() + "/discovery/v2.0/keys", "/common/discovery/keys"} {
		resp, err := s.Client().Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []jwk }
		err = json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		p, err := parseJWT(tok)
		if err != nil {
			t.Fatal(err)
		}
		var verified bool
		for _, k := range set.Keys {
			if k.Kid != p.str("kid", true) {
				continue
			}
			n, _ := b64.DecodeString(k.N)
			e, _ := b64.DecodeString(k.E)
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			verified = p.verify(pub) == nil
		}
		if !verified {
			t.Errorf("%s: token not verified by the JWKS", path)
		}
	}
	if _, err := s.VerifyToken(tok[:len(tok)-3] + "abc"); err == nil {
		t.Error("VerifyToken accepted a tampered token")
	}
	if _, err := s.VerifyToken(s.IssueFederatedToken("x", "")); err == nil {
		t.Error("VerifyToken accepted a token of the external issuer")
	}
}

func TestDiscoveryDocuments(t *testing.T) {
	s := newTestServer(t, Options{})
	get := func(path string) (int, map[string]any) {
		resp, err := s.Client().Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, m := get("/" + s.Tenant() + "/v2.0/.well-known/openid-configuration")
	if status != 200 || m["issuer"] != s.URL()+"/"+s.Tenant()+"/v2.0" ||
		m["token_endpoint"] != s.Authority()+"/oauth2/v2.0/token" ||
		m["device_authorization_endpoint"] != s.Authority()+"/oauth2/v2.0/devicecode" ||
		m["jwks_uri"] != s.Authority()+"/discovery/v2.0/keys" {
		t.Errorf("openid-configuration = %d %v", status, m)
	}
	if status, m := get("/not-a-tenant/v2.0/.well-known/openid-configuration"); status != 400 || errCode(m) != 90002 {
		t.Errorf("unknown tenant: %d %v", status, m)
	}
	if status, m := get("/common/UserRealm/" + url.PathEscape(testUser) + "?api-version=1.0"); status != 200 || m["account_type"] != "Managed" {
		t.Errorf("userrealm: %d %v", status, m)
	}
	if _, m := get("/common/userrealm/someone@elsewhere.example"); m["account_type"] != "Unknown" {
		t.Errorf("userrealm of an unknown domain: %v", m)
	}
	ae := url.QueryEscape(s.Authority() + "/oauth2/v2.0/authorize")
	if status, m := get("/common/discovery/instance?api-version=1.1&authorization_endpoint=" + ae); status != 200 || m["tenant_discovery_endpoint"] == nil {
		t.Errorf("instance discovery: %d %v", status, m)
	}
	if status, m := get("/common/discovery/instance?api-version=1.1&authorization_endpoint=https://elsewhere.example/x/oauth2/v2.0/authorize"); status != 400 || m["error"] != "invalid_instance" {
		t.Errorf("instance discovery of a stranger: %d %v", status, m)
	}
	if status, m := get("/external/.well-known/openid-configuration"); status != 200 || m["issuer"] != s.FederatedIssuer() {
		t.Errorf("external issuer: %d %v", status, m)
	}
	if got := s.Requests("/" + s.Tenant() + "/v2.0/.well-known/openid-configuration"); got != 1 {
		t.Errorf("Requests = %d", got)
	}
}

func TestManagedIdentity(t *testing.T) {
	s := newTestServer(t, Options{})
	for k, v := range s.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
	if src, err := managedidentity.GetSource(); err != nil || src != managedidentity.AppService {
		t.Fatalf("source = %v, %v", src, err)
	}
	c, err := managedidentity.New(managedidentity.SystemAssigned(), managedidentity.WithRetryPolicyDisabled())
	if err != nil {
		t.Fatal(err)
	}
	// Resources unique to this test: MSAL's managed identity cache is global.
	res, err := c.AcquireToken(context.Background(), "api://entratest-mi-ok")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := s.VerifyToken(res.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != "api://entratest-mi-ok" || claims["appid"] != DefaultManagedIdentityClientID || claims["idtyp"] != "app" {
		t.Errorf("claims = %v", claims)
	}
	if got := s.TokenRequestsFor(GrantManagedIdentity); got != 1 {
		t.Errorf("managed identity requests = %d", got)
	}

	s.FailTokens(http.StatusServiceUnavailable, 0)
	_, err = c.AcquireToken(context.Background(), "api://entratest-mi-fail")
	status, _, _ := entraFailureMI(t, err)
	if status != http.StatusServiceUnavailable {
		t.Errorf("status = %d", status)
	}
	s.Heal()

	ua, err := managedidentity.New(managedidentity.UserAssignedClientID("99999999-0000-4000-8000-000000000000"), managedidentity.WithRetryPolicyDisabled())
	if err != nil {
		t.Fatal(err)
	}
	_, err = ua.AcquireToken(context.Background(), "api://entratest-mi-unknown")
	if status, _, _ := entraFailureMI(t, err); status != http.StatusBadRequest {
		t.Errorf("unknown user-assigned identity: %d", status)
	}
}

// entraFailureMI returns the status, headers and body of a managed
// identity CallErr (App Service errors are not in Entra's shape).
func entraFailureMI(t *testing.T, err error) (int, http.Header, []byte) {
	t.Helper()
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) {
		t.Fatalf("error is not an MSAL CallErr: %v", err)
	}
	body, _ := io.ReadAll(ce.Resp.Body)
	return ce.Resp.StatusCode, ce.Resp.Header, body
}

func TestCountersConcurrent(t *testing.T) {
	s := newTestServer(t, Options{})
	const n = 16
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.Client().PostForm(s.Authority()+"/oauth2/v2.0/token", url.Values{
				"grant_type": {"client_credentials"}, "client_id": {testClient}, "client_secret": {testSecret},
				"scope": {databricks + "/.default"},
			})
			if err == nil {
				resp.Body.Close()
			}
			_ = s.TokenRequests()
			_ = s.Stats()
		}()
	}
	wg.Wait()
	if s.TokenRequests() != n || s.TokenRequestsFor(GrantClientCredentials) != n || s.Requests("/"+s.Tenant()+"/oauth2/v2.0/token") != n {
		t.Errorf("counters = %+v", s.Stats())
	}
}
