package entratest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

const (
	testClient   = "0f3a6c2e-1b4d-4e5f-8a9b-0c1d2e3f4a5b"
	testSecret   = "s3cret~value.for_tests"
	testPublic   = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
	testUser     = "alice@contoso.example"
	testPassword = "correct horse battery staple"
	databricks   = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
	management   = "https://management.core.windows.net/"
)

var databricksScope = []string{databricks + "/.default"}

// newTestServer starts a server with a confidential app, a public app and a user.
func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s := NewTB(t, opts)
	s.AddApp(App{ClientID: testClient, Secret: testSecret, Roles: []string{"Reader"}})
	s.AddApp(App{ClientID: testPublic, Public: true, DefaultUser: testUser})
	s.AddUser(User{Username: testUser, Password: testPassword})
	return s
}

// entraFailure extracts the HTTP status, headers and Entra error body of an
// MSAL error.
func entraFailure(t *testing.T, err error) (int, http.Header, entraError) {
	t.Helper()
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) {
		t.Fatalf("error is not an MSAL CallErr: %v", err)
	}
	body, rerr := io.ReadAll(ce.Resp.Body)
	if rerr != nil {
		t.Fatalf("reading the error body: %v", rerr)
	}
	var e entraError
	if jerr := json.Unmarshal(body, &e); jerr != nil {
		t.Fatalf("error body is not JSON: %v: %s", jerr, body)
	}
	return ce.Resp.StatusCode, ce.Resp.Header, e
}

// checkShape asserts the Entra error shape with code aadsts.
func checkShape(t *testing.T, e entraError, code string, aadsts int) {
	t.Helper()
	if e.Error != code {
		t.Errorf("error = %q, want %q", e.Error, code)
	}
	if len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != aadsts {
		t.Errorf("error_codes = %v, want [%d]", e.ErrorCodes, aadsts)
	}
	prefix := "AADSTS" + itoa(aadsts) + ": "
	if !strings.HasPrefix(e.ErrorDescription, prefix) {
		t.Errorf("error_description %q does not start with %q", e.ErrorDescription, prefix)
	}
	for _, part := range []string{"\r\nTrace ID: " + e.TraceID, "\r\nCorrelation ID: " + e.CorrelationID, "\r\nTimestamp: " + e.Timestamp} {
		if !strings.Contains(e.ErrorDescription, part) {
			t.Errorf("error_description lacks %q", part)
		}
	}
	if e.TraceID == "" || e.CorrelationID == "" || e.Timestamp == "" || e.ErrorURI == "" {
		t.Errorf("missing trace_id/correlation_id/timestamp/error_uri: %+v", e)
	}
	if _, err := time.Parse(entraTime, e.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", e.Timestamp, err)
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// postForm posts v to the token endpoint of s and decodes the JSON answer.
func postForm(t *testing.T, s *Server, path string, v url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().PostForm(s.URL()+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decoding %s answer: %v", path, err)
	}
	return resp.StatusCode, m
}

// errCode returns the first error code of a decoded Entra error body.
func errCode(m map[string]any) int {
	codes, _ := m["error_codes"].([]any)
	if len(codes) == 0 {
		return 0
	}
	f, _ := codes[0].(float64)
	return int(f)
}

// newClientCert makes a self-signed RSA certificate for client assertions.
func newClientCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "entratest client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// pkcePair returns a verifier and its S256 challenge.
func pkcePair() (string, string) {
	v := randToken(32)
	sum := sha256.Sum256([]byte(v))
	return v, b64.EncodeToString(sum[:])
}

// claimsOf decodes a JWT's claims without verifying it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	p, err := parseJWT(tok)
	if err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	return p.Claims
}
