package entratest

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// waitLatency waits d (SetLatency) before a request is answered; false if
// the client went away first. Tests that check for leaked goroutines ignore
// this function: it is the far end of a connection the daemon hung up on.
func waitLatency(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// handler routes every request of the TLS server.
func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.byPath[r.URL.Path]++
		latency := s.latency
		s.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/_fake/") {
			if s.opts.Admin {
				s.serveAdmin(w, r)
			} else {
				http.NotFound(w, r)
			}
			return
		}
		if !waitLatency(r, latency) {
			return
		}
		s.route(w, r)
	})
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(p, "/")
	lower := strings.ToLower(p)
	switch {
	case lower == "common/discovery/instance":
		s.serveInstanceDiscovery(w, r)
		return
	case strings.HasPrefix(lower, "common/userrealm/") && len(parts) == 3:
		s.serveUserRealm(w, r, parts[2])
		return
	case lower == "common/discovery/keys" || lower == "discovery/keys" || lower == "common/discovery/v2.0/keys":
		s.serveJWKS(w, "common")
		return
	case lower == "devicelogin":
		s.serveDeviceLogin(w, r)
		return
	case lower == "external/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                s.FederatedIssuer(),
			"jwks_uri":                              s.FederatedIssuer() + "/keys",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
		return
	case lower == "external/keys":
		writeJSON(w, http.StatusOK, map[string]any{"keys": []jwk{s.keys[1].jwk(s.FederatedIssuer())}})
		return
	case lower == "error":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("entratest: see the AADSTS code in the error description (code " + r.URL.Query().Get("code") + ")\n"))
		return
	}
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant, rest := strings.ToLower(parts[0]), strings.ToLower(strings.Join(parts[1:], "/"))
	switch rest {
	case "v2.0/.well-known/openid-configuration", "oauth2/v2.0/token", "oauth2/v2.0/authorize",
		"oauth2/v2.0/devicecode", "discovery/v2.0/keys", "discovery/keys":
	default:
		http.NotFound(w, r)
		return
	}
	if !s.knownTenant(tenant) {
		code := "invalid_request"
		if strings.HasPrefix(rest, "v2.0/") {
			code = "invalid_tenant"
		}
		if rest == "oauth2/v2.0/authorize" {
			s.errorPage(w, newErr(http.StatusBadRequest, code, 90002, "Tenant '%s' not found.", parts[0]))
			return
		}
		s.writeEntraError(w, r, newErr(http.StatusBadRequest, code, 90002,
			"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", parts[0]))
		return
	}
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		s.serveOpenIDConfig(w, tenant)
	case "discovery/v2.0/keys", "discovery/keys":
		s.serveJWKS(w, tenant)
	case "oauth2/v2.0/token":
		if r.Method != http.MethodPost {
			s.writeEntraError(w, r, newErr(http.StatusMethodNotAllowed, "invalid_request", 900561,
				"The endpoint only accepts POST requests. Received a %s request.", r.Method))
			return
		}
		s.serveToken(w, r, tenant)
	case "oauth2/v2.0/devicecode":
		if r.Method != http.MethodPost {
			s.writeEntraError(w, r, newErr(http.StatusMethodNotAllowed, "invalid_request", 900561,
				"The endpoint only accepts POST requests. Received a %s request.", r.Method))
			return
		}
		s.serveDeviceCode(w, r, tenant)
	case "oauth2/v2.0/authorize":
		s.serveAuthorize(w, r, tenant)
	}
}

func (s *Server) knownTenant(t string) bool {
	return t == s.tenant || t == "common" || t == "organizations" || slices.ContainsFunc(s.opts.Domains, func(d string) bool {
		return strings.EqualFold(d, t)
	})
}

// FederatedIssuer is the issuer URL of the external OIDC provider the fake
// also plays (its discovery document and JWKS are served under it).
// Tokens from IssueFederatedToken carry it as iss.
func (s *Server) FederatedIssuer() string { return s.url + "/external" }

// issuerV2 is the v2.0 issuer (ID tokens, discovery).
func (s *Server) issuerV2() string { return s.url + "/" + s.tenant + "/v2.0" }

// issuerV1 is the issuer of v1 access tokens, as Entra names it.
func (s *Server) issuerV1() string { return "https://sts.windows.net/" + s.tenant + "/" }

func (s *Server) serveOpenIDConfig(w http.ResponseWriter, tenant string) {
	base := s.url + "/" + tenant
	issuer := s.issuerV2()
	if tenant == "common" || tenant == "organizations" {
		issuer = s.url + "/{tenantid}/v2.0"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
			"cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce",
			"preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"tenant_region_scope":              "NA",
		"cloud_instance_name":              "microsoftonline.com",
		"cloud_graph_host_name":            "graph.windows.net",
		"msgraph_host":                     "graph.microsoft.com",
		"rbac_url":                         "https://pas.windows.net",
		"code_challenge_methods_supported": []string{"plain", "S256"},
	})
}

func (s *Server) serveJWKS(w http.ResponseWriter, tenant string) {
	issuer := s.issuerV2()
	if tenant == "common" || tenant == "organizations" {
		issuer = s.url + "/{tenantid}/v2.0"
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []jwk{s.keys[0].jwk(issuer)}})
}

func (s *Server) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimPrefix(s.url, "https://")
	ae := r.URL.Query().Get("authorization_endpoint")
	if u, err := url.Parse(ae); ae != "" && (err != nil || !strings.EqualFold(u.Host, host)) {
		s.writeEntraError(w, r, newErr(http.StatusBadRequest, "invalid_instance", 50049,
			"Unknown or invalid instance."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": s.url + "/{tenant}/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

func (s *Server) serveUserRealm(w http.ResponseWriter, r *http.Request, escaped string) {
	name, err := url.PathUnescape(escaped)
	if err != nil {
		name = escaped
	}
	domain := ""
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		domain = strings.ToLower(name[i+1:])
	}
	known := false
	s.mu.Lock()
	for u := range s.users {
		if domain != "" && strings.HasSuffix(u, "@"+domain) {
			known = true
		}
	}
	s.mu.Unlock()
	body := map[string]any{
		"ver":                 "1.0",
		"account_type":        "Unknown",
		"domain_name":         domain,
		"cloud_instance_name": "microsoftonline.com",
		"cloud_audience_urn":  "urn:federation:MicrosoftOnline",
	}
	if known {
		body["account_type"] = "Managed"
	}
	writeJSON(w, http.StatusOK, body)
}

var errorPageTmpl = template.Must(template.New("e").Parse(`<!DOCTYPE html>
<html><head><title>Sign in to your account</title></head>
<body><h1>Sorry, but we're having trouble signing you in.</h1>
<p id="error">AADSTS{{.Code}}: {{.Text}}</p></body></html>
`))

// errorPage is what Entra shows in the browser when it cannot redirect
// back (unknown client, redirect URI mismatch).
func (s *Server) errorPage(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.status)
	_ = errorPageTmpl.Execute(w, struct {
		Code int
		Text string
	}{e.aadsts, e.text})
}
