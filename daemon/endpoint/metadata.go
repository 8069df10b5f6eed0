// Package endpoint serves the daemon's loopback HTTP endpoints: the
// Databricks metadata endpoint that the Databricks CLI and SDKs call with
// auth_type = metadata-service.
package endpoint

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/ipc"
)

// Headers of the Databricks metadata-service protocol.
const (
	VersionHeader    = "X-Databricks-Metadata-Version"
	HostHeader       = "X-Databricks-Host"
	SupportedVersion = "1"
)

// MinTokenValidity is the least lifetime a token handed out here has left,
// whatever MinValid says: the SDKs cache tokens until shortly before expiry.
const MinTokenValidity = 60 * time.Second

// Tokens hands out access tokens; the broker implements it.
type Tokens interface {
	Token(ctx context.Context, profile string, scopes []string, minValid time.Duration) (tokensource.Token, error)
}

// Metadata is the http.Handler of the Databricks metadata endpoint, served at
// /<secret>/<profile>. Answers:
//
//   - 404 wrong secret, unknown profile or any other path (one body for all);
//   - 403 a Host header that is not loopback (DNS rebinding), a peer that
//     the access policy refuses, or an X-Databricks-Host that is not the profile's
//     databricks_host (or the profile has none);
//   - 405 a method other than GET (Allow: GET);
//   - 400 X-Databricks-Metadata-Version missing or not "1";
//   - 401 the profile needs an interactive sign-in (entra-helper login);
//   - 503 Entra is unreachable or failing and no valid token is cached
//     (Retry-After when Entra sent one);
//   - 500 any other failure to get a token (e.g. a wrong client secret);
//   - 200 {"access_token","token_type":"Bearer","expires_on":<Unix seconds>}
//     for a token with at least max(MinValid(), 60s) left, or, when Entra
//     issues tokens too short for that, the broker's freshest (at least 60s).
//
// A request with a wrong secret is answered 404 before anything else is
// looked at, so it learns nothing else. Error bodies are JSON,
// {"error": code, "error_description": one sentence} (the Go SDK shows the body
// as the error; the Python SDK parses every body as JSON); never a token.
type Metadata struct {
	Tokens Tokens
	// Secret returns the path secret; "" refuses every request.
	Secret func() string
	// Profiles returns a profile's databricks_host and scopes.
	Profiles func(name string) (databricksHost string, scopes []string, ok bool)
	// MinValid returns the configured min_valid (nil: 0, so 60s applies).
	MinValid func() time.Duration
	// Log receives one line per answer, a 200 at debug level (nil: no logging).
	Log *zap.Logger
	// Access is the daemon's access policy (nil: every request is allowed
	// and nothing is audited; tests). Its server must use
	// access.ConnContext.
	Access Access
	// Clock tells the time that decides expires_in and log durations (nil:
	// clock.Real).
	Clock clock.Clock
}

// Access decides who may use a profile on a loopback endpoint and records
// what was handed out; *access.Policy implements it.
type Access interface {
	CheckRequest(r *http.Request, s access.Surface, profile string) (ipc.Peer, error)
	Granted(peer ipc.Peer, s access.Surface, profile, scope string, expires time.Time)
}

const notFoundBody = "entra-helper: not found; check DATABRICKS_METADATA_SERVICE_URL (entra-helper databricks env prints it)"

