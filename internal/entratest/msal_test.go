package entratest

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

func confidentialClient(t *testing.T, s *Server, authority, clientID string, cred confidential.Credential) confidential.Client {
	t.Helper()
	c, err := confidential.New(authority, clientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func publicClient(t *testing.T, s *Server) public.Client {
	t.Helper()
	c, err := public.New(testPublic, public.WithAuthority(s.Authority()),
		public.WithInstanceDiscovery(false), public.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfidentialSecret(t *testing.T) {
	s := newTestServer(t, Options{RefreshIn: 30 * time.Minute})
	cred, err := confidential.NewCredFromSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, authority := range []string{s.Authority(), s.URL() + "/organizations", strings.ToUpper(s.Authority())} {
		t.Run(authority, func(t *testing.T) {
			c := confidentialClient(t, s, authority, testClient, cred)
			res, err := c.AcquireTokenByCredential(context.Background(), databricksScope)
			if err != nil {
				t.Fatal(err)
			}
			claims, err := s.VerifyToken(res.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"aud": databricks, "iss": "https://sts.windows.net/" + s.Tenant() + "/", "tid": s.Tenant(),
				"appid": testClient, "appidacr": "1", "idtyp": "app", "ver": "1.0",
			}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if roles, _ := claims["roles"].([]any); len(roles) != 1 || roles[0] != "Reader" {
				t.Errorf("roles = %v", claims["roles"])
			}
			if life := time.Until(res.ExpiresOn); life < 55*time.Minute || life > time.Hour {
				t.Errorf("expires in %v, want about 1h", life)
			}
			if res.Metadata.RefreshOn.IsZero() {
				t.Error("refresh_in was not passed on")
			}
		})
	}
	if got := s.TokenRequestsFor(GrantClientCredentials); got != 3 {
		t.Errorf("client_credentials requests = %d, want 3", got)
	}
	if got := s.Requests("/" + s.Tenant() + "/v2.0/.well-known/openid-configuration"); got < 1 {
		t.Errorf("discovery requests = %d", got)
	}
	if got := s.Requests("/common/discovery/instance"); got != 0 {
		t.Errorf("instance discovery called %d times with discovery disabled", got)
	}
}

func TestConfidentialErrors(t *testing.T) {
	s := newTestServer(t, Options{})
	good, _ := confidential.NewCredFromSecret(testSecret)
	wrong, _ := confidential.NewCredFromSecret("not-the-secret")
	tests := []struct {
		name      string
		authority string
		client    string
		cred      confidential.Credential
		scopes    []string
		status    int
		code      string
		aadsts    int
	}{
		{"wrong secret", s.Authority(), testClient, wrong, databricksScope, 401, "invalid_client", 7000215},
		{"unknown client", s.Authority(), "11111111-2222-3333-4444-555555555555", good, databricksScope, 400, "unauthorized_client", 700016},
		{"unknown tenant", s.URL() + "/00000000-0000-0000-0000-000000000000", testClient, good, databricksScope, 400, "invalid_tenant", 90002},
		{"scope without .default", s.Authority(), testClient, good, []string{databricks + "/user_impersonation"}, 400, "invalid_scope", 1002012},
		{"two resources", s.Authority(), testClient, good, []string{databricks + "/.default", management + "/.default"}, 400, "invalid_scope", 28000},
		{"public app with secret", s.Authority(), testPublic, good, databricksScope, 401, "invalid_client", 700025},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := confidentialClient(t, s, tt.authority, tt.client, tt.cred)
			_, err := c.AcquireTokenByCredential(context.Background(), tt.scopes)
			if err == nil {
				t.Fatal("want an error")
			}
			status, _, e := entraFailure(t, err)
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
			checkShape(t, e, tt.code, tt.aadsts)
		})
	}
}

func TestConfidentialCertificate(t *testing.T) {
	s := newTestServer(t, Options{})
	cert, key := newClientCert(t)
	other, otherKey := newClientCert(t)
	const certApp = "c3c3c3c3-0000-4000-8000-000000000001"
	s.AddApp(App{ClientID: certApp, Certificate: cert})

	cred, err := confidential.NewCredFromCert([]*x509Cert{cert}, key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := confidentialClient(t, s, s.Authority(), certApp, cred).AcquireTokenByCredential(context.Background(), []string{management + "/.default"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := s.VerifyToken(res.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != management || claims["appidacr"] != "2" || claims["appid"] != certApp {
		t.Errorf("claims = %v", claims)
	}

	// A certificate the app does not have.
	cred2, _ := confidential.NewCredFromCert([]*x509Cert{other}, otherKey)
	_, err = confidentialClient(t, s, s.Authority(), certApp, cred2).AcquireTokenByCredential(context.Background(), databricksScope)
	status, _, e := entraFailure(t, err)
	if status != http.StatusUnauthorized {
		t.Errorf("status = %d", status)
	}
	checkShape(t, e, "invalid_client", 700027)

	// Hand-made assertions: the right thumbprint but another key's
	// signature, a wrong audience, an expired one.
	thumb := sha256.Sum256(cert.Raw)
	now := time.Now()
	tokenURL := s.Authority() + "/oauth2/v2.0/token"
	tests := []struct {
		name   string
		key    *rsa.PrivateKey
		aud    string
		exp    time.Time
		aadsts int
	}{
		{"valid RS256", key, tokenURL, now.Add(5 * time.Minute), 0},
		{"v1 token endpoint audience", key, s.Authority() + "/oauth2/token", now.Add(5 * time.Minute), 0},
		{"forged signature", otherKey, tokenURL, now.Add(5 * time.Minute), 700027},
		{"wrong audience", key, "https://example.invalid/token", now.Add(5 * time.Minute), 700023},
		{"expired", key, tokenURL, now.Add(-time.Hour), 700024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertion, err := signJWT(tt.key, map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(thumb[:])}, map[string]any{
				"aud": tt.aud, "iss": certApp, "sub": certApp, "jti": newUUID(),
				"nbf": now.Add(-time.Minute).Unix(), "exp": tt.exp.Unix(),
			})
			if err != nil {
				t.Fatal(err)
			}
			cred := confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
				return assertion, nil
			})
			_, err = confidentialClient(t, s, s.Authority(), certApp, cred).AcquireTokenByCredential(context.Background(), databricksScope)
			if tt.aadsts == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			status, _, e := entraFailure(t, err)
			if status != http.StatusUnauthorized {
				t.Errorf("status = %d", status)
			}
			checkShape(t, e, "invalid_client", tt.aadsts)
		})
	}
}

func TestFederated(t *testing.T) {
	s := newTestServer(t, Options{})
	const fedApp = "fedfed00-0000-4000-8000-000000000002"
	const subject = "system:serviceaccount:default:workload"
	s.AddApp(App{ClientID: fedApp, Federated: []FederatedCredential{{Issuer: s.FederatedIssuer(), Subject: subject}}})
	tests := []struct {
		name     string
		assert   func() string
		aadsts   int // 0: success
		wantCode string
	}{
		{"matching", func() string { return s.IssueFederatedToken(subject, "") }, 0, ""},
		{"wrong subject", func() string { return s.IssueFederatedToken("someone-else", "") }, 700213, "invalid_client"},
		{"wrong audience", func() string { return s.IssueFederatedToken(subject, "api://other") }, 700212, "invalid_client"},
		{"tampered", func() string {
			tok := s.IssueFederatedToken(subject, "")
			return tok[:len(tok)-4] + "AAAA"
		}, 700027, "invalid_client"},
		{"not a JWT", func() string { return "garbage" }, 50027, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred := confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
				return tt.assert(), nil
			})
			res, err := confidentialClient(t, s, s.Authority(), fedApp, cred).AcquireTokenByCredential(context.Background(), databricksScope)
			if tt.aadsts == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if c := claimsOf(t, res.AccessToken); c["appid"] != fedApp || c["aud"] != databricks {
					t.Errorf("claims = %v", c)
				}
				return
			}
			_, _, e := entraFailure(t, err)
			checkShape(t, e, tt.wantCode, tt.aadsts)
		})
	}
}

