package tenant

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/entratest"
)

func TestResolverID(t *testing.T) {
	srv := entratest.NewTB(t, entratest.Options{Domains: []string{"contoso.example", "contoso.onmicrosoft.example"}})
	r := &Resolver{HTTP: srv.Client()}
	ctx := context.Background()
	for _, tc := range []struct {
		in, want string
		kind     tokensource.Kind
		msg      string
	}{
		{in: srv.Tenant(), want: srv.Tenant()},
		{in: strings.ToUpper(srv.Tenant()), want: srv.Tenant()},
		{in: "contoso.example", want: srv.Tenant()},
		{in: "Contoso.OnMicrosoft.Example", want: srv.Tenant()},
		{in: "fabrikam.example", kind: tokensource.KindUsage, msg: "knows no tenant fabrikam.example"},
		{in: "common", kind: tokensource.KindUsage, msg: `"common" is not one tenant`},
		{in: "organizations", kind: tokensource.KindUsage, msg: `"organizations" is not one tenant`},
		{in: "consumers", kind: tokensource.KindUsage, msg: `"consumers" is not one tenant`},
		{in: "x/../y", kind: tokensource.KindUsage, msg: "is not a tenant ID or domain"},
	} {
		got, err := r.ID(ctx, srv.URL()+"/", tc.in)
		if tc.msg != "" {
			if err == nil || tokensource.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ID(%q) = %q, %v; want kind %d and %q", tc.in, got, err, tc.kind, tc.msg)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ID(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// The answer is kept: a second look-up asks nobody.
	path := "/contoso.example/v2.0/.well-known/openid-configuration"
	before := srv.Requests(path)
	if _, err := r.ID(ctx, srv.URL(), "contoso.example"); err != nil || srv.Requests(path) != before || before != 1 {
		t.Errorf("cached look-up: err %v, requests %d -> %d", err, before, srv.Requests(path))
	}
}

func TestResolverUnreachable(t *testing.T) {
	srv := entratest.NewTB(t, entratest.Options{})
	url := srv.URL()
	srv.Close()
	_, err := (&Resolver{HTTP: srv.Client()}).ID(context.Background(), url, "contoso.example")
	if tokensource.KindOf(err) != tokensource.KindUnavailable {
		t.Errorf("err = %v, want unavailable", err)
	}
}

func TestDiscover(t *testing.T) {
	srv := entratest.NewTB(t, entratest.Options{Tenant: "0b4c5a6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"})
	ws, err := srv.StartWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	d, err := Discover(context.Background(), srv.Client(), ws.URL())
	if err != nil || d.Tenant != "0b4c5a6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d" || d.LoginHost != srv.URL() {
		t.Fatalf("Discover = %+v, %v", d, err)
	}
	if ws.Requests() != 1 || srv.Requests("/0b4c5a6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d/oauth2/v2.0/authorize") != 0 {
		t.Errorf("the redirect was followed or /aad/auth asked %d times", ws.Requests())
	}
}

func TestDiscoverRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		kind    tokensource.Kind
		msg     string
	}{
		{"not a redirect", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) }, tokensource.KindFailed, "answered 200 OK, not a redirect"},
		{"server error", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }, tokensource.KindUnavailable, "try again later"},
		{"no tenant in the URL", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://login.microsoftonline.com/common/oauth2/authorize", http.StatusFound)
		}, tokensource.KindFailed, "names no tenant ID"},
		{"http login page", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://login.example/0b4c5a6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d/oauth2/authorize", http.StatusFound)
		}, tokensource.KindFailed, "names no tenant ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := httptest.NewTLSServer(tc.handler)
			defer ws.Close()
			_, err := Discover(context.Background(), ws.Client(), ws.URL)
			if tokensource.KindOf(err) != tc.kind || err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want kind %d with %q", err, tc.kind, tc.msg)
			}
		})
	}
}
