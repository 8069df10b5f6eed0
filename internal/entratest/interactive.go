package entratest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// serveAuthorize signs in the login_hint user (or the app's DefaultUser)
// without showing anything, like a person who clicks through, and sends the
// browser back to redirect_uri with code and state.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, newErr(http.StatusBadRequest, "invalid_request", 900144, "The request is malformed."))
		return
	}
	q := r.Form
	clientID := q.Get("client_id")
	if clientID == "" {
		s.errorPage(w, missingParam("client_id"))
		return
	}
	app := s.app(clientID)
	if app == nil {
		s.errorPage(w, newErr(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'.", clientID, s.tenant))
		return
	}
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if redirect == "" || err != nil || !redirectAllowed(app, ru) {
		s.errorPage(w, newErr(http.StatusBadRequest, "invalid_request", 50011,
			"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
			redirect, app.ClientID))
		return
	}
	mode := q.Get("response_mode")
	if mode == "" {
		mode = "query"
	}
	state := q.Get("state")
	fail := func(code string, e *apiError) {
		s.redirect(w, ru, mode, url.Values{
			"error":             {code},
			"error_description": {fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.text)},
			"error_uri":         {s.url + "/error?code=" + fmt.Sprint(e.aadsts)},
			"state":             {state},
		})
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", newErr(0, "", 700054, "response_type '%s' is not enabled for the application.", rt))
		return
	}
	method := q.Get("code_challenge_method")
	challenge := q.Get("code_challenge")
	if challenge != "" && method == "" {
		method = "plain"
	}
	if challenge != "" && method != "S256" && method != "plain" {
		fail("invalid_request", newErr(0, "", 50146, "Invalid code_challenge_method '%s'.", method))
		return
	}
	if _, e := parseScopes(q.Get("scope")); e != nil {
		fail("invalid_scope", e)
		return
	}
	username := q.Get("login_hint")
	if username == "" {
		username = app.DefaultUser
	}
	if username == "" {
		fail("login_required", newErr(0, "", 50058, "A silent sign-in request was sent but no user is signed in."))
		return
	}
	u := s.user(username)
	if u == nil {
		fail("invalid_request", newErr(0, "", 50034, "The user account {EUII Hidden} does not exist in the %s directory.", s.tenant))
		return
	}
	code := "1.A" + randToken(96)
	s.mu.Lock()
	delete(s.interaction, strings.ToLower(u.Username)) // an interactive sign-in satisfies consent and MFA
	s.codes[code] = &authCode{
		clientID:    app.ClientID,
		redirectURI: redirect,
		challenge:   challenge,
		method:      method,
		username:    u.Username,
		scope:       q.Get("scope"),
		nonce:       q.Get("nonce"),
		expires:     time.Now().Add(codeLifetime),
	}
	s.mu.Unlock()
	v := url.Values{"code": {code}, "session_state": {newUUID()}}
	if state != "" {
		v.Set("state", state)
	}
	s.redirect(w, ru, mode, v)
}

// redirectAllowed applies Entra's matching: exact, except that loopback
// redirect URIs match on any port. No registered URIs means any loopback.
func redirectAllowed(app *App, ru *url.URL) bool {
	loopback := ru.Scheme == "http" && (ru.Hostname() == "localhost" || ru.Hostname() == "127.0.0.1" || ru.Hostname() == "::1")
	if len(app.RedirectURIs) == 0 {
		return loopback
	}
	for _, reg := range app.RedirectURIs {
		if reg == ru.String() {
			return true
		}
		rr, err := url.Parse(reg)
		if err == nil && loopback && rr.Scheme == ru.Scheme && rr.Hostname() == ru.Hostname() && rr.Path == ru.Path {
			return true
		}
	}
	return false
}

var formPostTmpl = template.Must(template.New("f").Parse(`<html><head><title>Working...</title></head>
<body><form method="POST" name="hiddenform" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}" />
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript>
</form><script language="javascript">document.forms[0].submit();</script></body></html>
`))

