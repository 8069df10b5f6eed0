package endpoint

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/ipc"
)

const (
	idSecret     = "Id3nt1ty-Header_Secret-0123456789ab"
	prodClientID = "12a34b56-789c-0d12-e3fa-b456789c0123"
	devClientID  = "99a34b56-789c-0d12-e3fa-b456789c0999"
	prodObjectID = "0b0b0b0b-1111-2222-3333-444444444444"
	mgmt         = "https://management.core.windows.net/"
)

func newIdentity(tokens Tokens, log *zap.Logger) *Identity {
	return &Identity{
		Tokens: tokens,
		Secret: func() string { return idSecret },
		Profiles: func() ([]IdentityProfile, string) {
			return []IdentityProfile{
				{Name: "prod", ClientID: prodClientID},
				{Name: "dev", ClientID: devClientID},
				{Name: "dev2", ClientID: devClientID},
				{Name: "user"},
			}, "prod"
		},
		ObjectID: func(p string) string {
			if p == "prod" {
				return prodObjectID
			}
			return ""
		},
		MinValid: func() time.Duration { return 5 * time.Minute },
		Log:      log,
		Clock:    clock.NewFake(now),
	}
}

func TestIdentity(t *testing.T) {
	app := func(q string) string { return "/app-service?api-version=2019-08-01&" + q }
	appP := func(p, q string) string { return "/app-service/" + p + "?api-version=2019-08-01&" + q }
	imds := func(p, q string) string {
		if p != "" {
			p = "/" + p
		}
		return "/imds/" + idSecret + p + "?api-version=2018-02-01&" + q
	}
	hdr := map[string]string{IdentityHeader: idSecret}
	meta := map[string]string{"Metadata": "true"}
	res := "resource=" + url.QueryEscape(mgmt)
	dbx := "resource=2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
	for _, tc := range []struct {
		name        string
		method      string
		path        string
		host        string
		headers     map[string]string
		tokErr      error
		authorize   func(profile string) error
		wantStatus  int
		wantProfile string // the profile asked of Tokens
		wantScope   string
		wantBody    string // substring of an error body
		wantError   string // the body's "error"
	}{
		{name: "app service default profile", path: app(res), headers: hdr, wantStatus: 200, wantProfile: "prod", wantScope: mgmt + "/.default"},
		{name: "app service databricks", path: app(dbx), headers: hdr, wantStatus: 200, wantProfile: "prod", wantScope: "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"},
		{name: "app service profile in path", path: appP("user", res), headers: hdr, wantStatus: 200, wantProfile: "user"},
		{name: "app service escaped profile", path: appP("us%65r", res), headers: hdr, wantStatus: 200, wantProfile: "user"},
		{name: "app service trailing slash", path: "/app-service/user/?api-version=2019-08-01&" + res, headers: hdr, wantStatus: 200, wantProfile: "user"},
		{name: "client_id selects", path: app(res + "&client_id=" + devClientID), headers: hdr, wantStatus: 400, wantBody: "several profiles (dev, dev2)"},
		{name: "client_id case-insensitive", path: app(res + "&client_id=" + strings.ToUpper(prodClientID)), headers: hdr, wantStatus: 200, wantProfile: "prod"},
		{name: "client_id tie settled by path", path: appP("dev2", res+"&client_id="+devClientID), headers: hdr, wantStatus: 200, wantProfile: "dev2"},
		{name: "client_id beats path", path: appP("user", res+"&client_id="+prodClientID), headers: hdr, wantStatus: 200, wantProfile: "prod"},
		{name: "object_id", path: app(res + "&object_id=" + prodObjectID), headers: hdr, wantStatus: 200, wantProfile: "prod"},
		{name: "principal_id", path: app(res + "&principal_id=" + prodObjectID), headers: hdr, wantStatus: 200, wantProfile: "prod"},
		{name: "mi_res_id", path: app(res + "&mi_res_id=/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/user"), headers: hdr, wantStatus: 200, wantProfile: "user"},
		{name: "unknown client_id", path: app(res + "&client_id=00000000-0000-0000-0000-000000000000"), headers: hdr, wantStatus: 400, wantError: "invalid_request", wantBody: "Identity not found"},
		{name: "unknown object_id", path: app(res + "&object_id=" + prodClientID), headers: hdr, wantStatus: 400, wantBody: "Identity not found"},
		{name: "unknown mi_res_id", path: app(res + "&mi_res_id=/subscriptions/s/x/userAssignedIdentities/nope"), headers: hdr, wantStatus: 400, wantBody: "Identity not found"},
		{name: "unknown profile in path", path: appP("nope", res), headers: hdr, wantStatus: 400, wantBody: "Identity not found"},
		{name: "two selectors", path: app(res + "&client_id=" + prodClientID + "&object_id=" + prodObjectID), headers: hdr, wantStatus: 400, wantBody: "at most one identity"},
		{name: "selector twice", path: app(res + "&client_id=" + prodClientID + "&client_id=" + prodClientID), headers: hdr, wantStatus: 400, wantBody: "at most one identity"},

		{name: "missing header", path: app(res), wantStatus: 401, wantError: "unauthorized_client", wantBody: "X-IDENTITY-HEADER header is missing or wrong"},
		{name: "wrong header", path: app(res), headers: map[string]string{IdentityHeader: idSecret + "x"}, wantStatus: 401},
		{name: "header prefix", path: app(res), headers: map[string]string{IdentityHeader: idSecret[:8]}, wantStatus: 401},
		{name: "wrong header learns nothing", method: "POST", path: app(res), host: "evil.example", wantStatus: 401},
		{name: "msi secret header is not it", path: app(res), headers: map[string]string{"Secret": idSecret}, wantStatus: 401},
		{name: "foreign host", path: app(res), host: "evil.example:8772", headers: hdr, wantStatus: 403, wantError: CodeAccessDenied, wantBody: "Host header must be"},
		{name: "forwarded", path: app(res), headers: map[string]string{IdentityHeader: idSecret, "X-Forwarded-For": "10.0.0.1"}, wantStatus: 403, wantBody: "relayed by a proxy"},
		{name: "post", method: "POST", path: app(res), headers: hdr, wantStatus: 405, wantBody: "only GET"},
		{name: "peer refused", path: app(res), headers: hdr, authorize: func(p string) error {
			if p == "" {
				return errors.New("uid 1001")
			}
			return nil
		}, wantStatus: 403, wantBody: "may not use"},
		{name: "peer refused before the identity is looked up", path: app(res + "&client_id=nope"), headers: hdr, authorize: func(p string) error {
			if p == "" {
				return errors.New("uid 1001")
			}
			return nil
		}, wantStatus: 403},
		{name: "peer busy", path: app(res), headers: hdr, authorize: func(p string) error {
			return &access.Denied{Busy: true, Reason: "busy"}
		}, wantStatus: 429, wantError: CodeUnavailable},
		{name: "profile refused", path: app(res), headers: hdr, authorize: func(p string) error {
			if p == "prod" {
				return errors.New("not allowed")
			}
			return nil
		}, wantStatus: 403},
		{name: "no api-version", path: "/app-service?" + res, headers: hdr, wantStatus: 400, wantBody: "api-version parameter is missing"},
		{name: "old api-version", path: "/app-service?api-version=2017-09-01&" + res, headers: hdr, wantStatus: 400, wantBody: "unsupported api-version (supported: 2019-08-01)"},
		{name: "imds version on app service", path: "/app-service?api-version=2018-02-01&" + res, headers: hdr, wantStatus: 400},
		{name: "no resource", path: app(""), headers: hdr, wantStatus: 400, wantBody: "resource parameter is missing"},
		{name: "two resources", path: app(res + "&" + dbx), headers: hdr, wantStatus: 400},
		{name: "resource with space", path: app("resource=a%20b"), headers: hdr, wantStatus: 400, wantError: "invalid_resource"},
		{name: "scope as resource", path: app("resource=" + url.QueryEscape(mgmt+"/.default")), headers: hdr, wantStatus: 200, wantScope: mgmt + "/.default"},
		{name: "malformed query", path: "/app-service?api-version=2019-08-01&" + res + "&x=%zz", headers: hdr, wantStatus: 400},
		{name: "other path", path: "/metadata/identity/oauth2/token?api-version=2018-02-01&" + res, headers: meta, wantStatus: 404},
		{name: "app service prefix lookalike", path: "/app-servicex?api-version=2019-08-01&" + res, headers: hdr, wantStatus: 404},
		{name: "two segments", path: appP("prod/x", res), headers: hdr, wantStatus: 404},

		{name: "imds default", path: imds("", res), headers: meta, wantStatus: 200, wantProfile: "prod", wantScope: mgmt + "/.default"},
		{name: "imds profile", path: imds("user", res), headers: meta, wantStatus: 200, wantProfile: "user"},
		{name: "imds client_id", path: imds("", res+"&client_id="+prodClientID), headers: meta, wantStatus: 200, wantProfile: "prod"},
		{name: "imds msi_res_id", path: imds("", res+"&msi_res_id=/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/user"), headers: meta, wantStatus: 200, wantProfile: "user"},
		{name: "imds unknown client_id", path: imds("", res+"&client_id=nope"), headers: meta, wantStatus: 400, wantBody: "Identity not found"},
		{name: "imds wrong secret", path: "/imds/" + idSecret[:10] + "?api-version=2018-02-01&" + res, headers: meta, wantStatus: 404, wantError: "not_found"},
		{name: "imds no secret", path: "/imds/?api-version=2018-02-01&" + res, headers: meta, wantStatus: 404},
		{name: "imds without Metadata", path: imds("", res), wantStatus: 400, wantBody: "Required metadata header not specified"},
		{name: "imds Metadata false", path: imds("", res), headers: map[string]string{"Metadata": "false"}, wantStatus: 400},
		{name: "imds app service version", path: "/imds/" + idSecret + "?api-version=2019-08-01&" + res, headers: meta, wantStatus: 400, wantBody: "supported: 2018-02-01"},
		{name: "imds foreign host", path: imds("", res), host: "attacker.example", headers: meta, wantStatus: 403},
		{name: "imds post", method: "POST", path: imds("", res), headers: meta, wantStatus: 405},

		{name: "needs login", path: app(res), headers: hdr, tokErr: &tokensource.Error{Kind: tokensource.KindNeedsLogin, Message: "the refresh token has expired"},
			wantStatus: 401, wantProfile: "prod", wantError: CodeLoginRequired, wantBody: "run: entra-helper login -p prod"},
		{name: "unavailable", path: app(res), headers: hdr, tokErr: &tokensource.Error{Kind: tokensource.KindUnavailable, Message: "Entra ID is unreachable"},
			wantStatus: 503, wantProfile: "prod", wantBody: "Entra ID is unreachable"},
		{name: "failed is not retried", path: imds("", res), headers: meta, tokErr: &tokensource.Error{Kind: tokensource.KindFailed, Message: "the client secret is wrong"},
			wantStatus: 400, wantProfile: "prod", wantBody: "the client secret is wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			ft := &fakeTokens{tok: goodToken(), err: tc.tokErr}
			h := newIdentity(ft, zap.New(core))
			if tc.authorize != nil {
				h.Access = &fakeIdentityAccess{use: tc.authorize}
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "http://127.0.0.1:8772"+tc.path, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tc.wantStatus, body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("no Cache-Control: no-store")
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body is not JSON: %q", body)
			}
			if tc.wantProfile != "" {
				if len(ft.calls) != 1 || ft.calls[0].profile != tc.wantProfile {
					t.Fatalf("calls %+v, want one for %s", ft.calls, tc.wantProfile)
				}
				if ft.calls[0].minValid != 5*time.Minute {
					t.Errorf("minValid %v", ft.calls[0].minValid)
				}
				if tc.wantScope != "" && (len(ft.calls[0].scopes) != 1 || ft.calls[0].scopes[0] != tc.wantScope) {
					t.Errorf("scopes %v, want [%s]", ft.calls[0].scopes, tc.wantScope)
				}
			} else if tc.wantStatus != 200 && len(ft.calls) != 0 {
				t.Errorf("Tokens called for a refused request: %+v", ft.calls)
			}
			if tc.wantStatus == 200 {
				for k, v := range map[string]any{"access_token": fakeToken, "token_type": "Bearer", "expires_on": "1700003000", "expires_in": "3000"} {
					if got[k] != v {
						t.Errorf("%s = %#v, want %#v (body %s)", k, got[k], v, body)
					}
				}
				if r, _ := got["resource"].(string); r == "" {
					t.Errorf("no resource in %s", body)
				}
			} else {
				if strings.Contains(body, fakeToken) {
					t.Errorf("error body holds the token")
				}
				if got["error"] == "" || got["error_description"] == "" {
					t.Errorf("error body lacks error or error_description: %s", body)
				}
				if tc.wantError != "" && got["error"] != tc.wantError {
					t.Errorf("error %v, want %s", got["error"], tc.wantError)
				}
				if tc.wantBody != "" && !strings.Contains(body, tc.wantBody) {
					t.Errorf("body %s, want it to contain %q", body, tc.wantBody)
				}
				if (strings.HasPrefix(tc.path, "/app-service?") || strings.HasPrefix(tc.path, "/app-service/")) && got["statusCode"] != float64(tc.wantStatus) {
					t.Errorf("App Service error without statusCode %d: %s", tc.wantStatus, body)
				}
			}
			if tc.wantStatus == 405 && rec.Header().Get("Allow") != "GET" {
				t.Errorf("405 without Allow: GET")
			}
			entries := logs.All()
			if len(entries) != 1 {
				t.Fatalf("%d log entries, want 1", len(entries))
			}
			if entries[0].ContextMap()["status"] != int64(tc.wantStatus) {
				t.Errorf("logged status %v", entries[0].ContextMap()["status"])
			}
			line, _ := json.Marshal(entries[0].ContextMap())
			if s := entries[0].Message + string(line) + body; strings.Contains(s, idSecret) || tc.wantStatus != 200 && strings.Contains(s, fakeToken) {
				t.Errorf("the secret or the token shows in the log or an error: %s", s)
			}
		})
	}
}

