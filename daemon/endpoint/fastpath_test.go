package endpoint

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/internal/allocguard"
)

func TestAppendJSONMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "eyJ0eXAi.eyJhdWQi.sig-_", "a<b>&c", `q"uote`, `back\\slash`, "new\nline", "ünï", "\u2028", string([]byte{0xff})} {
		got := append(appendJSONInt(appendJSONString(nil, "access_token", s), "expires_on", -17), '}')
		want, err := json.Marshal(struct {
			A string `json:"access_token"`
			E int64  `json:"expires_on"`
		}{s, -17})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%q: got %s, json.Marshal %s", s, got, want)
		}
	}
}

func TestSameWorkspace(t *testing.T) {
	want, ok := entra.WorkspaceURL("https://ADB-1.2.azuredatabricks.net/")
	if !ok {
		t.Fatal("the test's host is not a workspace URL")
	}
	for _, tc := range []struct {
		want, got string
		match     bool
	}{
		{want, want, true},
		{want, "https://ADB-1.2.azuredatabricks.net:443/", true},
		{want, "adb-1.2.azuredatabricks.net", true},
		{want, "https://adb-9.2.azuredatabricks.net", false},
		{want, "http://adb-1.2.azuredatabricks.net", false},
		{want, "", false},
		{"", "", false},
	} {
		if got := sameWorkspace(tc.want, tc.got); got != tc.match {
			t.Errorf("sameWorkspace(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.match)
		}
	}
}

func TestSetTokenHeaders(t *testing.T) {
	h := http.Header{}
	setTokenHeaders(h)
	for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"} {
		if h.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, h.Get(k), v)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status, so that
// an allocation count sees the handler's allocations, not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// TestMetadataHitAllocs guards the metadata endpoint's answer from the
// cache: route and secret, loopback Host, the access policy (with the
// connection's owner looked up, as the daemon's server does, on a real
// loopback connection), the version and workspace headers, the token and
// its answer. Allocation counts do not depend on the machine's speed.
func TestMetadataHitAllocs(t *testing.T) {
	allocguard.SkipUnderRace(t)
	if runtime.GOOS == "windows" {
		t.Skip("guarded on Linux (make test-allocs): on Windows the peer lookup of a loopback connection goes through the TCP table and allocates")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ctx := access.ConnContext(context.Background(), server)

	audit := access.NewAudit(zap.NewNop(), access.AuditOptions{})
	defer audit.Close()
	pol, err := access.New(access.Options{Audit: audit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newMetadata(&hitTokens{tok: goodToken()}, zap.NewNop())
	m.Access = pol
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8771/"+pathSecret+"/prod", nil).WithContext(ctx)
	req.RemoteAddr = client.LocalAddr().String()
	req.Header.Set(VersionHeader, "1")
	req.Header.Set(HostHeader, wsHost)
	w := &discardWriter{h: http.Header{}}
	m.ServeHTTP(w, req)
	if w.status != http.StatusOK || w.n == 0 {
		t.Fatalf("status %d, %d bytes: the policy refused the test's own connection?", w.status, w.n)
	}
	// Exactly 1, in this test's Profiles function (a new scope slice per
	// call), counted without -race: the endpoint itself allocates nothing
	// for an answer from the cache.
	const max = 1
	if n := testing.AllocsPerRun(200, func() { clear(w.h); m.ServeHTTP(w, req) }); n > max {
		t.Errorf("a metadata answer from the cache allocates %.0f times, want at most %d", n, max)
	}
}

// hitTokens hands out one token without recording calls (fakeTokens'
// record would be counted).
type hitTokens struct{ tok tokensource.Token }

func (h *hitTokens) Token(context.Context, string, []string, time.Duration) (tokensource.Token, error) {
	return h.tok, nil
}
