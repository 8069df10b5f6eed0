package endpoint

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/ipc"
)

// The managed-identity protocols the Identity endpoint speaks.
const (
	// AppServicePath is the path prefix of the App Service protocol:
	// IDENTITY_ENDPOINT is http://<addr>/app-service[/<profile>].
	AppServicePath = "/app-service"
	// IMDSPath is the path prefix of the IMDS-style protocol: the token URL
	// is http://<addr>/imds/<secret>[/<profile>].
	IMDSPath = "/imds"
	// IdentityHeader carries the secret of the App Service protocol.
	IdentityHeader = "X-IDENTITY-HEADER"
	// AppServiceAPIVersion is the App Service api-version the endpoint speaks.
	AppServiceAPIVersion = "2019-08-01"
	// IMDSAPIVersion is the IMDS api-version the endpoint speaks.
	IMDSAPIVersion = "2018-02-01"
)

// Protocols of a managed-identity request.
const (
	protoAppService = "app-service"
	protoIMDS       = "imds"
)

// Codes of the managed-identity endpoint's refusals besides the shared ones.
const (
	codeUnauthorizedClient = "unauthorized_client" // 401: missing or wrong X-IDENTITY-HEADER
	codeInvalidResource    = "invalid_resource"    // 400
)

// maxResourceLen bounds the resource parameter (Entra's own limits are far
// lower; this only keeps junk out of logs and the broker).
const maxResourceLen = 1024

// IdentityProfile is what the managed-identity endpoint knows of a profile.
type IdentityProfile struct {
	Name     string
	ClientID string // "" when the profile has none
}

// Identity is the http.Handler of the managed-identity endpoint, which gives
// the Azure SDKs (App Service protocol) and Terraform's azurerm/azuread
// providers (IMDS-style protocol) tokens of the daemon's profiles:
//
//   - GET /app-service[/<profile>]?api-version=2019-08-01&resource=R
//     [&client_id=|object_id=|principal_id=|mi_res_id=ID] with header
//     X-IDENTITY-HEADER: <secret>;
//   - GET /imds/<secret>[/<profile>]?api-version=2018-02-01&resource=R
//     [&client_id=|object_id=|msi_res_id=ID] with header Metadata: true.
//
// The profile is the one the request names by client_id (or object_id,
// principal_id, mi_res_id/msi_res_id), else the one in the path, else the
// default profile. Resource R is scope R/.default. A 200 answer is
// {"access_token","client_id","expires_in","expires_on","resource",
// "token_type":"Bearer"} with every number an integer string, as Azure's
// own endpoints send it. Errors are JSON with the status the clients
// expect; see docs/azure-sdks.md. The secret is checked first (in constant
// time), so a request without it learns nothing else.
type Identity struct {
	Tokens Tokens
	// Secret returns the endpoint's secret (header value and path); ""
	// refuses every request.
	Secret func() string
	// Profiles returns the profiles and the name of the default one ("" if
	// none).
	Profiles func() ([]IdentityProfile, string)
	// ObjectID returns the object ID of a profile's signed-in identity, ""
	// while unknown; asked only for requests that name an object_id (nil:
	// no profile matches one).
	ObjectID func(profile string) string
	// MinValid returns the configured min_valid (nil: 0, so 60s applies).
	MinValid func() time.Duration
	// Log receives one line per answer, a 200 at debug level (nil: no logging).
	Log *zap.Logger
	// Access is the daemon's access policy (nil: every request is allowed
	// and nothing is audited): it admits the peer once the secret checked
	// out, then decides whether it may use the profile that would answer,
	// and records each token handed out. The server must use
	// access.ConnContext.
	Access IdentityAccess
	// Clock tells the time that decides expires_in and log durations (nil:
	// clock.Real).
	Clock clock.Clock
}

// IdentityAccess is what the managed-identity endpoint asks of the access
// policy; *access.Policy implements it.
type IdentityAccess interface {
	AdmitRequest(r *http.Request, s access.Surface) (ipc.Peer, error)
	Use(peer ipc.Peer, s access.Surface, profile string) error
	Allows(peer ipc.Peer, profile string) bool
	Granted(peer ipc.Peer, s access.Surface, profile, scope string, expires time.Time)
}

// identityRequest is a parsed managed-identity request.
type identityRequest struct {
	proto    string // protoAppService or protoIMDS
	profile  string // from the path; "" when the path names none
	resource string
	selKind  string // "client_id", "object_id", "resource_id" or ""
	selValue string
}

// identityError is a refusal: the status and the JSON body's fields.
type identityError struct {
	status int
	code   string // the body's "error"
	desc   string // the body's "error_description"; one sentence
	reason string // for the log only
}

func (e *identityError) Error() string { return e.reason }

