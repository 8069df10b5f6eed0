package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
)

// Codes of the "error" member of the loopback endpoints' JSON error bodies,
// after OAuth 2.0 (RFC 6749 §5.2) where it has one.
const (
	CodeInvalidRequest   = "invalid_request"         // 400
	CodeLoginRequired    = "login_required"          // 401: run entra-helper login
	CodeAccessDenied     = "access_denied"           // 403
	CodeNotFound         = "not_found"               // 404
	CodeMethodNotAllowed = "method_not_allowed"      // 405
	CodeServerError      = "server_error"            // 500
	CodeUnavailable      = "temporarily_unavailable" // 503
)

// errorBody is what every loopback endpoint answers an error with: some
// clients (the Databricks Python SDK) parse every body as JSON.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	// App Service's own members, which MSAL Python shows (the
	// managed-identity endpoint's App Service protocol only).
	StatusCode int    `json:"statusCode,omitempty"`
	Message    string `json:"message,omitempty"`
}

// writeError answers status with {"error": code, "error_description":
// description}. The description is one sentence for a person; it never holds
// a token or the path secret.
func writeError(w http.ResponseWriter, status int, code, description string) {
	writeErrorBody(w, status, errorBody{Error: code, Description: description})
}

// writeErrorBody answers status with body as JSON.
func writeErrorBody(w http.ResponseWriter, status int, b errorBody) {
	body, _ := json.Marshal(b) // strings and an int: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body) // no newline: the Go SDK shows the body verbatim inside its own sentence
}

// tokenFailure is how an endpoint answers a failure to get a token.
type tokenFailure struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration // 0: no Retry-After header
}

// write answers with f, with a Retry-After header when f has one.
func (f tokenFailure) write(w http.ResponseWriter) {
	setRetryAfter(w, f.RetryAfter)
	writeError(w, f.Status, f.Code, f.Description)
}

// setRetryAfter sets the Retry-After header to d in whole seconds, rounded
// up; nothing when d is 0.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// failureOf maps a failure to get a token of profile to its answer: 401 when
// only a sign-in helps, 503 when Entra is unreachable, failing or the request
// was canceled, 500 otherwise. The description names the profile once.
func failureOf(ctx context.Context, err error, profile string) tokenFailure {
	f := tokenFailure{Status: http.StatusInternalServerError, Code: CodeServerError}
	msg := ""
	var ae *tokensource.Error
	if errors.As(err, &ae) {
		msg = ae.Error()
	}
	switch tokensource.KindOf(err) {
	case tokensource.KindNeedsLogin:
		f.Status, f.Code = http.StatusUnauthorized, CodeLoginRequired
		if msg == "" {
			msg = "the profile needs an interactive sign-in"
		}
		if !strings.Contains(msg, "entra-helper login") {
			msg += "; run: entra-helper login -p " + profile
		}
	case tokensource.KindUnavailable:
		f.Status, f.Code = http.StatusServiceUnavailable, CodeUnavailable
		if ae != nil {
			f.RetryAfter = ae.RetryAfter
		}
	}
	if ctx.Err() != nil {
		f.Status, f.Code, f.RetryAfter, msg = http.StatusServiceUnavailable, CodeUnavailable, 0, "the request was canceled"
	}
	if msg == "" {
		msg = "cannot get a token; see the daemon's log (entra-helper status)"
	}
	f.Description = "entra-helper: " + withProfile(msg, profile)
	return f
}

// withProfile returns msg naming profile once: as it is when it already
// says "profile NAME" or `profile "NAME"`, else with `profile "NAME": ` before it.
func withProfile(msg, profile string) string {
	if profile == "" || strings.Contains(msg, "profile "+profile) || strings.Contains(msg, `profile "`+profile+`"`) {
		return msg
	}
	return `profile "` + profile + `": ` + msg
}
