package entratest

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Grant types of the token endpoint.
const (
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantAuthorizationCode = "authorization_code"
	// GrantDeviceCode is what MSAL sends; the RFC 8628 URN is accepted and
	// counted as this too.
	GrantDeviceCode    = "device_code"
	grantDeviceCodeURN = "urn:ietf:params:oauth:grant-type:device_code"
	// GrantManagedIdentity counts requests to the managed identity endpoint.
	GrantManagedIdentity = "managed_identity"

	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	codeLifetime        = 10 * time.Minute
	clockSkew           = 5 * time.Minute
)

type authCode struct {
	clientID, redirectURI, challenge, method, username, scope, nonce string
	expires                                                          time.Time
	used                                                             bool
}

type refreshGrant struct {
	clientID, username, scope string
	issued, expires           time.Time
	revoked, used             bool
}

type deviceGrant struct {
	clientID, scope, userCode, username string
	expires                             time.Time
	approved, redeemed                  bool
}

// tokenRequest is what a grant handler needs of one request.
type tokenRequest struct {
	r      *http.Request
	form   url.Values
	tenant string // tenant path segment used
	app    *App
	acr    string // appidacr: 0 public, 1 secret, 2 certificate/assertion
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeEntraError(w, r, newErr(http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'grant_type'."))
		return
	}
	grant := r.PostForm.Get("grant_type")
	if grant == grantDeviceCodeURN {
		grant = GrantDeviceCode
	}
	s.mu.Lock()
	s.tokenTotal++
	s.tokenByType[grant]++
	failStatus, failRetry := s.failStatus, s.failRetry
	s.mu.Unlock()
	if failStatus != 0 {
		s.writeEntraError(w, r, outageError(failStatus, failRetry))
		return
	}
	if grant == "" {
		s.writeEntraError(w, r, missingParam("grant_type"))
		return
	}
	tr := &tokenRequest{r: r, form: r.PostForm, tenant: tenant}
	var resp map[string]any
	var e *apiError
	switch grant {
	case GrantClientCredentials:
		resp, e = s.grantClientCredentials(tr)
	case GrantRefreshToken:
		resp, e = s.grantRefresh(tr)
	case GrantPassword:
		resp, e = s.grantPassword(tr)
	case GrantAuthorizationCode:
		resp, e = s.grantAuthCode(tr)
	case GrantDeviceCode:
		resp, e = s.grantDeviceCode(tr)
	default:
		e = newErr(http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '%s'.", grant)
	}
	if e != nil {
		s.writeEntraError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// badToken is an invalid_grant for a refresh token that can no longer be
// used; Entra marks those with suberror bad_token.
func badToken(status int, code string, aadsts int, format string, args ...any) *apiError {
	e := newErr(status, code, aadsts, format, args...)
	e.suberror = "bad_token"
	return e
}

func missingParam(name string) *apiError {
	return newErr(http.StatusBadRequest, "invalid_request", 900144,
		"The request body must contain the following parameter: '%s'.", name)
}

// authenticateClient finds the app and checks the client credential the
// request presents (client_secret, HTTP Basic, or client_assertion).
func (s *Server) authenticateClient(tr *tokenRequest) *apiError {
	f := tr.form
	clientID, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := tr.r.BasicAuth(); ok {
		if bu, err := url.QueryUnescape(u); err == nil {
			u = bu
		}
		if bp, err := url.QueryUnescape(p); err == nil {
			p = bp
		}
		if clientID == "" {
			clientID = u
		}
		secret = p
	}
	if clientID == "" {
		return missingParam("client_id")
	}
	app := s.app(clientID)
	if app == nil {
		return newErr(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			clientID, s.tenant)
	}
	tr.app = app
	assertion := f.Get("client_assertion")
	switch {
	case (secret != "" || assertion != "") && app.Public:
		return newErr(http.StatusUnauthorized, "invalid_client", 700025,
			"Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
	case secret != "":
		if app.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) != 1 {
			return newErr(http.StatusUnauthorized, "invalid_client", 7000215,
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID)
		}
		tr.acr = "1"
	case assertion != "":
		if f.Get("client_assertion_type") != clientAssertionType {
			return newErr(http.StatusBadRequest, "invalid_request", 700020,
				"The client_assertion_type parameter must be '%s'.", clientAssertionType)
		}
		if e := s.checkAssertion(tr, assertion); e != nil {
			return e
		}
		tr.acr = "2"
	case app.Public:
		tr.acr = "0"
	default:
		return newErr(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	return nil
}

func invalidAssertion(aadsts int, format string, args ...any) *apiError {
	return newErr(http.StatusUnauthorized, "invalid_client", aadsts, format, args...)
}

// checkAssertion verifies a client assertion: one the app signed with its
// certificate (iss = sub = client_id), or an external token matching one of
// its federated credentials.
func (s *Server) checkAssertion(tr *tokenRequest, assertion string) *apiError {
	p, err := parseJWT(assertion)
	if err != nil {
		return invalidAssertion(50027, "JWT token is invalid or malformed.")
	}
	app := tr.app
	now := time.Now()
	if e := checkTimes(p, now); e != nil {
		return e
	}
	iss := p.str("iss", false)
	if strings.EqualFold(iss, app.ClientID) {
		if !strings.EqualFold(p.str("sub", false), app.ClientID) {
			return invalidAssertion(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
		}
		if app.Certificate == nil || !certMatchesThumbprint(app.Certificate, p.Header) {
			return invalidAssertion(700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]")
		}
		pub, ok := app.Certificate.PublicKey.(*rsa.PublicKey)
		if !ok || p.verify(pub) != nil {
			return invalidAssertion(700027, "Client assertion failed signature validation.")
		}
		if !s.assertionAudienceOK(p.aud(), tr.tenant) {
			return invalidAssertion(700023, "Client assertion audience claim does not match Realm issuer.")
		}
		return nil
	}
	var byIssuer []FederatedCredential
	for _, fc := range app.Federated {
		if fc.Issuer == iss {
			byIssuer = append(byIssuer, fc)
		}
	}
	if len(byIssuer) == 0 {
		return invalidAssertion(700211, "No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", iss)
	}
	if iss != s.FederatedIssuer() {
		return invalidAssertion(50166, "Request to External OIDC endpoint failed.")
	}
	if p.str("kid", true) != s.keys[1].kid || p.verify(&s.keys[1].key.PublicKey) != nil {
		return invalidAssertion(700027, "Client assertion failed signature validation.")
	}
	sub := p.str("sub", false)
	var bySubject []FederatedCredential
	for _, fc := range byIssuer {
		if fc.Subject == sub {
			bySubject = append(bySubject, fc)
		}
	}
	if len(bySubject) == 0 {
		return invalidAssertion(700213, "No matching federated identity record found for presented assertion subject '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", sub)
	}
	for _, fc := range bySubject {
		if slices.Contains(p.aud(), fc.Audience) {
			return nil
		}
	}
	return invalidAssertion(700212, "No matching federated identity record found for presented assertion audience '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", strings.Join(p.aud(), ","))
}

func checkTimes(p *jwtParts, now time.Time) *apiError {
	exp, hasExp := p.num("exp")
	nbf, hasNbf := p.num("nbf")
	if !hasExp || now.After(time.Unix(exp, 0).Add(clockSkew)) || (hasNbf && now.Add(clockSkew).Before(time.Unix(nbf, 0))) {
		return invalidAssertion(700024, "Client assertion is not within its valid time range. Current time: %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// assertionAudienceOK accepts the token endpoints (v2 and v1) and the
// issuer of the tenant, under the path tenant or the tenant ID.
func (s *Server) assertionAudienceOK(auds []string, pathTenant string) bool {
	for _, a := range auds {
		for _, t := range []string{pathTenant, s.tenant} {
			base := s.url + "/" + t
			for _, ok := range []string{base + "/oauth2/v2.0/token", base + "/oauth2/token", base + "/v2.0", base + "/"} {
				if strings.EqualFold(a, ok) {
					return true
				}
			}
		}
	}
	return false
}

// scopes is the parsed scope parameter.
type scopes struct {
	raw      []string // as sent, minus duplicates
	oidc     map[string]bool
	resource string   // aud of the access token
	perms    []string // scp (user tokens)
	dflt     bool     // <resource>/.default was asked for
}

var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

func parseScopes(scope string) (scopes, *apiError) {
	sc := scopes{oidc: map[string]bool{}}
	for _, f := range strings.Fields(scope) {
		if slices.Contains(sc.raw, f) {
			continue
		}
		sc.raw = append(sc.raw, f)
		if oidcScopes[strings.ToLower(f)] {
			sc.oidc[strings.ToLower(f)] = true
			continue
		}
		res, perm := GraphResource, f
		if i := strings.LastIndexByte(f, '/'); i >= 0 {
			res, perm = f[:i], f[i+1:]
		}
		if sc.resource != "" && !strings.EqualFold(sc.resource, res) {
			return sc, newErr(http.StatusBadRequest, "invalid_scope", 28000,
				"Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", scope)
		}
		sc.resource = res
		if perm == ".default" {
			sc.dflt = true
			perm = "user_impersonation"
		}
		if !slices.Contains(sc.perms, perm) {
			sc.perms = append(sc.perms, perm)
		}
	}
	if sc.resource == "" {
		sc.resource = GraphResource
		sc.perms = []string{"openid", "profile", "email"}
	}
	return sc, nil
}

// granted is the scope string of a user token response.
func (sc scopes) granted() string {
	var out []string
	for _, s := range sc.raw {
		if !oidcScopes[strings.ToLower(s)] {
			out = append(out, s)
		}
	}
	for _, s := range []string{"openid", "profile", "email", "offline_access"} {
		if sc.oidc[s] {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

func (s *Server) grantClientCredentials(tr *tokenRequest) (map[string]any, *apiError) {
	if e := s.authenticateClient(tr); e != nil {
		return nil, e
	}
	if tr.app.Public || tr.acr == "0" {
		return nil, newErr(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	scope := tr.form.Get("scope")
	if scope == "" {
		return nil, missingParam("scope")
	}
	sc, e := parseScopes(scope)
	if e != nil {
		return nil, e
	}
	if !sc.dflt || len(sc.perms) != 1 {
		return nil, newErr(http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
	}
	return s.issue(tr, nil, sc, "", false, "")
}

func (s *Server) grantPassword(tr *tokenRequest) (map[string]any, *apiError) {
	if e := s.authenticateClient(tr); e != nil {
		return nil, e
	}
	name, pw := tr.form.Get("username"), tr.form.Get("password")
	switch {
	case name == "":
		return nil, missingParam("username")
	case pw == "":
		return nil, missingParam("password")
	}
	sc, e := parseScopes(tr.form.Get("scope"))
	if e != nil {
		return nil, e
	}
	u := s.user(name)
	if u == nil {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50034,
			"The user account {EUII Hidden} does not exist in the %s directory. To sign into this application, the account must be added to the directory.", s.tenant)
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(u.Password)) != 1 {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50126,
			"Error validating credentials due to invalid username or password.")
	}
	if e := s.interactionNeeded(u.Username); e != nil {
		return nil, e
	}
	return s.issue(tr, u, sc, "pwd", true, "")
}

func (s *Server) grantRefresh(tr *tokenRequest) (map[string]any, *apiError) {
	if e := s.authenticateClient(tr); e != nil {
		return nil, e
	}
	rt := tr.form.Get("refresh_token")
	if rt == "" {
		return nil, missingParam("refresh_token")
	}
	now := time.Now()
	s.mu.Lock()
	g, ok := s.refresh[rt]
	var e *apiError
	switch {
	case !ok:
		e = newErr(http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	case !strings.EqualFold(g.clientID, tr.app.ClientID):
		e = newErr(http.StatusBadRequest, "invalid_grant", 70000,
			"Provided grant is invalid or malformed. The refresh token was issued to a different client.")
	case g.revoked:
		e = badToken(http.StatusBadRequest, "invalid_grant", 50173,
			"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.",
			g.issued.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	case now.After(g.expires):
		e = badToken(http.StatusBadRequest, "invalid_grant", 700082,
			"The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.",
			g.issued.UTC().Format(time.RFC3339Nano), s.opts.RefreshTokenLifetime)
	case g.used && s.opts.SingleUseRefreshTokens:
		e = newErr(http.StatusBadRequest, "invalid_grant", 70000,
			"Provided grant is invalid or malformed. The refresh token has already been redeemed.")
	}
	var username, scope string
	if e == nil {
		g.used = true
		username, scope = g.username, g.scope
	}
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	if q := tr.form.Get("scope"); q != "" {
		scope = q
	}
	sc, e := parseScopes(scope)
	if e != nil {
		return nil, e
	}
	sc.oidc["offline_access"] = true
	u := s.user(username)
	if u == nil {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50034,
			"The user account {EUII Hidden} does not exist in the %s directory.", s.tenant)
	}
	if e := s.interactionNeeded(username); e != nil {
		return nil, e
	}
	return s.issue(tr, u, sc, "pwd", true, "")
}

func (s *Server) grantAuthCode(tr *tokenRequest) (map[string]any, *apiError) {
	if e := s.authenticateClient(tr); e != nil {
		return nil, e
	}
	code := tr.form.Get("code")
	if code == "" {
		return nil, missingParam("code")
	}
	now := time.Now()
	s.mu.Lock()
	c, ok := s.codes[code]
	var e *apiError
	switch {
	case !ok:
		e = newErr(http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	case c.used:
		e = newErr(http.StatusBadRequest, "invalid_grant", 54005,
			"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case now.After(c.expires):
		e = newErr(http.StatusBadRequest, "invalid_grant", 70008,
			"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case !strings.EqualFold(c.clientID, tr.app.ClientID):
		e = newErr(http.StatusBadRequest, "invalid_grant", 70000,
			"Provided grant is invalid or malformed. The code was issued to a different client.")
	case tr.form.Get("redirect_uri") != c.redirectURI:
		e = newErr(http.StatusBadRequest, "invalid_grant", 50011,
			"The redirect URI '%s' specified in the request does not match the redirect URI used to obtain the authorization code.", tr.form.Get("redirect_uri"))
	case c.challenge != "" && !pkceOK(c.challenge, c.method, tr.form.Get("code_verifier")):
		e = newErr(http.StatusBadRequest, "invalid_grant", 501481,
			"The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	}
	if ok {
		c.used = true // a code is single use, even after a failed redemption
	}
	var cp authCode
	if e == nil {
		cp = *c
	}
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	scope := tr.form.Get("scope")
	if scope == "" {
		scope = cp.scope
	}
	sc, e := parseScopes(scope)
	if e != nil {
		return nil, e
	}
	u := s.user(cp.username)
	if u == nil {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50034,
			"The user account {EUII Hidden} does not exist in the %s directory.", s.tenant)
	}
	return s.issue(tr, u, sc, "pwd", true, cp.nonce)
}

// pkceOK checks an RFC 7636 code verifier against the stored challenge.
func pkceOK(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	if strings.EqualFold(method, "plain") {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(b64.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func (s *Server) grantDeviceCode(tr *tokenRequest) (map[string]any, *apiError) {
	if e := s.authenticateClient(tr); e != nil {
		return nil, e
	}
	dc := tr.form.Get("device_code")
	if dc == "" {
		return nil, missingParam("device_code")
	}
	now := time.Now()
	s.mu.Lock()
	g, ok := s.devices[dc]
	var e *apiError
	switch {
	case !ok || !strings.EqualFold(g.clientID, tr.app.ClientID):
		e = newErr(http.StatusBadRequest, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
	case g.redeemed:
		e = newErr(http.StatusBadRequest, "invalid_grant", 54005,
			"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case now.After(g.expires):
		e = newErr(http.StatusBadRequest, "expired_token", 70019, "Verification code expired.")
	case !g.approved:
		e = newErr(http.StatusBadRequest, "authorization_pending", 70016,
			"OAuth 2.0 device flow error. Authorization is still pending. Continue polling.")
	}
	var username, scope string
	if e == nil {
		g.redeemed = true
		username, scope = g.username, g.scope
	}
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	sc, e := parseScopes(scope)
	if e != nil {
		return nil, e
	}
	u := s.user(username)
	if u == nil {
		return nil, newErr(http.StatusBadRequest, "invalid_grant", 50034,
			"The user account {EUII Hidden} does not exist in the %s directory.", s.tenant)
	}
	return s.issue(tr, u, sc, "pwd", true, "")
}

// issue builds a token response: an access token for sc.resource, and for
// users an ID token, client_info and (with offline_access) a refresh token.
func (s *Server) issue(tr *tokenRequest, u *User, sc scopes, amr string, userFlow bool, nonce string) (map[string]any, *apiError) {
	app := tr.app
	now := time.Now()
	life := s.tokenLifetime()
	exp := now.Add(life)
	at := map[string]any{
		"aud":      sc.resource,
		"iss":      s.issuerV1(),
		"iat":      now.Unix(),
		"nbf":      now.Add(-5 * time.Minute).Unix(),
		"exp":      exp.Unix(),
		"aio":      randToken(24),
		"appid":    app.ClientID,
		"appidacr": tr.acr,
		"idp":      s.issuerV1(),
		"rh":       "0." + randToken(16) + ".",
		"tid":      s.tenant,
		"uti":      randToken(16),
		"ver":      "1.0",
	}
	if userFlow {
		delete(at, "idp")
		at["acr"] = "1"
		at["amr"] = []string{amr}
		at["idtyp"] = "user"
		at["ipaddr"] = "127.0.0.1"
		at["name"] = u.Name
		at["oid"] = u.ObjectID
		at["scp"] = strings.Join(sc.perms, " ")
		at["sub"] = pairwiseSub(u.ObjectID, sc.resource)
		at["unique_name"] = u.Username
		at["upn"] = u.Username
	} else {
		at["idtyp"] = "app"
		at["oid"] = app.ObjectID
		at["sub"] = app.ObjectID
		if len(app.Roles) > 0 {
			at["roles"] = app.Roles
		}
	}
	access, err := signJWT(s.keys[0].key, map[string]any{"kid": s.keys[0].kid, "x5t": s.keys[0].kid}, at)
	if err != nil {
		return nil, newErr(http.StatusInternalServerError, "server_error", 50000,
			"There was an error issuing a token or an issue with our sign-in service.")
	}
	secs := int64(life / time.Second)
	resp := map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   access,
	}
	if ri := s.opts.RefreshIn; ri > 0 {
		resp["refresh_in"] = int64(ri / time.Second)
	}
	if !userFlow {
		return resp, nil
	}
	resp["scope"] = sc.granted()
	if sc.oidc["openid"] {
		idc := map[string]any{
			"aud":                app.ClientID,
			"iss":                s.issuerV2(),
			"iat":                now.Unix(),
			"nbf":                now.Unix(),
			"exp":                exp.Unix(),
			"name":               u.Name,
			"oid":                u.ObjectID,
			"preferred_username": u.Username,
			"rh":                 "0." + randToken(16) + ".",
			"sub":                pairwiseSub(u.ObjectID, app.ClientID),
			"tid":                s.tenant,
			"uti":                randToken(16),
			"ver":                "2.0",
		}
		if nonce != "" {
			idc["nonce"] = nonce
		}
		idt, err := signJWT(s.keys[0].key, map[string]any{"kid": s.keys[0].kid}, idc)
		if err != nil {
			return nil, newErr(http.StatusInternalServerError, "server_error", 50000,
				"There was an error issuing a token or an issue with our sign-in service.")
		}
		resp["id_token"] = idt
	}
	if tr.form.Get("client_info") == "1" {
		ci, _ := json.Marshal(map[string]string{"uid": u.ObjectID, "utid": s.tenant})
		resp["client_info"] = b64.EncodeToString(ci)
	}
	if sc.oidc["offline_access"] {
		rt := "1." + randToken(96)
		s.mu.Lock()
		s.refresh[rt] = &refreshGrant{
			clientID: app.ClientID,
			username: u.Username,
			scope:    strings.Join(sc.raw, " "),
			issued:   now,
			expires:  now.Add(s.opts.RefreshTokenLifetime),
		}
		s.mu.Unlock()
		resp["refresh_token"] = rt
	}
	return resp, nil
}

// pairwiseSub is a stable per-(user, audience) subject, as Entra makes.
func pairwiseSub(oid, aud string) string {
	sum := sha256.Sum256([]byte(oid + "|" + aud))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}