// TestIdentityExpiresIn: expires_in counts down from the clock; a token
// shorter than min_valid (Entra issued no longer one) is served, one with
// less than a minute left never is.
func TestIdentityExpiresIn(t *testing.T) {
	ft := &fakeTokens{tok: tokensource.Token{Value: secret.New(fakeToken), ExpiresOn: now.Add(50 * time.Second)}}
	h := newIdentity(ft, nil)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/app-service?api-version=2019-08-01&resource=x", nil)
	req.Header.Set(IdentityHeader, idSecret)
	for _, tc := range []struct {
		left   time.Duration
		status int
		body   string
	}{
		{50 * time.Second, http.StatusServiceUnavailable, "enough lifetime"},
		{4 * time.Minute, http.StatusOK, `"expires_in":"240"`},
		{61*time.Minute + 500*time.Millisecond, http.StatusOK, `"expires_in":"3660"`},
	} {
		ft.tok.ExpiresOn = now.Add(tc.left)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%v left: %d %s, want %d with %s", tc.left, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
	}
}

// fakeIdentityAccess is an IdentityAccess: use decides admission (profile
// "") and use of a profile; grants are recorded by the embedded fakeAccess.
type fakeIdentityAccess struct {
	fakeAccess
	use func(profile string) error
}

func (f *fakeIdentityAccess) AdmitRequest(*http.Request, access.Surface) (ipc.Peer, error) {
	if f.use == nil {
		return ipc.Peer{UID: 1000}, nil
	}
	return ipc.Peer{UID: 1000}, f.use("")
}