// redirect sends v to ru by query (302), fragment (302) or form_post (an
// auto-submitting HTML form).
func (s *Server) redirect(w http.ResponseWriter, ru *url.URL, mode string, v url.Values) {
	for k, vs := range v {
		if len(vs) == 1 && vs[0] == "" {
			v.Del(k)
		}
	}
	switch mode {
	case "form_post":
		type field struct{ Name, Value string }
		var fields []field
		for _, k := range []string{"code", "state", "session_state", "error", "error_description", "error_uri"} {
			if val := v.Get(k); val != "" {
				fields = append(fields, field{k, val})
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store, no-cache")
		_ = formPostTmpl.Execute(w, struct {
			Action string
			Fields []field
		}{ru.String(), fields})
	case "fragment":
		u := *ru
		u.Fragment = ""
		http.Redirect(w, &http.Request{Method: http.MethodGet}, u.String()+"#"+v.Encode(), http.StatusFound)
	default:
		u := *ru
		q := u.Query()
		for k, vs := range v {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, &http.Request{Method: http.MethodGet}, u.String(), http.StatusFound)
	}
}

// serveDeviceCode starts a device code flow.
func (s *Server) serveDeviceCode(w http.ResponseWriter, r *http.Request, tenant string) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeEntraError(w, r, missingParam("client_id"))
		return
	}
	s.mu.Lock()
	failStatus, failRetry := s.failStatus, s.failRetry
	s.mu.Unlock()
	if failStatus != 0 {
		s.writeEntraError(w, r, outageError(failStatus, failRetry))
		return
	}
	tr := &tokenRequest{r: r, form: r.PostForm, tenant: tenant}
	if e := s.authenticateClient(tr); e != nil {
		s.writeEntraError(w, r, e)
		return
	}
	scope := tr.form.Get("scope")
	if scope == "" {
		s.writeEntraError(w, r, missingParam("scope"))
		return
	}
	if _, e := parseScopes(scope); e != nil {
		s.writeEntraError(w, r, e)
		return
	}
	dc := "DAQABAAEAAAD" + randToken(96)
	uc := userCode()
	verify := s.url + "/devicelogin"
	g := &deviceGrant{clientID: tr.app.ClientID, scope: scope, userCode: uc,
		expires: time.Now().Add(s.opts.DeviceCodeLifetime)}
	s.mu.Lock()
	if s.opts.AutoApproveDeviceCodes {
		g.username = tr.app.DefaultUser
		if g.username == "" && len(s.users) == 1 {
			for _, u := range s.users {
				g.username = u.Username
			}
		}
		g.approved = g.username != ""
	}
	s.devices[dc] = g
	s.userCodes[uc] = dc
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"user_code":        uc,
		"device_code":      dc,
		"verification_uri": verify,
		"expires_in":       int64(s.opts.DeviceCodeLifetime / time.Second),
		"interval":         5,
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.",
			verify, uc),
	})
}

// userCode returns a 9-character code of capitals and digits, like Entra's.
func userCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ApproveDeviceCode signs username in for the device code flow showing
// userCode, as the person at the browser would.
func (s *Server) ApproveDeviceCode(userCode, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dc, ok := s.userCodes[strings.ToUpper(strings.TrimSpace(userCode))]
	if !ok {
		return errors.New("entratest: unknown user code")
	}
	g := s.devices[dc]
	if username == "" {
		if a, ok := s.apps[strings.ToLower(g.clientID)]; ok {
			username = a.DefaultUser
		}
	}
	u, ok := s.users[strings.ToLower(username)]
	if !ok {
		return fmt.Errorf("entratest: unknown user %q", username)
	}
	if time.Now().After(g.expires) {
		return errors.New("entratest: the code has expired")
	}
	g.username, g.approved = u.Username, true
	delete(s.interaction, strings.ToLower(u.Username))
	return nil
}

var deviceLoginTmpl = template.Must(template.New("d").Parse(`<!DOCTYPE html>
<html><head><title>Enter code</title></head><body>
{{if .Done}}<h1>{{.Done}}</h1>{{else}}<h1>Enter code</h1>{{if .Err}}<p id="error">{{.Err}}</p>{{end}}
<form method="GET"><input name="user_code" placeholder="Code"/> <input name="username" placeholder="Username (optional)"/>
<input type="submit" value="Next"/></form>{{end}}</body></html>
`))

// serveDeviceLogin is the verification_uri: GET ?user_code=..[&username=..]
// approves the code (as username, or the app's DefaultUser).
func (s *Server) serveDeviceLogin(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("user_code")
	data := struct{ Done, Err string }{}
	status := http.StatusOK
	if code != "" {
		if err := s.ApproveDeviceCode(code, r.URL.Query().Get("username")); err != nil {
			data.Err = strings.TrimPrefix(err.Error(), "entratest: ")
			status = http.StatusBadRequest
		} else {
			data.Done = "You have signed in on your device. You may now close this window."
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = deviceLoginTmpl.Execute(w, data)
}

// IssueFederatedToken returns a JWT from the external OIDC issuer the fake
// plays (iss FederatedIssuer(), signed by its own key, whose JWKS is served
// at FederatedIssuer()+"/keys"), valid for an hour. Register
// FederatedCredential{Issuer: s.FederatedIssuer(), Subject: subject} on an
// App to accept it as that app's client assertion. An empty audience means
// DefaultFederatedAudience.
func (s *Server) IssueFederatedToken(subject, audience string) string {
	if audience == "" {
		audience = DefaultFederatedAudience
	}
	now := time.Now()
	tok, err := signJWT(s.keys[1].key, map[string]any{"kid": s.keys[1].kid}, map[string]any{
		"iss": s.FederatedIssuer(),
		"sub": subject,
		"aud": audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"jti": newUUID(),
	})
	if err != nil {
		panic("entratest: signing a federated token: " + err.Error()) // RSA signing with a valid key cannot fail
	}
	return tok
}
