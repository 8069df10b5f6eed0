package endpoint

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entra-helper/entra-helper/ipc"
)

// FuzzIdentity feeds random methods, request targets, Host headers, identity
// and Metadata headers to the managed-identity endpoint. Whatever comes in,
// it must not panic, must answer JSON, must answer 200 only to a GET with a
// loopback Host, the secret (header or path), the protocol's api-version
// and a resource, must never show the secret in an answer or a log line and
// never show the token in anything but a 200 answer.
func FuzzIdentity(f *testing.F) {
	for _, s := range []struct{ method, target, host, idHeader, metadata, extraName, extraValue string }{
		{"GET", "/app-service?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.core.windows.net%2F", "127.0.0.1:8772", idSecret, "", "", ""},
		{"GET", "/app-service/prod?api-version=2019-08-01&resource=x&client_id=" + prodClientID, "localhost", idSecret, "", "", ""},
		{"GET", "/app-service?api-version=2019-08-01&resource=x&mi_res_id=/a/userAssignedIdentities/user", "[::1]:8772", idSecret, "", "", ""},
		{"GET", "/imds/" + idSecret + "?api-version=2018-02-01&resource=x&msi_res_id=/userAssignedIdentities/dev", "127.0.0.1", "", "true", "", ""},
		{"GET", "/imds/" + idSecret + "/user?api-version=2018-02-01&resource=x", "127.0.0.1", "", "True", "X-Forwarded-For", "1.2.3.4"},
		{"GET", "/imds/" + idSecret[:5] + "/user?api-version=2018-02-01&resource=x", "127.0.0.1", "", "true", "", ""},
		{"POST", "/app-service?api-version=2019-08-01&resource=x", "127.0.0.1", idSecret, "", "Content-Type", "application/x-www-form-urlencoded"},
		{"GET", "/app-service?api-version=2019-08-01&resource=x&object_id=a&object_id=b", "evil.example", idSecret, "", "", ""},
		{"GET", "/app-service/%2e%2e/prod?api-version=2019-08-01&resource=x", "127.0.0.1", idSecret, "", "", ""},
		{"GET", "http://127.0.0.1/imds/" + idSecret + "?api-version=2018-02-01&resource=%zz", "127.0.0.1", "", "true", "", ""},
		{"get", "/", "", "", "", "", ""},
	} {
		f.Add(s.method, s.target, s.host, s.idHeader, s.metadata, s.extraName, s.extraValue)
	}
	f.Fuzz(func(t *testing.T, method, target, host, idHeader, metadata, extraName, extraValue string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: target}
		}
		r := &http.Request{
			Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: host, RemoteAddr: "127.0.0.1:50000", RequestURI: target,
		}
		r = r.WithContext(t.Context())
		if idHeader != "" {
			r.Header.Set(IdentityHeader, idHeader)
		}
		if metadata != "" {
			r.Header.Set("Metadata", metadata)
		}
		if extraName != "" {
			r.Header[extraName] = append(r.Header[extraName], extraValue)
		}
		core, logs := observer.New(zapcore.DebugLevel)
		h := newIdentity(&fakeTokens{tok: goodToken()}, zap.New(core))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		body := w.Body.String()
		if w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("a %d answer is not JSON", w.Code)
		}
		if strings.Contains(body, idSecret) {
			t.Fatalf("the answer (%d) shows the secret", w.Code)
		}
		if w.Code != http.StatusOK && strings.Contains(body, fakeToken) {
			t.Fatalf("a %d answer shows the token", w.Code)
		}
		for _, e := range logs.All() {
			line := e.Message
			for k, v := range e.ContextMap() {
				if k == "method" || k == "reason" && strings.Contains(method, idSecret) {
					continue // the caller's own method, echoed
				}
				line += " " + k + "=" + anyString(v)
			}
			if strings.Contains(line, idSecret) || strings.Contains(line, fakeToken) {
				t.Fatalf("a log line shows the secret or the token: %s", line)
			}
		}
		if w.Code != http.StatusOK {
			return
		}
		path := u.EscapedPath()
		q := u.Query()
		switch {
		case path == AppServicePath || strings.HasPrefix(path, AppServicePath+"/"):
			if idHeader != idSecret || q.Get("api-version") != AppServiceAPIVersion {
				t.Fatalf("200 for an App Service request without the header or version")
			}
		case strings.HasPrefix(path, IMDSPath+"/"+idSecret):
			if !strings.EqualFold(metadata, "true") || q.Get("api-version") != IMDSAPIVersion {
				t.Fatalf("200 for an IMDS request without Metadata: true or the version")
			}
		default:
			t.Fatalf("200 for path %q", path)
		}
		if method != http.MethodGet || !ipc.IsLoopbackHost(host) || q.Get("resource") == "" {
			t.Fatalf("200 for %s Host %q resource %q", method, host, q.Get("resource"))
		}
		if !strings.Contains(body, fakeToken) {
			t.Fatalf("200 without the token: %q", body)
		}
	})
}
