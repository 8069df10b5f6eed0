package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/ipc"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/secret"
)

const (
	pathSecret = "s3cr3t-Path_Value-0123456789abcdef"
	fakeToken  = "eyFAKE.access.token-value"
	wsHost     = "https://adb-1234567890123456.7.azuredatabricks.net"
)

var now = time.Unix(1_700_000_000, 0)

type call struct {
	profile  string
	scopes   []string
	minValid time.Duration
}

// fakeTokens answers with tok or err and records its calls.
type fakeTokens struct {
	mu    sync.Mutex
	tok   tokensource.Token
	err   error
	calls []call
}

func (f *fakeTokens) Token(ctx context.Context, profile string, scopes []string, minValid time.Duration) (tokensource.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{profile, scopes, minValid})
	return f.tok, f.err
}

func newMetadata(tokens Tokens, log *zap.Logger) *Metadata {
	return &Metadata{
		Tokens: tokens,
		Secret: func() string { return pathSecret },
		Profiles: func(name string) (string, []string, bool) {
			switch name {
			case "prod":
				return wsHost, []string{"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"}, true
			case "nohost":
				return "", []string{"x/.default"}, true
			}
			return "", nil, false
		},
		MinValid: func() time.Duration { return 5 * time.Minute },
		Log:      log,
		Clock:    clock.NewFake(now),
	}
}

func goodToken() tokensource.Token {
	return tokensource.Token{Value: secret.New(fakeToken), ExpiresOn: now.Add(50 * time.Minute)}
}

