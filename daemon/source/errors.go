package source

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
)

// EntraError is the JSON error body of Entra's token endpoint (and, loosely,
// of managed identity endpoints, which use "message" for the description).
type EntraError struct {
	Code          string // "error", e.g. "invalid_grant"
	Description   string // "error_description"
	Codes         []int  // "error_codes", e.g. [700082]
	SubError      string // "suberror", e.g. "bad_token"
	TraceID       string // "trace_id"
	CorrelationID string // "correlation_id"
}

// AADSTS returns the primary AADSTS code ("AADSTS700082"), taken from
// error_codes or else from the description's prefix; "" when there is none.
func (e EntraError) AADSTS() string {
	if len(e.Codes) > 0 && e.Codes[0] > 0 {
		return "AADSTS" + strconv.Itoa(e.Codes[0])
	}
	if m := aadstsRE.FindString(e.Description); m != "" {
		return m
	}
	return ""
}

var aadstsRE = regexp.MustCompile(`AADSTS[0-9]{4,7}`)

// ParseEntraError decodes an Entra error body. ok is false when body is not a
// JSON object carrying at least an error code, a description or error codes.
func ParseEntraError(body []byte) (e EntraError, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return EntraError{}, false
	}
	var raw struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		ErrorCodes       []json.Number   `json:"error_codes"`
		SubError         string          `json:"suberror"`
		TraceID          string          `json:"trace_id"`
		CorrelationID    string          `json:"correlation_id"`
		Message          string          `json:"message"`
		Msg              string          `json:"Message"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return EntraError{}, false
	}
	e = EntraError{
		Description:   raw.ErrorDescription,
		SubError:      raw.SubError,
		TraceID:       raw.TraceID,
		CorrelationID: raw.CorrelationID,
	}
	// "error" is a string at Entra; some managed identity endpoints nest an
	// object {"code": "...", "message": "..."}.
	if len(raw.Error) > 0 {
		var s string
		if json.Unmarshal(raw.Error, &s) == nil {
			e.Code = s
		} else {
			var nested struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			if json.Unmarshal(raw.Error, &nested) == nil {
				e.Code = nested.Code
				if e.Description == "" {
					e.Description = nested.Message
				}
			}
		}
	}
	if e.Description == "" {
		e.Description = raw.Message
	}
	if e.Description == "" {
		e.Description = raw.Msg
	}
	for _, n := range raw.ErrorCodes {
		if v, err := strconv.Atoi(n.String()); err == nil && v > 0 {
			e.Codes = append(e.Codes, v)
		}
	}
	if e.Code == "" && e.Description == "" && len(e.Codes) == 0 {
		return EntraError{}, false
	}
	return e, true
}

// errNotSignedIn marks "nothing stored for this profile".
var errNotSignedIn = errors.New("nothing stored for the profile")

// msalNoToken is what MSAL's silent acquisition says when its cache holds
// no refresh token for the account.
const msalNoToken = "no token found"

// Classify turns err (from MSAL, the network, the store or this package) into
// an *tokensource.Error whose Message names profile p and says what to do. It never
// puts MSAL's error text into Message (it may embed requests and responses);
// Err keeps a sanitized cause for logs. An *tokensource.Error is returned unchanged;
// nil stays nil.
func Classify(p *config.Profile, err error, now time.Time) error {
	if err == nil {
		return nil
	}
	var ae *tokensource.Error
	if errors.As(err, &ae) {
		return ae
	}
	name := p.Name
	login := "entra-helper login -p " + name
	switch {
	case errors.Is(err, errNotSignedIn), strings.Contains(err.Error(), msalNoToken),
		strings.Contains(err.Error(), "no account was specified"):
		return &tokensource.Error{Kind: tokensource.KindNeedsLogin, Err: errNotSignedIn,
			Message: fmt.Sprintf("profile %s is not signed in: run `%s`", name, login)}
	case errors.Is(err, context.Canceled):
		return &tokensource.Error{Kind: tokensource.KindFailed, Err: context.Canceled,
			Message: fmt.Sprintf("the request for profile %s was cancelled", name)}
	case errors.Is(err, context.DeadlineExceeded):
		return &tokensource.Error{Kind: tokensource.KindUnavailable, Err: context.DeadlineExceeded,
			Message: fmt.Sprintf("Entra did not answer in time for profile %s: try again later", name)}
	}

	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		return classifyHTTP(p, ce, now)
	}
	var pce *msalerrors.CallErr
	if errors.As(err, &pce) && pce != nil && pce.Resp != nil {
		return classifyHTTP(p, *pce, now)
	}

	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return &tokensource.Error{Kind: tokensource.KindFailed, Err: sanitize(err),
			Message: fmt.Sprintf("the TLS certificate of %s is not trusted for profile %s: check SSL_CERT_FILE and HTTPS_PROXY", p.AuthorityBaseURL(), name)}
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &de) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "server response error") {
		return &tokensource.Error{Kind: tokensource.KindUnavailable, Err: sanitize(err),
			Message: fmt.Sprintf("cannot reach Entra for profile %s: check the network, HTTPS_PROXY and the authority host", name)}
	}
	return &tokensource.Error{Kind: tokensource.KindFailed, Err: sanitize(err),
		Message: fmt.Sprintf("getting a token for profile %s failed: the daemon log has the cause", name)}
}

// classifyHTTP maps an HTTP error answer from Entra or a managed identity
// endpoint.
func classifyHTTP(p *config.Profile, ce msalerrors.CallErr, now time.Time) *tokensource.Error {
	status := ce.Resp.StatusCode
	body := callErrBody(ce)
	ee, parsed := ParseEntraError(body)
	out := mapEntra(p, status, ee, parsed)
	if ra := retryAfter(ce.Resp.Header.Get("Retry-After"), now); ra > 0 {
		out.RetryAfter = ra
	}
	if out.Err == nil {
		cause := fmt.Sprintf("HTTP %d from %s", status, endpointOf(ce.Req))
		if ee.Code != "" {
			cause += ": " + ee.Code
		}
		if a := ee.AADSTS(); a != "" {
			cause += " " + a
		}
		if ee.SubError != "" {
			cause += " (" + ee.SubError + ")"
		}
		if ee.TraceID != "" {
			cause += " trace_id=" + ee.TraceID
		}
		if ee.CorrelationID != "" {
			cause += " correlation_id=" + ee.CorrelationID
		}
		out.Err = errors.New(cause)
	}
	return out
}

// callErrBody returns the response body of ce, leaving it readable again.
// Some MSAL paths consume the body before building the error; then the body
// is recovered from the error text, which ends with it.
func callErrBody(ce msalerrors.CallErr) []byte {
	if ce.Resp.Body != nil {
		b, err := io.ReadAll(io.LimitReader(ce.Resp.Body, 1<<20))
		ce.Resp.Body = io.NopCloser(bytes.NewReader(b))
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return b
		}
	}
	if ce.Err != nil {
		s := ce.Err.Error()
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			return []byte(s[i+1:])
		}
	}
	return nil
}

// endpointOf names the host and path of req, never its query.
func endpointOf(req *http.Request) string {
	if req == nil || req.URL == nil {
		return "the identity provider"
	}
	return req.URL.Host + req.URL.Path
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// has reports whether e carries any of the AADSTS numbers.
func (e EntraError) has(codes ...int) bool {
	for _, c := range e.Codes {
		for _, want := range codes {
			if c == want {
				return true
			}
		}
	}
	a := e.AADSTS()
	for _, want := range codes {
		if a == "AADSTS"+strconv.Itoa(want) {
			return true
		}
	}
	return false
}

// mapEntra maps one Entra error answer to advice. Its Err is left nil for
// classifyHTTP to fill in.
func mapEntra(p *config.Profile, status int, ee EntraError, parsed bool) *tokensource.Error {
	name := p.Name
	login := "entra-helper login -p " + name
	mk := func(k tokensource.Kind, msg string) *tokensource.Error {
		return &tokensource.Error{Kind: k, Code: ee.Code, AADSTS: ee.AADSTS(), Message: msg}
	}
	needsLogin := fmt.Sprintf("the sign-in of profile %s has expired or was revoked: sign in again: %s", name, login)
	interactive := fmt.Sprintf("profile %s needs consent or multi-factor authentication: sign in with the browser flow (flow = \"browser\" in the config), then run `%s`", name, login)

	switch {
	case status == http.StatusTooManyRequests:
		return mk(tokensource.KindUnavailable, fmt.Sprintf("Entra is throttling requests for profile %s: try again later", name))
	case ee.Code == "temporarily_unavailable" || status >= 500:
		return mk(tokensource.KindUnavailable, fmt.Sprintf("Entra is failing (HTTP %d) for profile %s: try again later", status, name))

	// Credentials of confidential clients.
	case ee.has(7000215):
		return mk(tokensource.KindFailed, fmt.Sprintf("the client secret of profile %s is wrong: paste the secret's Value, not its Secret ID, then run `%s --secret-stdin`", name, login))
	case ee.has(7000222):
		return mk(tokensource.KindFailed, fmt.Sprintf("the client secret of profile %s has expired: create a new one in the app registration, then run `%s --secret-stdin`", name, login))
	case ee.has(700027, 700023, 700021, 700024) && p.Flow == config.FlowClientCertificate:
		return mk(tokensource.KindFailed, fmt.Sprintf("the certificate of profile %s was not accepted: upload it to the app registration (or allow subject name and issuer authentication) and check that it has not expired", name))
	case ee.has(700211, 700212, 700213, 70021, 700024, 700027) && p.Flow == config.FlowFederated:
		return mk(tokensource.KindFailed, fmt.Sprintf("the federated token of profile %s was rejected: check the app's federated credential (issuer, subject, audience) and that %s holds a current token", name, p.FederatedTokenFile))
	case ee.has(7000218, 700025) || (ee.Code == "invalid_client" && isPublicFlow(p.Flow)):
		return mk(tokensource.KindFailed, fmt.Sprintf("the app of profile %s is not a public client: enable \"Allow public client flows\" in its app registration, or use a confidential flow", name))
	case ee.Code == "invalid_client":
		return mk(tokensource.KindFailed, fmt.Sprintf("the client credential of profile %s was rejected: check the secret or certificate, then run `%s`", name, login))

	// Configuration: app, tenant, redirect URI, scopes.
	case ee.has(700016) || ee.Code == "unauthorized_client":
		return mk(tokensource.KindFailed, fmt.Sprintf("the application %s of profile %s was not found in tenant %s (or may not use this flow): check client_id and tenant in the config", p.ClientID, name, p.Tenant))
	case ee.has(90002, 900023, 90072) || ee.Code == "invalid_tenant":
		return mk(tokensource.KindFailed, fmt.Sprintf("the tenant %s of profile %s was not found: check tenant and cloud in the config", p.Tenant, name))
	case ee.has(50011, 500113):
		return mk(tokensource.KindFailed, fmt.Sprintf("the redirect URI of profile %s does not match the app registration: add http://localhost as a \"Mobile and desktop applications\" redirect URI", name))
	case ee.has(70011, 28000, 28003) || ee.Code == "invalid_scope":
		return mk(tokensource.KindUsage, fmt.Sprintf("a scope requested for profile %s is not valid: check --scope/--resource and the profile's scopes", name))
	case ee.has(500011, 500001) || ee.Code == "invalid_resource":
		return mk(tokensource.KindUsage, fmt.Sprintf("the resource requested for profile %s was not found in tenant %s: check --scope/--resource", name, p.Tenant))

	// The user.
	case ee.has(50126, 50034):
		return mk(tokensource.KindFailed, fmt.Sprintf("wrong username or password for profile %s: run `%s --password-stdin`", name, login))
	case ee.has(50053):
		return mk(tokensource.KindFailed, fmt.Sprintf("the account of profile %s is locked: wait, then run `%s`", name, login))
	case ee.has(50057):
		return mk(tokensource.KindFailed, fmt.Sprintf("the account of profile %s is disabled", name))
	case ee.has(50055):
		return mk(tokensource.KindNeedsLogin, fmt.Sprintf("the password of profile %s's account has expired: change it, then run `%s`", name, login))
	case ee.has(65001, 65004, 50076, 50079, 50078, 50158, 50072, 50074) ||
		ee.Code == "interaction_required" || ee.Code == "consent_required" ||
		ee.SubError == "consent_required" || ee.SubError == "basic_action" || ee.SubError == "additional_action":
		return mk(tokensource.KindNeedsLogin, interactive)
	case ee.has(53003, 53000, 53001, 530003):
		return mk(tokensource.KindFailed, fmt.Sprintf("a Conditional Access policy blocks profile %s from here: ask your Entra administrator", name))

	// Device code.
	case ee.Code == "authorization_declined":
		return mk(tokensource.KindFailed, fmt.Sprintf("the sign-in of profile %s was declined", name))
	case ee.Code == "expired_token" || ee.has(70020):
		return mk(tokensource.KindNeedsLogin, fmt.Sprintf("the device code of profile %s expired before the sign-in finished: run `%s` again", name, login))

	// Refresh tokens and codes.
	case ee.has(700082, 50173, 70043, 70008, 700084, 50133, 50089, 700081) ||
		ee.Code == "invalid_grant" || ee.SubError == "bad_token" || ee.SubError == "token_expired":
		return mk(tokensource.KindNeedsLogin, needsLogin)

	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return mk(tokensource.KindFailed, fmt.Sprintf("the identity provider refused profile %s (HTTP %d): check its credentials and permissions", name, status))
	}
	if parsed {
		if d := safeDescription(ee.Description); d != "" {
			return mk(tokensource.KindFailed, fmt.Sprintf("Entra refused the request of profile %s: %s", name, d))
		}
	}
	return mk(tokensource.KindFailed, fmt.Sprintf("Entra refused the request of profile %s (HTTP %d)", name, status))
}

// isPublicFlow reports whether flow signs a user in through a public client.
func isPublicFlow(flow string) bool {
	switch flow {
	case config.FlowBrowser, config.FlowDeviceCode, config.FlowUsernamePassword, config.FlowRefreshToken:
		return true
	}
	return false
}

// safeDescription returns the first sentence of an Entra error description,
// without the AADSTS prefix and trace lines, or "" when it looks like it
// could carry a token.
func safeDescription(d string) string {
	if i := strings.IndexAny(d, "\r\n"); i >= 0 {
		d = d[:i]
	}
	d = strings.TrimSpace(aadstsPrefixRE.ReplaceAllString(d, ""))
	if i := strings.Index(d, ". "); i >= 0 {
		d = d[:i+1]
	}
	if len(d) > 200 {
		d = d[:200]
	}
	if strings.Contains(d, "eyJ") || !isPrintable(d) {
		return ""
	}
	return d
}

var aadstsPrefixRE = regexp.MustCompile(`^AADSTS[0-9]+:\s*`)

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// sanitize keeps a cause for logs that cannot carry a secret: the first line
// of err's text, dropped entirely when it holds an HTTP exchange, a raw
// response or anything token-like.
func sanitize(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	lower := strings.ToLower(s)
	for _, bad := range []string{"http call", "raw message", "eyj", "secret", "password", "assertion", "token="} {
		if strings.Contains(lower, bad) {
			return fmt.Errorf("%T (details withheld: they may hold secrets)", err)
		}
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return errors.New(strings.TrimSpace(s))
}