func (f *fakeIdentityAccess) Use(_ ipc.Peer, _ access.Surface, profile string) error {
	if f.use == nil {
		return nil
	}
	return f.use(profile)
}

// TestIdentityAudit: a token handed out is recorded with the peer, the
// surface, its profile and scope; a refusal is not a grant.
func TestIdentityAudit(t *testing.T) {
	fa := &fakeIdentityAccess{}
	h := newIdentity(&fakeTokens{tok: goodToken()}, nil)
	h.Access = fa
	for _, hv := range []string{idSecret, "wrong"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/app-service?api-version=2019-08-01&resource=x", nil)
		req.Header.Set(IdentityHeader, hv)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if len(fa.granted) != 1 || fa.granted[0] != "1000 identity prod x/.default" {
		t.Fatalf("granted %v", fa.granted)
	}
}

func TestIdentityNoSecretRefusesAll(t *testing.T) {
	h := newIdentity(&fakeTokens{tok: goodToken()}, nil)
	h.Secret = func() string { return "" }
	for _, target := range []string{"/app-service?api-version=2019-08-01&resource=x", "/imds/?api-version=2018-02-01&resource=x", "/imds//prod?api-version=2018-02-01&resource=x"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+target, nil)
		req.Header.Set("Metadata", "true")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			t.Errorf("%s: 200 with no secret configured", target)
		}
	}
}

