// Package entratest is a fake Microsoft Entra ID for tests and the demo.
//
// It serves, over TLS on 127.0.0.1 with its own throwaway CA, the endpoints
// MSAL Go uses (OpenID discovery, token, authorize, device code, user realm,
// JWKS, instance discovery) and answers like Entra, errors included: the
// same JSON error shape, AADSTS codes and HTTP statuses. Access tokens are
// RS256 JWTs shaped like Entra's v1 access tokens.
//
// MSAL must be pointed at it with instance discovery disabled:
//
//	srv := entratest.NewTB(t, entratest.Options{})
//	srv.AddApp(entratest.App{ClientID: id, Secret: "s3cret"})
//	cred, _ := confidential.NewCredFromSecret("s3cret")
//	c, _ := confidential.New(srv.URL()+"/"+srv.Tenant(), id, cred,
//		confidential.WithInstanceDiscovery(false),
//		confidential.WithHTTPClient(srv.Client()))
//
// Everything is in memory; only the standard library is used.
package entratest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultTenant is the tenant ID a Server uses when Options.Tenant is empty.
const DefaultTenant = "7c1f0e1d-5b3a-4c2e-9f6d-2a8b4e6c0d11"

// DefaultFederatedAudience is the audience Entra expects in workload
// identity federation assertions.
const DefaultFederatedAudience = "api://AzureADTokenExchange"

// GraphResource is the audience of tokens asked for with only OpenID scopes.
const GraphResource = "00000003-0000-0000-c000-000000000000"

// Options configures a Server. The zero value is usable.
type Options struct {
	// TokenLifetime is the lifetime of access and ID tokens (default 1h).
	TokenLifetime time.Duration
	// RefreshIn, if > 0, makes token responses carry refresh_in (seconds).
	RefreshIn time.Duration
	// Tenant is the tenant ID (default DefaultTenant).
	Tenant string
	// Domains are the tenant's verified domains (e.g. contoso.example): the
	// OpenID metadata and token endpoints answer under them as under the
	// tenant ID, with the tenant ID as issuer, as Entra does.
	Domains []string
	// SingleUseRefreshTokens makes a redeemed refresh token stop working
	// (every redemption issues a new one in any case).
	SingleUseRefreshTokens bool
	// RefreshTokenLifetime is how long a refresh token stays valid
	// unused (default 90 days); past it redemption fails with AADSTS700082.
	RefreshTokenLifetime time.Duration
	// DeviceCodeLifetime is how long a device code can be approved and
	// redeemed (default 15m); past it the token endpoint answers expired_token.
	DeviceCodeLifetime time.Duration
	// AutoApproveDeviceCodes approves every device code at once as the
	// app's DefaultUser (or the only user, if there is one).
	AutoApproveDeviceCodes bool
	// Admin serves the /_fake/ admin API (see AdminHandler) on the same
	// server, for tests that drive the fake as a separate process.
	Admin bool
	// Listen is the address to listen on (default "127.0.0.1:0").
	Listen string
}

// FederatedCredential is a federated identity credential of an App: the
// external token's issuer, subject and audience that Entra accepts as the
// app's client assertion.
type FederatedCredential struct {
	Issuer   string
	Subject  string
	Audience string // default DefaultFederatedAudience
}

// App is an application registration.
type App struct {
	ClientID string
	// Secret is the client secret; empty means none is registered.
	Secret string
	// Certificate verifies client assertions (RS256 or PS256 signed JWTs).
	Certificate *x509.Certificate
	// Public allows public client flows (username/password, device code,
	// auth code without a client credential); a public app must not
	// present a credential.
	Public bool
	// Federated lists the external tokens accepted as client assertions.
	Federated []FederatedCredential
	// DefaultUser signs in at the authorize endpoint when no login_hint is
	// given, and approves device codes with AutoApproveDeviceCodes.
	DefaultUser string
	// RedirectURIs are the registered redirect URIs. Loopback URIs
	// (http://localhost, http://127.0.0.1) match any port. Empty means any
	// loopback http URI is accepted.
	RedirectURIs []string
	// Roles go into app-only access tokens as the roles claim.
	Roles []string
	// ObjectID is the service principal's object ID (oid of app tokens);
	// derived from ClientID when empty.
	ObjectID string
	// DisplayName is shown in device code messages; default ClientID.
	DisplayName string
}