// errIdentityNotFound is the answer to a request naming an identity that no
// profile has: a fast 400, as IMDS sends it, that no client retries.
func errIdentityNotFound(what string) *identityError {
	return &identityError{status: http.StatusBadRequest, code: CodeInvalidRequest,
		desc:   "Identity not found: no entra-helper profile has " + what + "; see `entra-helper status` for the profiles",
		reason: "identity not found"}
}

const identityNotFoundPath = "not found; check IDENTITY_ENDPOINT or ARM_MSI_ENDPOINT (entra-helper azure env prints them)"

// parseIdentityRequest checks everything about r that does not depend on
// the configured profiles: the path and secret, the method, the Host and
// the protocol's headers and parameters.
func parseIdentityRequest(r *http.Request, secret string) (identityRequest, *identityError) {
	var req identityRequest
	notFound := &identityError{status: http.StatusNotFound, code: CodeNotFound, desc: identityNotFoundPath, reason: "wrong secret or path"}
	path := r.URL.EscapedPath()
	var rest string
	switch {
	case path == AppServicePath || strings.HasPrefix(path, AppServicePath+"/"):
		req.proto, rest = protoAppService, strings.TrimPrefix(path, AppServicePath)
		// The App Service secret travels in a header; compare before anything else.
		given := r.Header.Get(IdentityHeader)
		if subtle.ConstantTimeCompare([]byte(given), []byte(secret)) != 1 || secret == "" {
			reason := "wrong " + IdentityHeader
			if given == "" {
				reason = "no " + IdentityHeader
			}
			return req, &identityError{status: http.StatusUnauthorized, code: codeUnauthorizedClient,
				desc:   "the " + IdentityHeader + " header is missing or wrong; set IDENTITY_HEADER from `entra-helper azure env`",
				reason: reason}
		}
	case strings.HasPrefix(path, IMDSPath+"/"):
		req.proto, rest = protoIMDS, strings.TrimPrefix(path, IMDSPath+"/")
		given, tail, _ := strings.Cut(rest, "/")
		if subtle.ConstantTimeCompare([]byte(given), []byte(secret)) != 1 || secret == "" {
			return req, notFound
		}
		rest = "/" + tail
		if tail == "" {
			rest = ""
		}
	default:
		return req, notFound
	}
	// rest is "" or "/<profile>" (one segment, maybe with a trailing slash).
	if rest != "" && rest != "/" {
		seg := strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/")
		name, err := url.PathUnescape(seg)
		if seg == "" || strings.Contains(seg, "/") || err != nil || name == "" {
			return req, notFound
		}
		req.profile = name
	}
	if !ipc.IsLoopbackHost(r.Host) {
		return req, &identityError{status: http.StatusForbidden, code: CodeAccessDenied,
			desc: "the Host header must be 127.0.0.1, localhost or [::1]", reason: "non-loopback Host header"}
	}
	if len(r.Header.Values("X-Forwarded-For")) > 0 || len(r.Header.Values("Forwarded")) > 0 {
		return req, &identityError{status: http.StatusForbidden, code: CodeAccessDenied,
			desc: "requests relayed by a proxy are refused; call the endpoint directly", reason: "forwarded request"}
	}
	if r.Method != http.MethodGet {
		return req, &identityError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
			desc: "only GET is allowed", reason: "method " + r.Method}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, badRequest("the query string is malformed", "malformed query")
	}
	wantVersion := AppServiceAPIVersion
	if req.proto == protoIMDS {
		wantVersion = IMDSAPIVersion
		// IMDS's own guard against forwarded requests (SSRF).
		if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
			return req, badRequest("Required metadata header not specified (Metadata: true)", "no Metadata header")
		}
	}
	switch v, n := q.Get("api-version"), len(q["api-version"]); {
	case n == 0 || v == "":
		return req, badRequest("the api-version parameter is missing (supported: "+wantVersion+")", "no api-version")
	case n > 1 || v != wantVersion:
		return req, badRequest("unsupported api-version (supported: "+wantVersion+")", "unsupported api-version")
	}
	switch res, n := q.Get("resource"), len(q["resource"]); {
	case n == 0 || res == "":
		return req, badRequest("the resource parameter is missing (e.g. resource=https://management.core.windows.net/)", "no resource")
	case n > 1:
		return req, badRequest("more than one resource parameter", "several resources")
	case !validResource(res):
		return req, &identityError{status: http.StatusBadRequest, code: codeInvalidResource,
			desc: "the resource parameter is not a valid resource URI or application ID", reason: "invalid resource"}
	default:
		req.resource = res
	}
	// The selectors of both protocols: MSALs send object_id, the App Service
	// docs say principal_id; App Service spells the resource ID mi_res_id,
	// IMDS msi_res_id.
	for _, s := range []struct{ param, kind string }{
		{"client_id", "client_id"}, {"object_id", "object_id"}, {"principal_id", "object_id"},
		{"mi_res_id", "resource_id"}, {"msi_res_id", "resource_id"},
	} {
		vs, ok := q[s.param]
		if !ok {
			continue
		}
		if req.selKind != "" || len(vs) != 1 || vs[0] == "" {
			return req, badRequest("name at most one identity, once (client_id, object_id, principal_id, mi_res_id or msi_res_id)", "several identities")
		}
		req.selKind, req.selValue = s.kind, vs[0]
	}
	return req, nil
}