func TestPublicPasswordAndRefresh(t *testing.T) {
	s := newTestServer(t, Options{TokenLifetime: time.Minute}) // < 5 min: MSAL never serves these from its cache
	c := publicClient(t, s)
	ctx := context.Background()
	res, err := c.AcquireTokenByUsernamePassword(ctx, databricksScope, testUser, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if res.Account.PreferredUsername != testUser || res.Account.HomeAccountID == "" {
		t.Errorf("account = %+v", res.Account)
	}
	if res.IDToken.PreferredUsername != testUser || res.IDToken.TenantID != s.Tenant() {
		t.Errorf("id token = %+v", res.IDToken)
	}
	claims, err := s.VerifyToken(res.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"upn": testUser, "unique_name": testUser, "scp": "user_impersonation", "idtyp": "user", "appid": testPublic, "aud": databricks} {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if claims["oid"] != strings.Split(res.Account.HomeAccountID, ".")[0] {
		t.Errorf("oid %v does not match the home account %s", claims["oid"], res.Account.HomeAccountID)
	}
	accounts, err := c.Accounts(ctx)
	if err != nil || len(accounts) != 1 {
		t.Fatalf("accounts = %v, %v", accounts, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := c.AcquireTokenSilent(ctx, []string{management + "/.default"}, public.WithSilentAccount(accounts[0])); err != nil {
			t.Fatalf("silent %d: %v", i, err)
		}
	}
	if got := s.TokenRequestsFor(GrantRefreshToken); got != 2 {
		t.Errorf("refresh_token requests = %d, want 2", got)
	}

	s.RevokeRefreshTokens(testUser)
	_, err = c.AcquireTokenSilent(ctx, databricksScope, public.WithSilentAccount(accounts[0]))
	status, _, e := entraFailure(t, err)
	if status != http.StatusBadRequest {
		t.Errorf("status = %d", status)
	}
	checkShape(t, e, "invalid_grant", 50173)

	_, err = c.AcquireTokenByUsernamePassword(ctx, databricksScope, testUser, "wrong")
	status, _, e = entraFailure(t, err)
	if status != http.StatusBadRequest {
		t.Errorf("status = %d", status)
	}
	checkShape(t, e, "invalid_grant", 50126)
}

func TestDeviceCode(t *testing.T) {
	s := newTestServer(t, Options{})
	c := publicClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dc, err := c.AcquireTokenByDeviceCode(ctx, databricksScope)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dc.Result.Message, dc.Result.UserCode) || !strings.Contains(dc.Result.Message, dc.Result.VerificationURL) {
		t.Errorf("message = %q", dc.Result.Message)
	}
	// The person opens the verification page and enters the code.
	resp, err := s.Client().Get(dc.Result.VerificationURL + "?user_code=" + dc.Result.UserCode)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approval page status %d", resp.StatusCode)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Account.PreferredUsername != testUser {
		t.Errorf("account = %+v", res.Account)
	}
	if got := s.TokenRequestsFor(GrantDeviceCode); got < 1 {
		t.Errorf("device code token requests = %d", got)
	}
}

func TestFailTokensAndHeal(t *testing.T) {
	s := newTestServer(t, Options{})
	cred, _ := confidential.NewCredFromSecret(testSecret)
	tests := []struct {
		status int
		retry  time.Duration
		code   string
		aadsts int
		header string
	}{
		{503, 20 * time.Second, "temporarily_unavailable", 90033, "20"},
		{429, 1500 * time.Millisecond, "temporarily_unavailable", 90055, "2"},
		{500, 0, "server_error", 50000, ""},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			s.FailTokens(tt.status, tt.retry)
			before := s.TokenRequests()
			c := confidentialClient(t, s, s.Authority(), testClient, cred)
			_, err := c.AcquireTokenByCredential(context.Background(), databricksScope)
			status, h, e := entraFailure(t, err)
			if status != tt.status {
				t.Errorf("status = %d", status)
			}
			if got := h.Get("Retry-After"); got != tt.header {
				t.Errorf("Retry-After = %q, want %q", got, tt.header)
			}
			checkShape(t, e, tt.code, tt.aadsts)
			if s.TokenRequests() != before+1 {
				t.Errorf("token requests %d -> %d", before, s.TokenRequests())
			}
			s.Heal()
			if _, err := c.AcquireTokenByCredential(context.Background(), databricksScope); err != nil {
				t.Errorf("after Heal: %v", err)
			}
		})
	}
}

// x509Cert keeps the MSAL calls above short.
type x509Cert = x509.Certificate

func TestLatencyHonoursCancel(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SetLatency(time.Hour)
	cred, _ := confidential.NewCredFromSecret(testSecret)
	c := confidentialClient(t, s, s.Authority(), testClient, cred)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.AcquireTokenByCredential(ctx, databricksScope); err == nil {
		t.Fatal("want an error from a cancelled request")
	}
	s.SetLatency(0)
	if _, err := c.AcquireTokenByCredential(context.Background(), databricksScope); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains([]int{1, 2}, s.TokenRequests()) {
		t.Errorf("token requests = %d", s.TokenRequests())
	}
}