func TestMetadata(t *testing.T) {
	okHeaders := map[string]string{VersionHeader: "1", HostHeader: wsHost}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range okHeaders {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	good := "/" + pathSecret + "/prod"
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		host       string
		headers    map[string]string
		tok        tokensource.Token
		tokErr     error
		authorize  error
		wantStatus int
		wantBody   string // substring
		wantCalls  int
		wantHeader map[string]string
	}{
		{name: "ok", path: good, headers: okHeaders, wantStatus: 200, wantCalls: 1,
			wantHeader: map[string]string{"Cache-Control": "no-store", "Content-Type": "application/json"}},
		{name: "ok host normalised", path: good, headers: with(HostHeader, "HTTPS://ADB-1234567890123456.7.AzureDatabricks.net:443/"), wantStatus: 200, wantCalls: 1},
		{name: "ok bare host header", path: good, headers: with(HostHeader, "adb-1234567890123456.7.azuredatabricks.net"), wantStatus: 200, wantCalls: 1},
		{name: "ok localhost", path: good, host: "localhost:8771", headers: okHeaders, wantStatus: 200, wantCalls: 1},
		{name: "ok ipv6 loopback", path: good, host: "[::1]:8771", headers: okHeaders, wantStatus: 200, wantCalls: 1},
		{name: "ok no port", path: good, host: "127.0.0.1", headers: okHeaders, wantStatus: 200, wantCalls: 1},
		{name: "ok query ignored", path: good + "?x=1", headers: okHeaders, wantStatus: 200, wantCalls: 1},

		{name: "wrong secret", path: "/wrong/prod", headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},
		{name: "secret prefix", path: "/" + pathSecret[:10] + "/prod", headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},
		{name: "secret longer", path: "/" + pathSecret + "x/prod", headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},
		{name: "wrong secret learns nothing: method", method: "POST", path: "/wrong/prod", host: "evil.example", wantStatus: 404, wantBody: notFoundBody},
		{name: "wrong secret learns nothing: authorize", path: "/wrong/prod", authorize: errors.New("uid 1001"), wantStatus: 404, wantBody: notFoundBody},
		{name: "unknown profile", path: "/" + pathSecret + "/dev", headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},
		{name: "no profile", path: "/" + pathSecret + "/", headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},
		{name: "secret only", path: "/" + pathSecret, headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},
		{name: "extra segment", path: good + "/x", headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},
		{name: "root", path: "/", headers: okHeaders, wantStatus: 404, wantBody: notFoundBody},

		{name: "dns rebinding", path: good, host: "evil.example:8771", headers: okHeaders, wantStatus: 403, wantBody: "Host header must be"},
		{name: "lan address", path: good, host: "192.168.1.2:8771", headers: okHeaders, wantStatus: 403, wantBody: "Host header must be"},
		{name: "localhost lookalike", path: good, host: "localhost.evil.example", headers: okHeaders, wantStatus: 403, wantBody: "Host header must be"},
		{name: "peer refused", path: good, headers: okHeaders, authorize: errors.New("uid 1001 is not the owner"), wantStatus: 403, wantBody: "may not use"},
		{name: "workspace mismatch", path: good, headers: with(HostHeader, "https://adb-999.9.azuredatabricks.net"), wantStatus: 403, wantBody: "serves " + wsHost},
		{name: "workspace header missing", path: good, headers: with(HostHeader, ""), wantStatus: 403, wantBody: "serves " + wsHost},
		{name: "workspace http scheme", path: good, headers: with(HostHeader, "http://adb-1234567890123456.7.azuredatabricks.net"), wantStatus: 403},
		{name: "workspace with path", path: good, headers: with(HostHeader, wsHost+"/api"), wantStatus: 403},
		{name: "profile without databricks_host", path: "/" + pathSecret + "/nohost", headers: okHeaders, wantStatus: 403, wantBody: `profile "nohost" has no databricks_host`},

		{name: "post", method: "POST", path: good, headers: okHeaders, wantStatus: 405, wantHeader: map[string]string{"Allow": "GET"}},
		{name: "head", method: "HEAD", path: good, headers: okHeaders, wantStatus: 405, wantHeader: map[string]string{"Allow": "GET"}},

		{name: "no version", path: good, headers: with(VersionHeader, ""), wantStatus: 400, wantBody: "missing X-Databricks-Metadata-Version"},
		{name: "version 2", path: good, headers: with(VersionHeader, "2"), wantStatus: 400, wantBody: "unsupported X-Databricks-Metadata-Version"},

		{name: "needs login", path: good, headers: okHeaders, tokErr: &tokensource.Error{Kind: tokensource.KindNeedsLogin, Message: "the refresh token has expired", AADSTS: "AADSTS700082"},
			wantStatus: 401, wantCalls: 1, wantBody: `entra-helper: profile "prod": the refresh token has expired (AADSTS700082); run: entra-helper login -p prod`},
		{name: "unavailable", path: good, headers: okHeaders, tokErr: &tokensource.Error{Kind: tokensource.KindUnavailable, Message: "Entra ID is unreachable", RetryAfter: 1500 * time.Millisecond},
			wantStatus: 503, wantCalls: 1, wantBody: "Entra ID is unreachable", wantHeader: map[string]string{"Retry-After": "2"}},
		{name: "failed", path: good, headers: okHeaders, tokErr: &tokensource.Error{Kind: tokensource.KindFailed, Message: "the client secret is wrong"},
			wantStatus: 500, wantCalls: 1, wantBody: "the client secret is wrong"},
		{name: "unclassified", path: good, headers: okHeaders, tokErr: errors.New("boom"),
			wantStatus: 500, wantCalls: 1, wantBody: "cannot get a token; see the daemon's log"},
		{name: "token too short-lived", path: good, headers: okHeaders, tok: tokensource.Token{Value: secret.New(fakeToken), ExpiresOn: now.Add(59 * time.Second)},
			wantStatus: 503, wantCalls: 1, wantBody: "no token with enough lifetime left"},
		{name: "empty token", path: good, headers: okHeaders, tok: tokensource.Token{ExpiresOn: now.Add(time.Hour)},
			wantStatus: 500, wantCalls: 1, wantBody: "empty token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			ft := &fakeTokens{tok: tc.tok, err: tc.tokErr}
			if ft.tok.ExpiresOn.IsZero() && ft.err == nil {
				ft.tok = goodToken()
			}
			m := newMetadata(ft, zap.New(core))
			if tc.authorize != nil {
				m.Access = &fakeAccess{err: tc.authorize}
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "http://127.0.0.1:8771"+tc.path, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, req)
			res := rec.Result()
			body := rec.Body.String()
			if res.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d (body %q)", res.StatusCode, tc.wantStatus, body)
			}
			if len(ft.calls) != tc.wantCalls {
				t.Errorf("Tokens called %d times, want %d", len(ft.calls), tc.wantCalls)
			}
			for k, v := range tc.wantHeader {
				if got := res.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.wantStatus == 200 {
				var got map[string]any
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				want := map[string]any{"access_token": fakeToken, "token_type": "Bearer", "expires_on": float64(now.Add(50 * time.Minute).Unix())}
				if len(got) != len(want) || got["access_token"] != want["access_token"] || got["token_type"] != want["token_type"] || got["expires_on"] != want["expires_on"] {
					t.Errorf("body %v, want %v", got, want)
				}
				if !strings.Contains(body, `"expires_on":1700003000`) {
					t.Errorf("expires_on is not an integer: %s", body)
				}
				c := ft.calls[0]
				if c.profile != "prod" || c.minValid != 5*time.Minute || len(c.scopes) != 1 {
					t.Errorf("call %+v", c)
				}
			} else {
				if strings.Contains(body, fakeToken) {
					t.Errorf("error body holds the token")
				}
				var eb errorBody
				if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" || eb.Description == "" {
					t.Errorf("error body %q is not {\"error\",\"error_description\"} JSON: %v", body, err)
				}
				if ct := res.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("error Content-Type %q", ct)
				}
				if tc.wantBody != "" && !strings.Contains(eb.Description, tc.wantBody) {
					t.Errorf("error_description %q, want it to contain %q", eb.Description, tc.wantBody)
				}
				if strings.Count(eb.Description, `"prod"`) > 1 {
					t.Errorf("error_description names the profile twice: %q", eb.Description)
				}
				if res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("no Cache-Control: no-store")
				}
			}
			// One log line per answer, with the status, never the secret or token.
			entries := logs.All()
			if len(entries) != 1 {
				t.Fatalf("%d log entries, want 1", len(entries))
			}
			ctx := entries[0].ContextMap()
			if ctx["status"] != int64(tc.wantStatus) {
				t.Errorf("logged status %v", ctx["status"])
			}
			if tc.wantStatus == 404 && tc.name != "unknown profile" {
				if _, ok := ctx["profile"]; ok {
					t.Errorf("profile logged for a request with a wrong secret")
				}
			}
			for _, e := range entries {
				line, _ := json.Marshal(e.ContextMap())
				s := e.Message + string(line)
				if strings.Contains(s, pathSecret) || strings.Contains(s, fakeToken) {
					t.Errorf("log line holds the secret or the token: %s", s)
				}
			}
		})
	}
}

