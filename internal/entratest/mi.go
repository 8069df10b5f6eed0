package entratest

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultManagedIdentityClientID is the client ID of the system-assigned
// managed identity the fake plays.
const DefaultManagedIdentityClientID = "5d2c6a7e-8f41-4b3d-a9c0-1e2f3a4b5c6d"

// appServiceAPIVersion is the App Service managed identity API MSAL uses.
const appServiceAPIVersion = "2019-08-01"

// startManagedIdentity starts the plain-HTTP loopback listener that plays
// the App Service managed identity endpoint.
func (s *Server) startManagedIdentity() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.miLn = ln
	s.miURL = "http://" + ln.Addr().String() + "/msi/token"
	s.miHdr = randToken(24)
	s.miHS = &http.Server{Handler: http.HandlerFunc(s.serveManagedIdentity), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.miHS.Serve(ln) }()
	return nil
}

// ManagedIdentityEnv returns the environment variables that make MSAL's
// managed identity client (apps/managedidentity) detect the App Service
// source and talk to this fake: IDENTITY_ENDPOINT (a plain-HTTP loopback
// URL) and IDENTITY_HEADER. Set them with t.Setenv in tests. The
// system-assigned identity is DefaultManagedIdentityClientID; a
// user-assigned client ID must be a registered App.
func (s *Server) ManagedIdentityEnv() map[string]string {
	return map[string]string{
		"IDENTITY_ENDPOINT": s.miURL,
		"IDENTITY_HEADER":   s.miHdr,
	}
}

type miError struct {
	StatusCode    int    `json:"statusCode"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
}

func (s *Server) serveManagedIdentity(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.byPath[r.URL.Path]++
	latency := s.latency
	s.mu.Unlock()
	if !waitLatency(r, latency) {
		return
	}
	fail := func(status int, msg string) {
		writeJSON(w, status, miError{StatusCode: status, Message: msg, CorrelationID: newUUID()})
	}
	if r.URL.Path != "/msi/token" {
		fail(http.StatusNotFound, "Not found.")
		return
	}
	s.mu.Lock()
	s.tokenTotal++
	s.tokenByType[GrantManagedIdentity]++
	failStatus, failRetry := s.failStatus, s.failRetry
	s.mu.Unlock()
	if failStatus != 0 {
		if failRetry > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((failRetry+time.Second-1)/time.Second)))
		}
		fail(failStatus, "The managed identity endpoint is temporarily unavailable.")
		return
	}
	if r.Method != http.MethodGet {
		fail(http.StatusMethodNotAllowed, "Only GET is supported.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(s.miHdr)) != 1 {
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or wrong.")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != appServiceAPIVersion {
		fail(http.StatusBadRequest, "The api-version is not supported; use "+appServiceAPIVersion+".")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		fail(http.StatusBadRequest, "The resource parameter is required.")
		return
	}
	app := &App{ClientID: DefaultManagedIdentityClientID, ObjectID: derivedUUID("mi:" + DefaultManagedIdentityClientID)}
	switch {
	case q.Get("client_id") != "":
		app = s.app(q.Get("client_id"))
	case q.Get("object_id") != "", q.Get("mi_res_id") != "", q.Get("principal_id") != "":
		app = nil
	}
	if app == nil {
		fail(http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}
	sc, e := parseScopes(strings.TrimSuffix(resource, "/.default") + "/.default")
	if e != nil {
		fail(http.StatusBadRequest, "The resource is not valid.")
		return
	}
	tr := &tokenRequest{r: r, app: app, acr: "2"}
	resp, e := s.issue(tr, nil, sc, "", false, "")
	if e != nil {
		fail(http.StatusInternalServerError, "Could not issue a token.")
		return
	}
	secs, _ := resp["expires_in"].(int64)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": resp["access_token"],
		"expires_on":   strconv.FormatInt(time.Now().Unix()+secs, 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    app.ClientID,
	})
}
