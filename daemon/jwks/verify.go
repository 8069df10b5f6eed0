// Package jwks verifies the RS256 signature of Entra ID tokens against the
// keys their issuer publishes (OpenID discovery, then the JWKS document),
// keeping Entra's issuer and tenant rules. Decoding is the shared jwt
// package's; the signature check is golang-jwt's.
package jwks

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	golangjwt "github.com/golang-jwt/jwt/v5"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/jwt"
)

// Defaults of a Verifier.
const (
	DefaultCacheTTL   = time.Hour        // how long fetched keys are trusted
	DefaultMinRefetch = 30 * time.Second // least time between refetches for an unknown kid
	fetchTimeout      = 10 * time.Second
	maxDocSize        = 1 << 20 // discovery and JWKS documents
	minRSABits        = 2048
	maxRSABits        = 8192
)

// ErrSignature is wrapped when a token's signature does not verify.
var ErrSignature = errors.New("signature does not verify")

// ErrMalformed is wrapped by every error about a token's shape or encoding
// (the shared decoder's sentinel).
var ErrMalformed = jwt.ErrMalformed

// Result is what Verify learnt about a token whose signature is valid.
type Result struct {
	KeyID  string // kid (or x5t) of the key that signed it
	Issuer string // iss
	// Expired is true when exp is absent or has passed; NotYetValid when nbf
	// is in the future. Verify reports them but does not fail on them.
	Expired     bool
	NotYetValid bool
}

// Verifier checks RS256 signatures of Entra ID tokens. The zero value is not
// usable; call NewVerifier. It is safe for concurrent use and caches keys per
// JWKS URL, so keep one around.
type Verifier struct {
	client *http.Client

	// CacheTTL is how long fetched keys are used (DefaultCacheTTL).
	CacheTTL time.Duration
	// MinRefetch is the least time between two fetches of one JWKS URL
	// caused by an unknown kid (DefaultMinRefetch).
	MinRefetch time.Duration
	// Clock tells the time that decides cache ages and exp/nbf (clock.Real).
	Clock clock.Clock

	mu        sync.Mutex
	discovery map[string]cachedURL  // discovery URL -> jwks_uri
	keys      map[string]*cachedSet // jwks_uri -> keys
}

type cachedURL struct {
	url     string
	fetched time.Time
}

type cachedSet struct {
	keys    []jwk
	fetched time.Time
}

type jwk struct {
	kid, x5t string
	pub      *rsa.PublicKey
}

// NewVerifier returns a Verifier that fetches documents with client (which
// carries the daemon's proxy and CA settings); nil means a default client.
func NewVerifier(client *http.Client) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	return &Verifier{
		client:     client,
		CacheTTL:   DefaultCacheTTL,
		MinRefetch: DefaultMinRefetch,
		Clock:      clock.Real{},
		discovery:  map[string]cachedURL{},
		keys:       map[string]*cachedSet{},
	}
}