// User is a member of the tenant.
type User struct {
	Username string // UPN, e.g. alice@contoso.example
	Password string
	ObjectID string // derived from Username when empty
	Name     string // display name; derived from Username when empty
}

// Server is a running fake Entra ID. All methods are safe for concurrent use.
type Server struct {
	opts   Options
	tenant string
	url    string
	tlsm   *tlsMaterial
	keys   [2]*signingKey // [0] signs Entra tokens, [1] the external OIDC issuer's
	ln     net.Listener
	hs     *http.Server
	client *http.Client

	miLn  net.Listener
	miHS  *http.Server
	miURL string
	miHdr string

	mu          sync.Mutex
	lifetime    time.Duration
	latency     time.Duration
	failStatus  int
	failRetry   time.Duration
	apps        map[string]*App  // by client ID (lower case)
	users       map[string]*User // by username (lower case)
	codes       map[string]*authCode
	refresh     map[string]*refreshGrant
	devices     map[string]*deviceGrant // by device code
	userCodes   map[string]string       // user code -> device code
	interaction map[string]*apiError    // username -> what silent flows fail with
	tokenTotal  int
	tokenByType map[string]int
	byPath      map[string]int
}

// New starts a fake Entra ID listening with TLS on 127.0.0.1:0 (or
// opts.Listen). Close it when done.
func New(opts Options) (*Server, error) {
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Tenant == "" {
		opts.Tenant = DefaultTenant
	}
	if opts.RefreshTokenLifetime <= 0 {
		opts.RefreshTokenLifetime = 90 * 24 * time.Hour
	}
	if opts.DeviceCodeLifetime <= 0 {
		opts.DeviceCodeLifetime = 15 * time.Minute
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	keys, err := sharedKeys()
	if err != nil {
		return nil, fmt.Errorf("entratest: signing keys: %w", err)
	}
	tlsm, err := newTLSMaterial()
	if err != nil {
		return nil, fmt.Errorf("entratest: TLS certificates: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("entratest: listen: %w", err)
	}
	s := &Server{
		opts:        opts,
		tenant:      strings.ToLower(opts.Tenant),
		tlsm:        tlsm,
		keys:        keys,
		lifetime:    opts.TokenLifetime,
		apps:        map[string]*App{},
		users:       map[string]*User{},
		codes:       map[string]*authCode{},
		refresh:     map[string]*refreshGrant{},
		devices:     map[string]*deviceGrant{},
		userCodes:   map[string]string{},
		interaction: map[string]*apiError{},
		tokenByType: map[string]int{},
		byPath:      map[string]int{},
	}
	s.url = "https://" + ln.Addr().String()
	s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.ServerCertificate()}, MinVersion: tls.VersionTLS12})
	s.hs = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	pool := x509.NewCertPool()
	pool.AddCert(tlsm.caCert)
	s.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		Proxy:             nil,
		ForceAttemptHTTP2: true,
	}}
	if err := s.startManagedIdentity(); err != nil {
		_ = s.ln.Close()
		return nil, fmt.Errorf("entratest: managed identity listener: %w", err)
	}
	go func() { _ = s.hs.Serve(s.ln) }()
	return s, nil
}