func badRequest(desc, reason string) *identityError {
	return &identityError{status: http.StatusBadRequest, code: CodeInvalidRequest, desc: desc, reason: reason}
}

// validResource accepts an absolute URI or an application ID: printable,
// no spaces, bounded.
func validResource(s string) bool {
	if len(s) > maxResourceLen {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// resourceScope is the scope of resource R: R/.default (a resource that is
// already a .default scope is taken as it is).
func resourceScope(resource string) string {
	if strings.HasSuffix(resource, "/.default") {
		return resource
	}
	return resource + "/.default"
}

// selectProfile finds the profile that answers req.
func selectProfile(req identityRequest, profiles []IdentityProfile, def string, objectID func(string) string) (string, *identityError) {
	byName := func(name string) (IdentityProfile, bool) {
		for _, p := range profiles {
			if p.Name == name {
				return p, true
			}
		}
		return IdentityProfile{}, false
	}
	var match func(IdentityProfile) bool
	what := ""
	switch req.selKind {
	case "":
		name := req.profile
		if name == "" {
			name = def
		}
		if name == "" {
			return "", badRequest("no profile is named and the config has no default_profile; put the profile in the endpoint's path (entra-helper azure env -p NAME)", "no profile")
		}
		if _, ok := byName(name); !ok {
			return "", errIdentityNotFound(fmt.Sprintf("the name %q", name))
		}
		return name, nil
	case "client_id":
		what = "client_id " + req.selValue
		match = func(p IdentityProfile) bool { return p.ClientID != "" && strings.EqualFold(p.ClientID, req.selValue) }
	case "object_id":
		what = "object ID " + req.selValue
		match = func(p IdentityProfile) bool {
			oid := ""
			if objectID != nil {
				oid = objectID(p.Name)
			}
			return oid != "" && strings.EqualFold(oid, req.selValue)
		}
	default: // resource_id: .../providers/Microsoft.ManagedIdentity/userAssignedIdentities/<profile>
		what = "the resource ID " + req.selValue
		segs := strings.Split(strings.TrimSuffix(req.selValue, "/"), "/")
		name := ""
		if n := len(segs); n >= 2 && strings.EqualFold(segs[n-2], "userAssignedIdentities") {
			name = segs[n-1]
		}
		match = func(p IdentityProfile) bool { return name != "" && p.Name == name }
	}
	var found []string
	for _, p := range profiles {
		if match(p) {
			if p.Name == req.profile {
				return p.Name, nil // the path settles a tie
			}
			found = append(found, p.Name)
		}
	}
	switch len(found) {
	case 0:
		return "", errIdentityNotFound(what)
	case 1:
		return found[0], nil
	}
	return "", badRequest(fmt.Sprintf("%s names several profiles (%s); put the one to use in the endpoint's path", what, strings.Join(found, ", ")), "ambiguous identity")
}

// ServeHTTP implements http.Handler.
func (h *Identity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	secret := ""
	if h.Secret != nil {
		secret = h.Secret()
	}
	req, ierr := parseIdentityRequest(r, secret)
	if ierr != nil {
		h.fail(w, r, req.proto, "", ierr, start)
		return
	}
	peer := ipc.Self()
	if h.Access != nil {
		var err error
		if peer, err = h.Access.AdmitRequest(r, access.Identity); err != nil {
			h.fail(w, r, req.proto, "", refused(err), start)
			return
		}
	}
	var profiles []IdentityProfile
	def := ""
	if h.Profiles != nil {
		profiles, def = h.Profiles()
	}
	if h.Access != nil {
		// A caller learns of the profiles it may use only: a profile named
		// (or the default) that it may not use is refused as one that does
		// not exist would be, and a selector sees only its profiles.
		if name := cmp.Or(req.profile, def); req.selKind == "" && name != "" {
			if err := h.Access.Use(peer, access.Identity, name); err != nil {
				h.fail(w, r, req.proto, name, refused(err), start)
				return
			}
		}
		profiles = slices.DeleteFunc(slices.Clone(profiles), func(p IdentityProfile) bool { return !h.Access.Allows(peer, p.Name) })
	}
	profile, ierr := selectProfile(req, profiles, def, h.ObjectID)
	if ierr != nil {
		h.fail(w, r, req.proto, "", ierr, start)
		return
	}
	if h.Access != nil {
		if err := h.Access.Use(peer, access.Identity, profile); err != nil {
			h.fail(w, r, req.proto, profile, refused(err), start)
			return
		}
	}
	scope := resourceScope(req.resource)
	tok, err := freshToken(r.Context(), h.Tokens, profile, []string{scope}, effectiveMinValid(h.MinValid), h.now)
	if err != nil {
		h.fail(w, r, req.proto, profile, tokenError(r.Context(), err, profile, w), start, zap.Error(err))
		return
	}
	clientID := ""
	for _, p := range profiles {
		if p.Name == profile {
			clientID = p.ClientID
		}
	}
	expiresIn := int64(tok.ExpiresOn.Sub(h.now()) / time.Second)
	// The answer body. Numbers are strings, as IMDS and App Service send
	// them: the Go and JS MSALs read expires_on, Terraform and the IMDS
	// path of MSAL Python read expires_in, Python's azure-identity caches
	// by resource.
	writeToken(w, func(b []byte) []byte {
		b = appendJSONString(b, "access_token", tok.Value.Reveal())
		if clientID != "" {
			b = appendJSONString(b, "client_id", clientID)
		}
		b = appendJSONString(b, "expires_in", strconv.FormatInt(expiresIn, 10))
		b = appendJSONString(b, "expires_on", strconv.FormatInt(tok.ExpiresOn.Unix(), 10))
		b = appendJSONString(b, "resource", req.resource)
		return appendJSONString(b, "token_type", "Bearer")
	})
	if h.Access != nil {
		h.Access.Granted(peer, access.Identity, profile, scope, tok.ExpiresOn)
	}
	h.log(r, req.proto, profile, http.StatusOK, "", start, zap.String("scope", scope), zap.Time("expires_on", tok.ExpiresOn))
}

// refused is the answer to a caller the access policy refuses: 403, or 429
// when it is over its rate limit.
func refused(err error) *identityError {
	e := &identityError{status: http.StatusForbidden, code: CodeAccessDenied,
		desc: "this caller may not use the daemon's tokens", reason: "peer refused: " + err.Error()}
	if d := (*access.Denied)(nil); errors.As(err, &d) && d.Busy {
		e.status, e.code, e.desc = http.StatusTooManyRequests, CodeUnavailable, "too many requests; slow down and try again"
	}
	return e
}

// tokenError maps a failure to get a token as every loopback endpoint does
// (failureOf), except that a failure retrying cannot mend is a 400, not a
// 500: the Azure SDKs and Terraform retry 5xx for up to minutes.
func tokenError(ctx context.Context, err error, profile string, w http.ResponseWriter) *identityError {
	f := failureOf(ctx, err, profile)
	if f.Status == http.StatusInternalServerError {
		f.Status, f.Code = http.StatusBadRequest, CodeInvalidRequest
	}
	setRetryAfter(w, f.RetryAfter)
	return &identityError{status: f.Status, code: f.Code, desc: strings.TrimPrefix(f.Description, "entra-helper: "), reason: "token error"}
}

// fail writes a refusal as JSON: {"error","error_description"}, and for the
// App Service protocol also the "statusCode" and "message" App Service
// itself sends (MSAL Python shows those two).
func (h *Identity) fail(w http.ResponseWriter, r *http.Request, proto, profile string, e *identityError, start time.Time, extra ...zap.Field) {
	body := errorBody{Error: e.code, Description: "entra-helper: " + e.desc}
	if proto == protoAppService {
		body.StatusCode, body.Message = e.status, body.Description
	}
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodGet)
	}
	writeErrorBody(w, e.status, body)
	h.log(r, proto, profile, e.status, e.reason, start, extra...)
}

func (h *Identity) now() time.Time {
	if h.Clock != nil {
		return h.Clock.Now()
	}
	return clock.Real{}.Now()
}

// log records one answer (see logAnswer): never the path or headers (they
// hold the secret), the query (it may hold an identity) nor a token.
func (h *Identity) log(r *http.Request, proto, profile string, status int, reason string, start time.Time, extra ...zap.Field) {
	if h.Log == nil || !h.Log.Core().Enabled(answerLevel(status)) {
		return // nothing built for a line nobody writes
	}
	if proto != "" {
		extra = append([]zap.Field{zap.String("protocol", proto)}, extra...)
	}
	logAnswer(h.Log, "managed-identity request", r, status, h.now().Sub(start), profile, reason, extra...)
}
