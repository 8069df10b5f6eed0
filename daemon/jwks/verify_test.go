package jwks

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/clock"
)

const tid = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"

var (
	keysOnce sync.Once
	key1     *rsa.PrivateKey
	key2     *rsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if key1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if key2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key1, key2
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jsonPart(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return enc(b)
}

// sign makes a compact JWS of header and claims signed with key (RS256).
func sign(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	in := jsonPart(t, header) + "." + jsonPart(t, claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + enc(sig)
}

func jwkOf(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid + "-x5t",
		"n": enc(pub.N.Bytes()), "e": enc(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// fakeIdP serves discovery and a JWKS over TLS and counts fetches.
type fakeIdP struct {
	srv        *httptest.Server
	mu         sync.Mutex
	keys       []map[string]any
	jwksURI    string // overrides the advertised jwks_uri when set
	jwksBody   []byte // overrides the JWKS body when set
	discoHits  atomic.Int32
	jwksHits   atomic.Int32
	jwksStatus int
	jwksPath   atomic.Value // path of the last JWKS fetch
}

// lastJWKS returns the path the last JWKS was fetched from: it names the
// tenant Verify took from the issuer.
func (f *fakeIdP) lastJWKS() string {
	p, _ := f.jwksPath.Load().(string)
	return p
}

func newFakeIdP(t *testing.T, keys ...map[string]any) *fakeIdP {
	f := &fakeIdP{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.discoHits.Add(1)
		f.mu.Lock()
		uri := f.jwksURI
		f.mu.Unlock()
		if uri == "" {
			uri = f.srv.URL + "/" + r.PathValue("tenant") + "/discovery/v2.0/keys"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":   f.srv.URL + "/" + r.PathValue("tenant") + "/v2.0",
			"jwks_uri": uri,
		})
	})
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		f.jwksPath.Store(r.URL.Path)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.jwksStatus != 0 {
			w.WriteHeader(f.jwksStatus)
			return
		}
		if f.jwksBody != nil {
			_, _ = w.Write(f.jwksBody)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": f.keys})
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) setKeys(keys ...map[string]any) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func newVerifier(f *fakeIdP, now time.Time) (*Verifier, *clock.Fake) {
	clk := clock.NewFake(now)
	v := NewVerifier(f.srv.Client())
	v.Clock = clk
	return v, clk
}

func TestVerify(t *testing.T) {
	k1, k2 := testKeys(t)
	f := newFakeIdP(t, jwkOf("k1", &k1.PublicKey), map[string]any{"kty": "EC", "kid": "ec"})
	now := time.Unix(1_700_000_000, 0)
	v2iss := f.srv.URL + "/" + tid + "/v2.0"
	v1iss := "https://sts.windows.net/" + tid + "/"
	rs := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}
	good := map[string]any{"iss": v2iss, "tid": tid, "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix()}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		token     string
		authority string
		wantErr   string
		sentinel  error
		check     func(t *testing.T, r *Result)
	}{
		{name: "v2 token", token: sign(t, k1, rs, good), check: func(t *testing.T, r *Result) {
			if r.KeyID != "k1" || r.Issuer != v2iss || r.Expired || r.NotYetValid || f.lastJWKS() != "/"+tid+"/discovery/v2.0/keys" {
				t.Errorf("result %+v, keys fetched from %s", r, f.lastJWKS())
			}
		}},
		{name: "v1 token", token: sign(t, k1, rs, with(good, "iss", v1iss)), check: func(t *testing.T, r *Result) {
			if f.lastJWKS() != "/"+tid+"/discovery/v2.0/keys" || r.Issuer != v1iss {
				t.Errorf("result %+v, keys fetched from %s", r, f.lastJWKS())
			}
		}},
		{name: "x5t only", token: sign(t, k1, map[string]any{"alg": "RS256", "x5t": "k1-x5t"}, good), check: func(t *testing.T, r *Result) {
			if r.KeyID != "k1-x5t" {
				t.Errorf("KeyID %q", r.KeyID)
			}
		}},
		{name: "authority with trailing slash", token: sign(t, k1, rs, good), authority: f.srv.URL + "/"},
		{name: "expired reported", token: sign(t, k1, rs, with(good, "exp", now.Add(-time.Second).Unix())), check: func(t *testing.T, r *Result) {
			if !r.Expired {
				t.Error("not Expired")
			}
		}},
		{name: "no exp is expired", token: sign(t, k1, rs, with(good, "exp", nil)), check: func(t *testing.T, r *Result) {
			if !r.Expired {
				t.Error("not Expired")
			}
		}},
		{name: "nbf in future reported", token: sign(t, k1, rs, with(good, "nbf", now.Add(time.Minute).Unix())), check: func(t *testing.T, r *Result) {
			if !r.NotYetValid {
				t.Error("not NotYetValid")
			}
		}},
		{name: "alg none", token: jsonPart(t, map[string]any{"alg": "none", "kid": "k1"}) + "." + jsonPart(t, good) + ".",
			wantErr: "signature does not verify: unsigned tokens (alg none) are refused", sentinel: ErrSignature},
		{name: "alg HS256", token: sign(t, k1, map[string]any{"alg": "HS256", "kid": "k1"}, good),
			wantErr: `signature does not verify: algorithm "HS256" is not supported (only RS256)`, sentinel: ErrSignature},
		{name: "no kid", token: sign(t, k1, map[string]any{"alg": "RS256"}, good),
			wantErr: "malformed token: the header names no key (kid or x5t)", sentinel: ErrMalformed},
		{name: "empty signature", token: jsonPart(t, rs) + "." + jsonPart(t, good) + ".",
			wantErr: "malformed token: the signature is missing or not base64url", sentinel: ErrMalformed},
		{name: "tampered payload", token: func() string {
			p := strings.Split(sign(t, k1, rs, good), ".")
			return p[0] + "." + jsonPart(t, with(good, "oid", "someone-else")) + "." + p[2]
		}(), wantErr: `signature does not verify with key "k1" of ` + f.srv.URL + "/" + tid + "/discovery/v2.0/keys", sentinel: ErrSignature},
		{name: "signed by another key", token: sign(t, k2, rs, good), sentinel: ErrSignature},
		{name: "graph nonce", token: sign(t, k2, with(rs, "nonce", "n"), good),
			wantErr: "signature does not verify: the token carries a nonce in its header (a Microsoft Graph token); only Graph can verify those", sentinel: ErrSignature},
		{name: "foreign issuer", token: sign(t, k1, rs, with(good, "iss", "https://evil.example/"+tid+"/v2.0")),
			wantErr: `the issuer "https://evil.example/` + tid + `/v2.0" is neither Entra ID nor the profile's authority ` + strings.TrimPrefix(f.srv.URL, "https://")},
		{name: "http issuer", token: sign(t, k1, rs, with(good, "iss", "http://sts.windows.net/"+tid+"/")),
			wantErr: `the issuer "http://sts.windows.net/` + tid + `/" is not an https URL`},
		{name: "no issuer", token: sign(t, k1, rs, with(good, "iss", nil)), wantErr: "malformed token: the token has no issuer (iss)", sentinel: ErrMalformed},
		{name: "issuer without tenant", token: sign(t, k1, rs, with(good, "iss", "https://sts.windows.net/")),
			wantErr: `the issuer "https://sts.windows.net/" names no tenant (want https://sts.windows.net/<tenant>/ or <authority>/<tenant>/v2.0)`},
		{name: "tid mismatch", token: sign(t, k1, rs, with(good, "tid", "other")),
			wantErr: `the token's tid "other" does not match its issuer "` + v2iss + `"`},
		{name: "http authority", token: sign(t, k1, rs, good), authority: "http://login.microsoftonline.com",
			wantErr: `the authority "http://login.microsoftonline.com" is not an https URL`},
		{name: "not a jwt", token: "abc", wantErr: "malformed token: not a JWT (a JWT has 3 parts separated by dots, this has 1)", sentinel: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newVerifier(f, now)
			auth := tc.authority
			if auth == "" {
				auth = f.srv.URL
			}
			res, err := v.Verify(context.Background(), tc.token, auth)
			if tc.wantErr != "" || tc.sentinel != nil {
				if err == nil {
					t.Fatalf("no error, want %q", tc.wantErr)
				}
				if tc.wantErr != "" && err.Error() != tc.wantErr {
					t.Errorf("err = %q\nwant  %q", err, tc.wantErr)
				}
				if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
					t.Errorf("err = %v, want errors.Is %v", err, tc.sentinel)
				}
				if strings.Contains(err.Error(), strings.Split(tc.token, ".")[0]+".") {
					t.Errorf("error quotes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

func TestVerifyCachingAndRotation(t *testing.T) {
	k1, k2 := testKeys(t)
	f := newFakeIdP(t, jwkOf("k1", &k1.PublicKey))
	now := time.Unix(1_700_000_000, 0)
	v, clk := newVerifier(f, now)
	claims := map[string]any{"iss": f.srv.URL + "/" + tid + "/v2.0", "exp": now.Add(time.Hour).Unix()}
	tok1 := sign(t, k1, map[string]any{"alg": "RS256", "kid": "k1"}, claims)
	tok2 := sign(t, k2, map[string]any{"alg": "RS256", "kid": "k2"}, claims)
	ctx := context.Background()
	hits := func(wantDisco, wantJWKS int32) {
		t.Helper()
		if d, j := f.discoHits.Load(), f.jwksHits.Load(); d != wantDisco || j != wantJWKS {
			t.Errorf("fetches: discovery %d, jwks %d; want %d, %d", d, j, wantDisco, wantJWKS)
		}
	}

	for i := 0; i < 3; i++ {
		if _, err := v.Verify(ctx, tok1, f.srv.URL); err != nil {
			t.Fatal(err)
		}
	}
	hits(1, 1) // cached

	// Unknown kid: one refetch, then a clear error.
	clk.Advance(time.Minute)
	if _, err := v.Verify(ctx, tok2, f.srv.URL); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), `key "k2" is not among the keys published at`) {
		t.Fatalf("err = %v", err)
	}
	hits(1, 2)
	// Again within MinRefetch: no new fetch.
	if _, err := v.Verify(ctx, tok2, f.srv.URL); !errors.Is(err, ErrSignature) {
		t.Fatalf("err = %v", err)
	}
	hits(1, 2)

	// The IdP rotates in k2: after MinRefetch the unknown kid triggers one refetch that finds it.
	f.setKeys(jwkOf("k1", &k1.PublicKey), jwkOf("k2", &k2.PublicKey))
	clk.Advance(DefaultMinRefetch)
	if res, err := v.Verify(ctx, tok2, f.srv.URL); err != nil || res.KeyID != "k2" {
		t.Fatalf("after rotation: %v, %+v", err, res)
	}
	hits(1, 3)

	// After CacheTTL everything is fetched again.
	clk.Advance(DefaultCacheTTL)
	if _, err := v.Verify(ctx, tok1, f.srv.URL); err != nil {
		t.Fatal(err)
	}
	hits(2, 4)
}

func TestVerifyFetchFailures(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		setup   func(f *fakeIdP)
		wantErr string
	}{
		{"jwks 500", func(f *fakeIdP) { f.jwksStatus = http.StatusInternalServerError }, "cannot fetch JWKS: 500 Internal Server Error"},
		{"jwks not json", func(f *fakeIdP) { f.jwksBody = []byte("<html>") }, "JWKS is not the expected JSON"},
		{"jwks too large", func(f *fakeIdP) { f.jwksBody = []byte(`{"keys":[],"x":"` + strings.Repeat("a", maxDocSize) + `"}`) }, "JWKS is larger than 1048576 bytes"},
		{"no usable key", func(f *fakeIdP) {
			f.keys = []map[string]any{{"kty": "RSA", "kid": "small", "n": enc([]byte{1, 2, 3}), "e": "AQAB"}}
		}, "the key set JWKS holds no usable RSA signing key"},
		{"http jwks_uri", func(f *fakeIdP) { f.jwksURI = "http://127.0.0.1/keys" }, "the discovery document DISCO has no https jwks_uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t, jwkOf("k1", &k1.PublicKey))
			tc.setup(f)
			v, _ := newVerifier(f, now)
			tok := sign(t, k1, map[string]any{"alg": "RS256", "kid": "k1"}, map[string]any{"iss": f.srv.URL + "/" + tid + "/v2.0"})
			_, err := v.Verify(context.Background(), tok, f.srv.URL)
			want := strings.NewReplacer("JWKS", f.srv.URL+"/"+tid+"/discovery/v2.0/keys",
				"DISCO", f.srv.URL+"/"+tid+"/v2.0/.well-known/openid-configuration").Replace(tc.wantErr)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to contain %q", err, want)
			}
		})
	}
}

func TestVerifyCanceled(t *testing.T) {
	k1, _ := testKeys(t)
	f := newFakeIdP(t, jwkOf("k1", &k1.PublicKey))
	v, _ := newVerifier(f, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok := sign(t, k1, map[string]any{"alg": "RS256", "kid": "k1"}, map[string]any{"iss": f.srv.URL + "/" + tid + "/v2.0"})
	if _, err := v.Verify(ctx, tok, f.srv.URL); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