// Verify checks token's RS256 signature with the keys that authority (the
// profile's authority host, e.g. https://login.microsoftonline.com)
// publishes for the token's tenant: it fetches
// <authority>/<tenant>/v2.0/.well-known/openid-configuration, then its
// jwks_uri. The token's issuer must be https://sts.windows.net/<tenant>/,
// https://login.microsoftonline.com/<tenant>/v2.0 (or the sovereign clouds'
// equivalents) or lie on the authority's host. Verify does not fail on
// exp/nbf: it reports them in Result. Errors never quote the token.
func (v *Verifier) Verify(ctx context.Context, token, authority string) (*Result, error) {
	tok, err := jwt.Decode(token)
	if err != nil {
		return nil, err
	}
	alg := tok.HeaderString("alg")
	switch {
	case strings.EqualFold(alg, "none"):
		return nil, fmt.Errorf("%w: unsigned tokens (alg none) are refused", ErrSignature)
	case alg != "RS256":
		return nil, fmt.Errorf("%w: algorithm %q is not supported (only RS256)", ErrSignature, alg)
	}
	kid, x5t := tok.HeaderString("kid"), tok.HeaderString("x5t")
	if kid == "" && x5t == "" {
		return nil, fmt.Errorf("%w: the header names no key (kid or x5t)", ErrMalformed)
	}
	sig, err := tok.Signature()
	if err != nil {
		return nil, err
	}
	iss := tok.ClaimString("iss")
	authBase, err := authorityBase(authority)
	if err != nil {
		return nil, err
	}
	tenant, err := issuerTenant(iss, authBase)
	if err != nil {
		return nil, err
	}
	if tid := tok.ClaimString("tid"); tid != "" && !strings.EqualFold(tid, tenant) {
		return nil, fmt.Errorf("the token's tid %q does not match its issuer %q", tid, iss)
	}
	key, jwksURL, err := v.findKey(ctx, authBase, tenant, kid, x5t)
	if err != nil {
		return nil, err
	}
	if err := golangjwt.SigningMethodRS256.Verify(tok.SigningInput(), sig, key.pub); err != nil {
		if _, ok := tok.Header["nonce"]; ok {
			return nil, fmt.Errorf("%w: the token carries a nonce in its header (a Microsoft Graph token); only Graph can verify those", ErrSignature)
		}
		return nil, fmt.Errorf("%w with key %q of %s", ErrSignature, keyName(kid, x5t), jwksURL)
	}
	res := &Result{KeyID: keyName(kid, x5t), Issuer: iss}
	now := v.Clock.Now()
	exp, ok := tok.ClaimTime("exp")
	res.Expired = !ok || !now.Before(exp)
	if nbf, ok := tok.ClaimTime("nbf"); ok {
		res.NotYetValid = now.Before(nbf)
	}
	return res, nil
}

func keyName(kid, x5t string) string {
	if kid != "" {
		return kid
	}
	return x5t
}

// authorityBase validates the authority host URL and strips a trailing slash.
func authorityBase(authority string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(authority, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("the authority %q is not an https URL", authority)
	}
	return u, nil
}

// issuerTenant checks that iss is an Entra ID issuer (or one on the
// authority's host) and returns its tenant.
func issuerTenant(iss string, authority *url.URL) (string, error) {
	if iss == "" {
		return "", fmt.Errorf("%w: the token has no issuer (iss)", ErrMalformed)
	}
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("the issuer %q is not an https URL", iss)
	}
	host := strings.ToLower(u.Host)
	if !entra.IsEntraHost(host) && host != strings.ToLower(authority.Host) {
		return "", fmt.Errorf("the issuer %q is neither Entra ID nor the profile's authority %s", iss, authority.Host)
	}
	path := strings.TrimPrefix(u.Path, strings.TrimRight(authority.Path, "/"))
	if host != strings.ToLower(authority.Host) {
		path = u.Path
	}
	var tenant string
	switch {
	case strings.HasSuffix(path, "/v2.0"):
		tenant = strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/v2.0")
	case strings.HasSuffix(path, "/"):
		tenant = strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
	}
	if _, form := entra.ParseTenant(tenant); form != entra.TenantGUID && form != entra.TenantDomain {
		return "", fmt.Errorf("the issuer %q names no tenant (want https://sts.windows.net/<tenant>/ or <authority>/<tenant>/v2.0)", iss)
	}
	return tenant, nil
}

// findKey returns the key named kid/x5t published for tenant, refetching the
// JWKS once when the cached set does not hold it.
func (v *Verifier) findKey(ctx context.Context, authority *url.URL, tenant, kid, x5t string) (jwk, string, error) {
	disco := authority.String() + "/" + url.PathEscape(tenant) + "/v2.0/.well-known/openid-configuration"
	jwksURL, err := v.jwksURL(ctx, disco)
	if err != nil {
		return jwk{}, "", err
	}
	set, fresh, err := v.keySet(ctx, jwksURL, false)
	if err != nil {
		return jwk{}, "", err
	}
	if k, ok := set.find(kid, x5t); ok {
		return k, jwksURL, nil
	}
	if !fresh {
		if set, _, err = v.keySet(ctx, jwksURL, true); err != nil {
			return jwk{}, "", err
		}
		if k, ok := set.find(kid, x5t); ok {
			return k, jwksURL, nil
		}
	}
	return jwk{}, "", fmt.Errorf("%w: key %q is not among the keys published at %s", ErrSignature, keyName(kid, x5t), jwksURL)
}