// TB is the part of testing.TB that NewTB uses; a *testing.T or *testing.B
// is one. (An interface here keeps package testing out of the fake-entra
// binary and the demo.)
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// NewTB starts a Server and closes it when tb's test ends. It fails tb if
// the server cannot start.
func NewTB(tb TB, opts Options) *Server {
	tb.Helper()
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("entratest.New: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server (and the managed identity listener, if started).
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.hs.Shutdown(ctx)
	if s.miHS != nil {
		_ = s.miHS.Shutdown(ctx)
	}
	if t, ok := s.client.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// URL returns the authority host URL, "https://127.0.0.1:PORT". The MSAL
// authority is URL()+"/"+Tenant().
func (s *Server) URL() string { return s.url }

// Tenant returns the tenant ID, in lower case (MSAL lowercases authorities).
func (s *Server) Tenant() string { return s.tenant }

// Authority returns URL()+"/"+Tenant(), the authority to give MSAL.
func (s *Server) Authority() string { return s.url + "/" + s.tenant }

// CACertPEM returns the PEM of the CA that signed the server certificate.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.tlsm.caPEM...) }

// CACert returns the CA certificate.
func (s *Server) CACert() *x509.Certificate { return s.tlsm.caCert }

// WriteCAFile writes the CA PEM to path (0644), e.g. for SSL_CERT_FILE.
func (s *Server) WriteCAFile(path string) error {
	return os.WriteFile(path, s.tlsm.caPEM, 0o644)
}

// ServerCertificate is the fake's TLS certificate (127.0.0.1, ::1,
// localhost; signed by the CA of CACert) with its chain and key, for other
// loopback test servers that clients trusting the fake's CA must accept.
func (s *Server) ServerCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{s.tlsm.leafDER, s.tlsm.caCert.Raw}, PrivateKey: s.tlsm.leafKey}
}

// Client returns an HTTP client that trusts the server's CA.
func (s *Server) Client() *http.Client { return s.client }

// AddApp registers (or replaces) an application.
func (s *Server) AddApp(a App) {
	a.Federated = append([]FederatedCredential(nil), a.Federated...)
	for i := range a.Federated {
		if a.Federated[i].Audience == "" {
			a.Federated[i].Audience = DefaultFederatedAudience
		}
	}
	a.RedirectURIs = append([]string(nil), a.RedirectURIs...)
	a.Roles = append([]string(nil), a.Roles...)
	if a.ObjectID == "" {
		a.ObjectID = derivedUUID("sp:" + strings.ToLower(a.ClientID))
	}
	if a.DisplayName == "" {
		a.DisplayName = a.ClientID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[strings.ToLower(a.ClientID)] = &a
}

// AddUser adds (or replaces) a user of the tenant.
func (s *Server) AddUser(u User) {
	if u.ObjectID == "" {
		u.ObjectID = derivedUUID("user:" + strings.ToLower(u.Username))
	}
	if u.Name == "" {
		u.Name = u.Username
		if i := strings.IndexByte(u.Name, '@'); i > 0 {
			u.Name = u.Name[:i]
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[strings.ToLower(u.Username)] = &u
}

// FailTokens makes every token request (token, device code and managed
// identity endpoints) fail with status (429 or 5xx) in Entra's error shape,
// with a Retry-After header of retryAfter (whole seconds) when > 0, until
// Heal is called.
func (s *Server) FailTokens(status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failRetry = status, retryAfter
}

// Heal undoes FailTokens.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failRetry = 0, 0
}

// SetLatency delays every answer by d (0 turns it off). A request whose
// client gives up first gets no answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetTokenLifetime changes the lifetime of tokens issued from now on.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.lifetime = d
	}
}

// RevokeRefreshTokens revokes every refresh token issued to username (as a
// password reset or an admin's revocation does): later redemptions fail
// with invalid_grant AADSTS50173.
func (s *Server) RevokeRefreshTokens(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if strings.EqualFold(g.username, username) {
			g.revoked = true
		}
	}
}

// RequireConsent makes the non-interactive user flows (refresh token,
// password) of username fail with invalid_grant AADSTS65001, suberror
// consent_required, until the user signs in interactively (authorize
// endpoint or device code approval).
func (s *Server) RequireConsent(username string) {
	e := newErr(http.StatusBadRequest, "invalid_grant", 65001,
		"The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.")
	e.suberror = "consent_required"
	s.requireInteraction(username, e)
}

