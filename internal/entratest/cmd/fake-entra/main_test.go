package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesAndStops(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	pwFile := filepath.Join(dir, "pw")
	caFile := filepath.Join(dir, "ca.pem")
	const client = "0f3a6c2e-1b4d-4e5f-8a9b-0c1d2e3f4a5b"
	if err := os.WriteFile(secretFile, []byte("the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-ca-out", caFile, "-app", client, "-secret-file", secretFile,
			"-user", "alice@contoso.example", "-password-file", pwFile, "-lifetime", "90m",
			"-domains", "contoso.example, Contoso.onmicrosoft.example", "-workspace"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var r ready
	if err := json.Unmarshal([]byte(line), &r); err != nil || !strings.HasPrefix(r.URL, "https://127.0.0.1:") || r.Tenant == "" {
		t.Fatalf("ready line %q: %v", line, err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("bad CA file")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()

	token := func(secret string) (int, map[string]any) {
		resp, err := hc.PostForm(r.URL+"/"+r.Tenant+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret},
			"scope": {"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	admin := func(method, path string) int {
		req, _ := http.NewRequest(method, r.URL+path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The verified domains' OpenID metadata names the tenant.
	for _, d := range []string{"contoso.example", "contoso.onmicrosoft.example"} {
		resp, err := hc.Get(r.URL + "/" + d + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Issuer string `json:"issuer"`
		}
		err = json.NewDecoder(resp.Body).Decode(&meta)
		resp.Body.Close()
		if err != nil || !strings.Contains(meta.Issuer, "/"+r.Tenant+"/") {
			t.Errorf("metadata of %s: %d, issuer %q (%v)", d, resp.StatusCode, meta.Issuer, err)
		}
	}
	// The workspace's sign-in page redirects to the tenant's.
	noFollow := *hc
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if !strings.HasPrefix(r.Workspace, "https://127.0.0.1:") {
		t.Fatalf("workspace %q", r.Workspace)
	}
	resp, err := noFollow.Get(r.Workspace + "/aad/auth")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, r.URL+"/"+r.Tenant+"/oauth2/authorize?") {
		t.Errorf("/aad/auth: %d %q", resp.StatusCode, loc)
	}

	if status, m := token("the-secret"); status != 200 || m["expires_in"] != float64(5400) {
		t.Errorf("token: %d %v", status, m)
	}
	if status, _ := token("wrong"); status != 401 {
		t.Errorf("wrong secret: %d", status)
	}
	if s := admin(http.MethodPost, "/_fake/fail?status=503&retry_after=20"); s != 200 {
		t.Fatalf("fail: %d", s)
	}
	if status, m := token("the-secret"); status != 503 || m["error"] != "temporarily_unavailable" {
		t.Errorf("while failing: %d %v", status, m)
	}
	if s := admin(http.MethodPost, "/_fake/heal"); s != 200 {
		t.Fatalf("heal: %d", s)
	}
	if s := admin(http.MethodPost, "/_fake/fail?status=200"); s != 400 {
		t.Errorf("fail with status 200 accepted: %d", s)
	}
	resp, err = hc.Get(r.URL + "/_fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		TokenRequests int            `json:"token_requests"`
		ByGrantType   map[string]int `json:"by_grant_type"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.TokenRequests != 3 || st.ByGrantType["client_credentials"] != 3 {
		t.Errorf("stats = %+v (%v)", st, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := [][]string{
		{"-secret-file", "x"},
		{"-password-file", "x"},
		{"extra"},
		{"-app", "a", "-secret-file", "/nonexistent/secret"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
				t.Error("want an error")
			}
		})
	}
}
