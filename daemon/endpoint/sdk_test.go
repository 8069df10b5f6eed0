package endpoint

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/config"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/secret"
)

// sdkConfig is a Databricks SDK config that reads nothing from the
// environment or ~/.databrickscfg and authenticates through url.
func sdkConfig(host, url string) *config.Config {
	return &config.Config{
		Host:                host,
		AuthType:            "metadata-service",
		MetadataServiceURL:  url,
		Loaders:             []config.Loader{noLoader{}},
		RetryTimeoutSeconds: 1,
	}
}

type noLoader struct{}

func (noLoader) Name() string                   { return "none" }
func (noLoader) Configure(*config.Config) error { return nil }

// TestDatabricksSDK has the real Databricks Go SDK authenticate a request
// through the handler served on 127.0.0.1.
func TestDatabricksSDK(t *testing.T) {
	ft := &fakeTokens{tok: tokensource.Token{Value: secret.New(fakeToken), ExpiresOn: time.Now().Add(time.Hour)}}
	m := newMetadata(ft, nil)
	m.Clock = nil // the SDK checks expiry against the real clock
	srv := httptest.NewServer(m)
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server not on 127.0.0.1: %s", srv.URL)
	}

	cfg := sdkConfig(wsHost, srv.URL+"/"+pathSecret+"/prod")
	req, _ := http.NewRequest(http.MethodGet, wsHost+"/api/2.0/clusters/list", nil)
	if err := cfg.Authenticate(req); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+fakeToken {
		t.Errorf("Authorization = %q, want the fake token", got)
	}
	if len(ft.calls) == 0 || ft.calls[0].profile != "prod" {
		t.Errorf("calls %+v", ft.calls)
	}

	// The SDK's own check: a workspace that is not the profile's is refused.
	other := sdkConfig("https://adb-999.9.azuredatabricks.net", srv.URL+"/"+pathSecret+"/prod")
	req2, _ := http.NewRequest(http.MethodGet, "https://adb-999.9.azuredatabricks.net/api/2.0/clusters/list", nil)
	err := other.Authenticate(req2)
	if err == nil || !strings.Contains(err.Error(), "not the requested workspace") {
		t.Errorf("other workspace: err = %v", err)
	}
	if req2.Header.Get("Authorization") != "" {
		t.Error("other workspace got an Authorization header")
	}

	// A wrong secret fails with the not-found message.
	wrong := sdkConfig(wsHost, srv.URL+"/nope/prod")
	err = wrong.Authenticate(req2)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("wrong secret: err = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), fakeToken) {
		t.Error("error holds the token")
	}
}
