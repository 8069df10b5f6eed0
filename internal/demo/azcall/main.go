// Command azcall shows the managed-identity hook at work in `make demo` and
// in the end-to-end tests: the real Azure SDK for Go (azidentity),
// configured only by the environment that `entra-helper azure env` prints,
// gets a token. It prints what it got (the token shortened, its audience,
// its lifetime, and every host the SDK contacted), or with -json the whole
// answer for tests; it sends nothing anywhere but the managed-identity
// endpoint.
//
//	azcall [-credential default|managed] [-client-id ID] [-resource R] [-json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/entra-helper/entra-helper/internal/demo/jwtaud"
	"github.com/entra-helper/entra-helper/ipc"
)

// hostRecorder is an azcore transport that notes every host it is asked to
// reach and sends only to loopback: a missing or wrong IDENTITY_ENDPOINT
// makes DefaultAzureCredential probe IMDS (169.254.169.254) or another
// credential call Entra, and neither the demo nor a test may send anything
// there. The hosts refused are recorded too, so a test sees them.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

// errNotLoopback is the error of a request hostRecorder refuses to send.
var errNotLoopback = errors.New("azcall sends nothing beyond loopback; is IDENTITY_ENDPOINT set? Run: eval \"$(entra-helper azure env)\"")

func (h *hostRecorder) Do(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, req.URL.Host)
	h.mu.Unlock()
	if !ipc.IsLoopbackHost(req.URL.Host) {
		return nil, fmt.Errorf("refusing %s: %w", req.URL.Host, errNotLoopback)
	}
	return http.DefaultClient.Do(req)
}

func main() {
	credential := flag.String("credential", "default", "default (DefaultAzureCredential) or managed (ManagedIdentityCredential)")
	clientID := flag.String("client-id", "", "the managed identity's client ID (managed only; default takes AZURE_CLIENT_ID)")
	resource := flag.String("resource", "https://management.core.windows.net/", "the resource to get a token for")
	asJSON := flag.Bool("json", false, "print the token and the hosts contacted as JSON (tests)")
	flag.Parse()

	rec := &hostRecorder{}
	opts := azcore.ClientOptions{Transport: rec}
	var cred azcore.TokenCredential
	var err error
	switch *credential {
	case "default":
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts})
	case "managed":
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if *clientID != "" {
			o.ID = azidentity.ClientID(*clientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(o)
	default:
		err = fmt.Errorf("unknown -credential %q (default, managed)", *credential)
	}
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Resource R is scope R/.default (https://management.core.windows.net//.default).
	scope := *resource + "/.default"
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		fail(err)
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
			"token": tok.Token, "expires_on": tok.ExpiresOn.Unix(), "hosts": rec.hosts,
		})
		return
	}
	fmt.Printf("%T: token %s… for %s (audience %s), valid for %s; hosts contacted: %s\n",
		cred, tok.Token[:min(16, len(tok.Token))], *resource, jwtaud.Audience(tok.Token),
		time.Until(tok.ExpiresOn).Round(time.Minute), strings.Join(rec.hosts, ", "))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "azcall:", err)
	os.Exit(1)
}
