package endpoint

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/secret"
	"github.com/entra-helper/entra-helper/ipc"
)

// recordingTransport is an azcore Transporter that records every request's
// host and sends it with the default client only when it is loopback: a
// test whose environment lost IDENTITY_ENDPOINT must fail, never reach IMDS
// (169.254.169.254) or Entra.
type recordingTransport struct {
	mu    sync.Mutex
	hosts []string
}

func (r *recordingTransport) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, req.URL.Host)
	r.mu.Unlock()
	if !ipc.IsLoopbackHost(req.URL.Host) {
		return nil, fmt.Errorf("the test refuses to send to %s: only loopback", req.URL.Host)
	}
	return http.DefaultClient.Do(req)
}

func (r *recordingTransport) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hosts...)
}

// azureEnv points the Azure SDK at url with the App Service protocol and
// clears every variable that would pick another managed-identity source or
// another credential of DefaultAzureCredential's chain.
func azureEnv(t *testing.T, url string) {
	for _, k := range []string{"MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
		"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "AZURE_POD_IDENTITY_AUTHORITY_HOST"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Cleanup(func() { os.Setenv(k, v) })
			os.Unsetenv(k)
		}
	}
	t.Setenv("IDENTITY_ENDPOINT", url)
	t.Setenv("IDENTITY_HEADER", idSecret)
}

// TestAzureSDK has the real azidentity credentials get tokens from the
// handler served on 127.0.0.1: DefaultAzureCredential with IDENTITY_ENDPOINT
// set uses the App Service source and never probes IMDS (169.254.169.254);
// ManagedIdentityCredential picks a profile by client ID, and an unknown
// client ID is refused at once (one request, no retries).
func TestAzureSDK(t *testing.T) {
	ft := &fakeTokens{tok: tokensource.Token{Value: secret.New(fakeToken), ExpiresOn: time.Now().Add(time.Hour)}}
	h := newIdentity(ft, nil)
	h.Clock = nil // the SDK checks expiry against the real clock
	srv := httptest.NewServer(h)
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server not on 127.0.0.1: %s", srv.URL)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	azureEnv(t, srv.URL+AppServicePath)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rt := &recordingTransport{}
	opts := azcore.ClientOptions{Transport: rt}
	dac, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{mgmt + "/.default", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"} {
		tok, err := dac.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			t.Fatalf("DefaultAzureCredential %s: %v", scope, err)
		}
		if tok.Token != fakeToken || time.Until(tok.ExpiresOn) < 50*time.Minute {
			t.Fatalf("token %q expiring %v", tok.Token, tok.ExpiresOn)
		}
	}
	if len(ft.calls) != 2 || ft.calls[0].profile != "prod" || ft.calls[0].scopes[0] != mgmt+"/.default" ||
		ft.calls[1].scopes[0] != "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default" {
		t.Fatalf("calls %+v", ft.calls)
	}
	for _, hst := range rt.seen() {
		if hst != host {
			t.Fatalf("DefaultAzureCredential sent a request to %s (IMDS is 169.254.169.254); want only %s", hst, host)
		}
	}

	mic, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: opts, ID: azidentity.ClientID(prodClientID)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mic.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}); err != nil {
		t.Fatalf("ManagedIdentityCredential with the client ID: %v", err)
	}
	if c := ft.calls[len(ft.calls)-1]; c.profile != "prod" || c.scopes[0] != "https://vault.azure.net/.default" {
		t.Fatalf("call %+v", c)
	}

	before := len(rt.seen())
	unknown, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: opts, ID: azidentity.ClientID("00000000-0000-0000-0000-000000000001")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = unknown.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{mgmt + "/.default"}})
	if err == nil || !strings.Contains(err.Error(), "Identity not found") {
		t.Fatalf("unknown client ID: %v", err)
	}
	if n := len(rt.seen()) - before; n != 1 {
		t.Fatalf("the unknown client ID took %d requests, want 1 (no retries)", n)
	}
}