func TestMetadataMinValidFloor(t *testing.T) {
	ft := &fakeTokens{tok: goodToken()}
	m := newMetadata(ft, nil)
	m.MinValid = func() time.Duration { return time.Second }
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/"+pathSecret+"/prod", nil)
	req.Header.Set(VersionHeader, "1")
	req.Header.Set(HostHeader, wsHost)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if rec.Code != 200 || len(ft.calls) != 1 || ft.calls[0].minValid != MinTokenValidity {
		t.Errorf("status %d, calls %+v; want minValid %v", rec.Code, ft.calls, MinTokenValidity)
	}
}

// TestMetadataServesShortTokens: when Entra issues tokens shorter than
// min_valid, the broker serves its freshest (at least 60 s left) and the
// endpoint passes it on instead of failing every request.
func TestMetadataServesShortTokens(t *testing.T) {
	ft := &fakeTokens{tok: tokensource.Token{Value: secret.New(fakeToken), ExpiresOn: now.Add(2 * time.Minute)}}
	m := newMetadata(ft, nil)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/"+pathSecret+"/prod", nil)
	req.Header.Set(VersionHeader, "1")
	req.Header.Set(HostHeader, wsHost)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), fakeToken) {
		t.Errorf("status %d, body %q; want 200 with the token", rec.Code, rec.Body.String())
	}
}

func TestMetadataEmptySecretRefusesAll(t *testing.T) {
	ft := &fakeTokens{tok: goodToken()}
	m := newMetadata(ft, nil)
	m.Secret = func() string { return "" }
	for _, p := range []string{"//prod", "/prod", "/x/prod"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+p, nil)
		req.Header.Set(VersionHeader, "1")
		req.Header.Set(HostHeader, wsHost)
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code != 404 {
			t.Errorf("%s: status %d, want 404", p, rec.Code)
		}
	}
}

// fakeAccess refuses with err, or allows and counts grants.
type fakeAccess struct {
	err     error
	granted []string
}

func (a *fakeAccess) CheckRequest(r *http.Request, s access.Surface, profile string) (ipc.Peer, error) {
	return ipc.Peer{UID: 1001}, a.err
}

func (a *fakeAccess) Granted(peer ipc.Peer, s access.Surface, profile, scope string, expires time.Time) {
	a.granted = append(a.granted, fmt.Sprintf("%d %s %s %s", peer.UID, s, profile, scope))
}

// TestMetadataAuditsGrant: a token handed out is told to the access policy
// with the request's peer, profile and scopes.
func TestMetadataAuditsGrant(t *testing.T) {
	acc := &fakeAccess{}
	m := newMetadata(&fakeTokens{tok: goodToken()}, zap.NewNop())
	m.Access = acc
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8771/"+pathSecret+"/prod", nil)
	req.Header.Set(VersionHeader, "1")
	req.Header.Set(HostHeader, wsHost)
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if len(acc.granted) != 1 || !strings.HasPrefix(acc.granted[0], "1001 metadata prod ") {
		t.Fatalf("granted %q, want one grant to uid 1001 on the metadata surface for prod", acc.granted)
	}
}
