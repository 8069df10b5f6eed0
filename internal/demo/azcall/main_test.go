package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// countingTransport stands in for http.DefaultTransport: it never dials,
// it only counts the requests that would have left the process.
type countingTransport struct {
	mu    sync.Mutex
	hosts []string
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.hosts = append(c.hosts, req.URL.Host)
	c.mu.Unlock()
	return &http.Response{StatusCode: http.StatusTeapot, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// TestRecorderSendsOnlyToLoopback: the transport azcall gives the SDK
// records every host but sends nothing beyond loopback, so a missing or
// wrong IDENTITY_ENDPOINT can never make the demo or a test reach the real
// IMDS (DefaultAzureCredential's probe of 169.254.169.254) or Entra.
func TestRecorderSendsOnlyToLoopback(t *testing.T) {
	ct := &countingTransport{}
	saved := http.DefaultTransport
	http.DefaultTransport = ct
	t.Cleanup(func() { http.DefaultTransport = saved })

	rec := &hostRecorder{}
	for _, u := range []string{
		"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
		"https://login.microsoftonline.com/common/oauth2/v2.0/token",
		"http://169.254.169.254.example/",
	} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		resp, err := rec.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: sent (status %d), want refused", u, resp.StatusCode)
		} else if !errors.Is(err, errNotLoopback) {
			t.Errorf("%s: %v, want errNotLoopback", u, err)
		}
	}
	if len(ct.hosts) != 0 {
		t.Fatalf("requests left for %v; want none beyond loopback", ct.hosts)
	}
	for _, u := range []string{"http://127.0.0.1:1/app-service/sp", "http://[::1]:1/app-service/sp", "http://localhost:1/x"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		resp, err := rec.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
	}
	if len(ct.hosts) != 3 || len(rec.hosts) != 6 {
		t.Fatalf("sent to %v, recorded %v", ct.hosts, rec.hosts)
	}
}
