package endpoint

import (
	"github.com/entra-helper/entra-helper/ipc"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entra-helper/entra-helper/entra"
)

// FuzzMetadata feeds random methods, request targets, Host headers and
// Databricks headers to the metadata endpoint. Whatever comes in, it must
// not panic, must answer 200 only to a GET of /<secret>/<profile> with a
// loopback Host and the right headers, must never show the path secret in
// an answer or (unless the caller sent it as the method) in a log line, and
// must never show the token in anything but a 200 answer.
func FuzzMetadata(f *testing.F) {
	seeds := []struct{ method, target, host, version, dbHost, extraName, extraValue string }{
		{"GET", "/" + pathSecret + "/prod", "127.0.0.1:8771", "1", wsHost, "", ""},
		{"GET", "/" + pathSecret + "/prod", "localhost", "1", wsHost + "/", "Accept", "*/*"},
		{"GET", "/" + pathSecret + "/prod", "evil.example", "1", wsHost, "", ""},
		{"GET", "/" + pathSecret + "/prod", "[::1]:8771", "2", wsHost, "", ""},
		{"GET", "/" + pathSecret + "/nohost", "127.0.0.1", "1", wsHost, "", ""},
		{"GET", "/" + pathSecret + "/p%2Frod", "127.0.0.1", "1", wsHost, "", ""},
		{"GET", "/" + pathSecret + "x/prod", "127.0.0.1", "1", wsHost, "", ""},
		{"GET", "/" + pathSecret[:10] + "/prod", "127.0.0.1", "1", wsHost, "", ""},
		{"GET", "/%2e%2e/" + pathSecret + "/prod", "127.0.0.1", "1", wsHost, "", ""},
		{"GET", "//" + pathSecret + "/prod", "127.0.0.1", "1", wsHost, "", ""},
		{"POST", "/" + pathSecret + "/prod", "127.0.0.1", "1", wsHost, "Content-Type", "application/json"},
		{"OPTIONS", "*", "127.0.0.1", "", "", "Origin", "https://evil.example"},
		{"GET", "http://127.0.0.1/" + pathSecret + "/prod?x=1#f", "127.0.0.1", "1", "https://evil.example", "", ""},
		{"get", "/", "", "", "", "", ""},
		{"GET", "/" + pathSecret + "/prod", "127.0.0.1.nip.io", "1", wsHost, "X-Forwarded-Host", "127.0.0.1"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.host, s.version, s.dbHost, s.extraName, s.extraValue)
	}
	f.Fuzz(func(t *testing.T, method, target, host, version, dbHost, extraName, extraValue string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: target}
		}
		r := &http.Request{
			Method:     method,
			URL:        u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1,
			Header:     http.Header{},
			Host:       host,
			RemoteAddr: "127.0.0.1:50000",
			RequestURI: target,
		}
		r = r.WithContext(t.Context())
		if version != "" {
			r.Header.Set(VersionHeader, version)
		}
		if dbHost != "" {
			r.Header.Set(HostHeader, dbHost)
		}
		if extraName != "" {
			r.Header[extraName] = append(r.Header[extraName], extraValue)
		}
		core, logs := observer.New(zapcore.DebugLevel)
		tokens := &fakeTokens{tok: goodToken()}
		m := newMetadata(tokens, zap.New(core))
		w := httptest.NewRecorder()
		m.ServeHTTP(w, r)

		body := w.Body.String()
		var headers strings.Builder
		for k, vs := range w.Header() {
			headers.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		if strings.Contains(body, pathSecret) || strings.Contains(headers.String(), pathSecret) {
			t.Fatalf("the answer (%d) shows the path secret", w.Code)
		}
		if w.Code != http.StatusOK && (strings.Contains(body, fakeToken) || strings.Contains(headers.String(), fakeToken)) {
			t.Fatalf("a %d answer shows the token", w.Code)
		}
		for _, e := range logs.All() {
			line := e.Message
			for k, v := range e.ContextMap() {
				if k == "method" || k == "reason" && strings.Contains(method, pathSecret) {
					continue // the caller's own method, echoed
				}
				line += " " + k + "=" + anyString(v)
			}
			if strings.Contains(line, pathSecret) {
				t.Fatalf("a log line shows the path secret: %s", e.Message)
			}
			if strings.Contains(line, fakeToken) {
				t.Fatalf("a log line shows the token: %s", e.Message)
			}
		}
		if w.Code != http.StatusOK {
			return
		}
		// A 200 needs everything right.
		if !strings.HasPrefix(u.EscapedPath(), "/"+pathSecret+"/") {
			t.Fatalf("200 for path %q without the secret", u.EscapedPath())
		}
		if method != http.MethodGet {
			t.Fatalf("200 for method %q", method)
		}
		if !ipc.IsLoopbackHost(host) {
			t.Fatalf("200 for Host %q", host)
		}
		if version != SupportedVersion {
			t.Fatalf("200 for version %q", version)
		}
		if got, ok := entra.WorkspaceURL(r.Header.Get(HostHeader)); !ok || got != wsHost {
			t.Fatalf("200 for %s %q", HostHeader, r.Header.Get(HostHeader))
		}
		if !strings.Contains(body, fakeToken) {
			t.Fatalf("200 without the token: %q", body)
		}
	})
}

func anyString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}