func (f *fakeIdentityAccess) Allows(_ ipc.Peer, profile string) bool {
	return f.use == nil || f.use(profile) == nil
}

// TestIdentityOtherUsersProfilesStayHidden: a caller that may use only
// some profiles cannot tell a profile it may not use from one that does not
// exist, and no selector matches or names a profile it may not use.
func TestIdentityOtherUsersProfilesStayHidden(t *testing.T) {
	h := newIdentity(&fakeTokens{tok: goodToken()}, nil)
	h.Access = &fakeIdentityAccess{use: func(p string) error {
		if p == "" || p == "prod" || p == "user" {
			return nil
		}
		return errors.New("not allowed")
	}}
	get := func(target string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/imds/"+idSecret+target, nil)
		req.Header.Set("Metadata", "true")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	const q = "?api-version=2018-02-01&resource=x"
	hidden, hb := get("/dev" + q)
	missing, mb := get("/nosuch" + q)
	if hidden != missing || hidden != http.StatusForbidden {
		t.Errorf("a profile the caller may not use: %d %s; one that does not exist: %d %s; want both 403", hidden, hb, missing, mb)
	}
	code, body := get(q + "&client_id=" + devClientID)
	if code != http.StatusBadRequest || strings.Contains(body, "dev") {
		t.Errorf("client_id of profiles the caller may not use: %d %s; want 400 naming no profile", code, body)
	}
	if code, body := get(q + "&client_id=" + prodClientID); code != http.StatusOK {
		t.Errorf("client_id of a profile the caller may use: %d %s", code, body)
	}
}