func (s *cachedSet) find(kid, x5t string) (jwk, bool) {
	for _, k := range s.keys {
		if kid != "" && k.kid == kid || kid == "" && x5t != "" && k.x5t == x5t {
			return k, true
		}
	}
	return jwk{}, false
}

// jwksURL returns the jwks_uri of the discovery document at disco.
func (v *Verifier) jwksURL(ctx context.Context, disco string) (string, error) {
	now := v.Clock.Now()
	v.mu.Lock()
	c, ok := v.discovery[disco]
	v.mu.Unlock()
	if ok && now.Sub(c.fetched) < v.CacheTTL {
		return c.url, nil
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, disco, &doc); err != nil {
		return "", err
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("the discovery document %s has no https jwks_uri", disco)
	}
	v.mu.Lock()
	v.discovery[disco] = cachedURL{url: doc.JWKSURI, fetched: now}
	v.mu.Unlock()
	return doc.JWKSURI, nil
}

// keySet returns the keys at jwksURL from the cache or the network. fresh
// tells whether they were just fetched. With refetch, a cached set older
// than MinRefetch is fetched again.
func (v *Verifier) keySet(ctx context.Context, jwksURL string, refetch bool) (*cachedSet, bool, error) {
	now := v.Clock.Now()
	v.mu.Lock()
	c := v.keys[jwksURL]
	v.mu.Unlock()
	if c != nil {
		age := now.Sub(c.fetched)
		if !refetch && age < v.CacheTTL || refetch && age < v.MinRefetch {
			return c, false, nil
		}
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, jwksURL, &doc); err != nil {
		return nil, false, err
	}
	set := &cachedSet{fetched: now}
	for _, raw := range doc.Keys {
		if k, ok := parseJWK(raw); ok {
			set.keys = append(set.keys, k)
		}
	}
	if len(set.keys) == 0 {
		return nil, false, fmt.Errorf("the key set %s holds no usable RSA signing key", jwksURL)
	}
	v.mu.Lock()
	v.keys[jwksURL] = set
	v.mu.Unlock()
	return set, true, nil
}

// parseJWK returns an RSA signing key, or false for keys of other kinds.
func parseJWK(raw json.RawMessage) (jwk, bool) {
	var k struct {
		Kty, Use, Alg, Kid, X5t, N, E string
	}
	if json.Unmarshal(raw, &k) != nil || k.Kty != "RSA" || k.Use != "" && k.Use != "sig" || k.Alg != "" && k.Alg != "RS256" {
		return jwk{}, false
	}
	nb, err1 := jwt.Base64URL(k.N)
	eb, err2 := jwt.Base64URL(k.E)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
		return jwk{}, false
	}
	n := new(big.Int).SetBytes(nb)
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return jwk{}, false
	}
	e := new(big.Int).SetBytes(eb).Int64()
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return jwk{}, false
	}
	return jwk{kid: k.Kid, x5t: k.X5t, pub: &rsa.PublicKey{N: n, E: int(e)}}, true
}

// getJSON GETs an https URL with a bounded body and decodes it into out.
func (v *Verifier) getJSON(ctx context.Context, rawURL string, out any) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" {
		return fmt.Errorf("refusing to fetch %s: not https", rawURL)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("cannot fetch %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot fetch %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.Request != nil && resp.Request.URL.Scheme != "https" {
		return fmt.Errorf("refusing %s: redirected away from https", rawURL)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cannot fetch %s: %s", rawURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocSize+1))
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", rawURL, err)
	}
	if len(body) > maxDocSize {
		return fmt.Errorf("%s is larger than %d bytes", rawURL, maxDocSize)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s is not the expected JSON: %w", rawURL, err)
	}
	return nil
}
