package entratest

import (
	"net/http"
	"strconv"
	"time"
)

// serveAdmin is the /_fake/ admin API, served only with Options.Admin, for
// tests that run the fake as a separate process (cmd/fake-entra):
//
//	POST /_fake/fail?status=503&retry_after=20   FailTokens (retry_after in seconds)
//	POST /_fake/heal                             Heal
//	POST /_fake/revoke?user=NAME                 RevokeRefreshTokens
//	POST /_fake/expire?user=NAME                 ExpireRefreshTokens
//	POST /_fake/consent?user=NAME                RequireConsent
//	POST /_fake/mfa?user=NAME                    RequireMFA
//	POST /_fake/latency?d=250ms                  SetLatency
//	POST /_fake/lifetime?d=5m                    SetTokenLifetime
//	POST /_fake/approve?user_code=C&user=NAME    ApproveDeviceCode
//	POST /_fake/federated-token?subject=S&audience=A   IssueFederatedToken (the JWT as text)
//	GET  /_fake/stats                            Stats as JSON
//
// Answers are JSON ({"ok":true} or {"error":"..."}), except federated-token.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(msg string) { writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg}) }
	ok := func() { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) }
	if r.URL.Path == "/_fake/stats" {
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET"})
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	switch r.URL.Path {
	case "/_fake/fail":
		status, err := strconv.Atoi(q.Get("status"))
		if err != nil || (status != http.StatusTooManyRequests && (status < 500 || status > 599)) {
			bad("status must be 429 or 5xx")
			return
		}
		var ra int
		if v := q.Get("retry_after"); v != "" {
			if ra, err = strconv.Atoi(v); err != nil || ra < 0 {
				bad("retry_after must be whole seconds")
				return
			}
		}
		s.FailTokens(status, time.Duration(ra)*time.Second)
		ok()
	case "/_fake/heal":
		s.Heal()
		ok()
	case "/_fake/revoke", "/_fake/expire", "/_fake/consent", "/_fake/mfa":
		user := q.Get("user")
		if user == "" {
			bad("user is required")
			return
		}
		switch r.URL.Path {
		case "/_fake/revoke":
			s.RevokeRefreshTokens(user)
		case "/_fake/expire":
			s.ExpireRefreshTokens(user)
		case "/_fake/consent":
			s.RequireConsent(user)
		default:
			s.RequireMFA(user)
		}
		ok()
	case "/_fake/latency", "/_fake/lifetime":
		d, err := time.ParseDuration(q.Get("d"))
		if err != nil || d < 0 {
			bad("d must be a duration such as 250ms")
			return
		}
		if r.URL.Path == "/_fake/latency" {
			s.SetLatency(d)
		} else {
			s.SetTokenLifetime(d)
		}
		ok()
	case "/_fake/approve":
		if err := s.ApproveDeviceCode(q.Get("user_code"), q.Get("user")); err != nil {
			bad(err.Error())
			return
		}
		ok()
	case "/_fake/federated-token":
		if q.Get("subject") == "" {
			bad("subject is required")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(s.IssueFederatedToken(q.Get("subject"), q.Get("audience"))))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown admin endpoint"})
	}
}