// RequireMFA makes the non-interactive user flows of username fail with
// invalid_grant AADSTS50076, suberror basic_action and a claims challenge,
// until the user signs in interactively.
func (s *Server) RequireMFA(username string) {
	e := newErr(http.StatusBadRequest, "invalid_grant", 50076,
		"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.")
	e.suberror = "basic_action"
	e.claims = `{"access_token":{"capolids":{"essential":true,"values":["entratest-mfa-policy"]}}}`
	s.requireInteraction(username, e)
}

func (s *Server) requireInteraction(username string, e *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interaction[strings.ToLower(username)] = e
}

// interactionNeeded returns the error silent flows of username fail with.
func (s *Server) interactionNeeded(username string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interaction[strings.ToLower(username)]
}

// ExpireRefreshTokens makes every refresh token issued to username expired
// for inactivity: later redemptions fail with invalid_grant AADSTS700082.
func (s *Server) ExpireRefreshTokens(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if strings.EqualFold(g.username, username) {
			g.expires = time.Now().Add(-time.Second)
		}
	}
}

// TokenRequests returns how many requests reached a token endpoint
// (including the managed identity endpoint), failed ones included.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenTotal
}

// TokenRequestsFor returns how many token requests had grant_type
// grantType ("client_credentials", "refresh_token", "password",
// "authorization_code", "device_code";
// "managed_identity" for the managed identity endpoint).
func (s *Server) TokenRequestsFor(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenByType[grantType]
}

// Requests returns how many requests had exactly this URL path.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPath[path]
}

// Stats is a snapshot of the request counters.
type Stats struct {
	TokenRequests int            `json:"token_requests"`
	ByGrantType   map[string]int `json:"by_grant_type"`
	ByPath        map[string]int `json:"by_path"`
}

// Stats returns a snapshot of all counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{TokenRequests: s.tokenTotal, ByGrantType: map[string]int{}, ByPath: map[string]int{}}
	for k, v := range s.tokenByType {
		st.ByGrantType[k] = v
	}
	for k, v := range s.byPath {
		st.ByPath[k] = v
	}
	return st
}

// SigningKeys returns the public keys of Entra tokens by kid (the same keys
// the JWKS endpoints serve).
func (s *Server) SigningKeys() map[string]*x509.Certificate {
	return map[string]*x509.Certificate{s.keys[0].kid: s.keys[0].cert}
}

// VerifyToken checks an access or ID token issued by this server (its
// RS256 signature with the kid it names, and that it has not expired) and
// returns its claims.
func (s *Server) VerifyToken(token string) (map[string]any, error) {
	p, err := parseJWT(token)
	if err != nil {
		return nil, err
	}
	if p.str("kid", true) != s.keys[0].kid || p.str("alg", true) != "RS256" {
		return nil, errors.New("entratest: token not signed by this server's key")
	}
	if err := p.verify(&s.keys[0].key.PublicKey); err != nil {
		return nil, fmt.Errorf("entratest: bad signature: %w", err)
	}
	if exp, ok := p.num("exp"); !ok || time.Unix(exp, 0).Before(time.Now()) {
		return nil, errors.New("entratest: token expired")
	}
	return p.Claims, nil
}

func (s *Server) app(clientID string) *App {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.apps[strings.ToLower(clientID)]; ok {
		cp := *a
		return &cp
	}
	return nil
}

func (s *Server) user(name string) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[strings.ToLower(name)]; ok {
		cp := *u
		return &cp
	}
	return nil
}

func (s *Server) tokenLifetime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lifetime
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// derivedUUID is a stable UUID for a name, so object IDs do not change
// across servers and restarts.
func derivedUUID(name string) string {
	sum := sha1Sum([]byte("entratest:" + name))
	var b [16]byte
	copy(b[:], sum)
	return formatUUID(b)
}

// randToken returns n random bytes, base64url encoded.
func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}