// ServeHTTP implements http.Handler.
func (m *Metadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := m.now()
	profile, ok := m.route(r)
	if !ok {
		m.answer(w, r, "", http.StatusNotFound, CodeNotFound, notFoundBody, "wrong secret or path", start)
		return
	}
	if !ipc.IsLoopbackHost(r.Host) {
		m.answer(w, r, profile, http.StatusForbidden, CodeAccessDenied,
			"entra-helper: the Host header must be 127.0.0.1, localhost or [::1]", "non-loopback Host header", start)
		return
	}
	var peer ipc.Peer
	if m.Access != nil {
		var err error
		if peer, err = m.Access.CheckRequest(r, access.Metadata, profile); err != nil {
			status, code := http.StatusForbidden, CodeAccessDenied
			if d := (*access.Denied)(nil); errors.As(err, &d) && d.Busy {
				status, code = http.StatusTooManyRequests, CodeUnavailable
			}
			m.answer(w, r, profile, status, code,
				"entra-helper: this caller may not use the daemon's tokens", "peer refused: "+err.Error(), start)
			return
		}
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		m.answer(w, r, profile, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "entra-helper: only GET is allowed", "method "+r.Method, start)
		return
	}
	host, scopes, ok := m.Profiles(profile)
	if !ok {
		m.answer(w, r, profile, http.StatusNotFound, CodeNotFound, notFoundBody, "unknown profile", start)
		return
	}
	switch v := r.Header.Get(VersionHeader); v {
	case SupportedVersion:
	case "":
		m.answer(w, r, profile, http.StatusBadRequest, CodeInvalidRequest,
			"entra-helper: missing "+VersionHeader+" header (supported: "+SupportedVersion+")", "no version header", start)
		return
	default:
		m.answer(w, r, profile, http.StatusBadRequest, CodeInvalidRequest,
			"entra-helper: unsupported "+VersionHeader+" (supported: "+SupportedVersion+")", "unsupported version", start)
		return
	}
	want := host // config.Load normalised it with entra.WorkspaceURL
	match := sameWorkspace(want, r.Header.Get(HostHeader))
	switch {
	case want == "":
		m.answer(w, r, profile, http.StatusForbidden, CodeAccessDenied,
			fmt.Sprintf("entra-helper: profile %q has no databricks_host; set it in the config file", profile), "no databricks_host", start)
		return
	case !match:
		m.answer(w, r, profile, http.StatusForbidden, CodeAccessDenied,
			fmt.Sprintf("entra-helper: profile %q serves %s, not the requested workspace; set DATABRICKS_HOST to it or use another profile", profile, want),
			"workspace host mismatch", start)
		return
	}
	m.token(w, r, peer, profile, scopes, start)
}

// token answers with a token of the profile.
func (m *Metadata) token(w http.ResponseWriter, r *http.Request, peer ipc.Peer, profile string, scopes []string, start time.Time) {
	tok, err := freshToken(r.Context(), m.Tokens, profile, scopes, effectiveMinValid(m.MinValid), m.now)
	if err != nil {
		f := failureOf(r.Context(), err, profile)
		f.write(w)
		m.log(r, profile, f.Status, "token error", start, zap.Error(err))
		return
	}
	writeToken(w, func(b []byte) []byte {
		b = appendJSONString(b, "access_token", tok.Value.Reveal())
		b = appendJSONString(b, "token_type", "Bearer")
		return appendJSONInt(b, "expires_on", tok.ExpiresOn.Unix())
	})
	m.log(r, profile, http.StatusOK, "", start, zap.Time("expires_on", tok.ExpiresOn))
	if m.Access != nil {
		m.Access.Granted(peer, access.Metadata, profile, strings.Join(scopes, " "), tok.ExpiresOn)
	}
}

// route checks the path secret in constant time and returns the profile.
func (m *Metadata) route(r *http.Request) (string, bool) {
	secret := ""
	if m.Secret != nil {
		secret = m.Secret()
	}
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", false
	}
	given, profile, ok := strings.Cut(rest, "/")
	if !ok {
		given, profile = rest, ""
	}
	// Compare before looking at anything else, whatever the shape of the rest.
	match := subtle.ConstantTimeCompare([]byte(given), []byte(secret)) == 1
	if !match || secret == "" || profile == "" || strings.Contains(profile, "/") {
		return "", false
	}
	name, err := url.PathUnescape(profile)
	if err != nil || name == "" {
		return "", false
	}
	return name, true
}

func (m *Metadata) now() time.Time {
	if m.Clock != nil {
		return m.Clock.Now()
	}
	return clock.Real{}.Now()
}

// answer writes a JSON error and logs it.
func (m *Metadata) answer(w http.ResponseWriter, r *http.Request, profile string, status int, code, description, reason string, start time.Time) {
	writeError(w, status, code, description)
	m.log(r, profile, status, reason, start)
}

// log records one answer (see logAnswer): never the path (it holds the
// secret) nor a token.
func (m *Metadata) log(r *http.Request, profile string, status int, reason string, start time.Time, extra ...zap.Field) {
	if m.Log == nil {
		return
	}
	logAnswer(m.Log, "metadata request", r, status, m.now().Sub(start), profile, reason, extra...)
}
