//go:build unix

package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/config"
)

const workspaceHost = "https://adb-1234567890123456.7.azuredatabricks.net"

// TestDatabricksMetadataEndpoint: `databricks env` output makes the real
// Databricks Go SDK (auth_type metadata-service) authenticate through the
// daemon; the URL survives a restart; bad requests get the spec's statuses.
func TestDatabricksMetadataEndpoint(t *testing.T) {
	e := newEnv(t, spProfile+"databricks_host = \""+workspaceHost+"\"\n")
	port := freePort(t)
	cfgPath := filepath.Join(e.dir, "home", ".config", "entra-helper", "config.toml")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.Replace(string(raw), `metadata_listen = ""`, fmt.Sprintf(`metadata_listen = "127.0.0.1:%d"`, port), 1))
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "metadata-s3cret-value-0123456789"
	e.startSignedInSP(secret)
	env := databricksEnv(t, e)
	url := env["DATABRICKS_METADATA_SERVICE_URL"]
	e.secrets = append(e.secrets, strings.Split(url, "/")[3]) // the path secret
	if env["DATABRICKS_AUTH_TYPE"] != "metadata-service" || env["DATABRICKS_HOST"] != workspaceHost {
		t.Fatalf("databricks env = %v", env)
	}

	sdkToken := func() string {
		t.Helper()
		cfg := &config.Config{Host: env["DATABRICKS_HOST"], AuthType: env["DATABRICKS_AUTH_TYPE"],
			MetadataServiceURL: url, Loaders: []config.Loader{noLoader{}}}
		tok, _ := e.sdkSign(cfg)
		return tok
	}
	if aud := claims(t, sdkToken())["aud"]; aud != databricksResource {
		t.Fatalf("aud = %v", aud)
	}

	for _, tc := range []struct {
		name    string
		url     string
		headers map[string]string
		want    int
	}{
		{"ok", url, map[string]string{"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": workspaceHost}, 200},
		{"wrong secret", strings.Replace(url, "/sp", "x/sp", 1), map[string]string{"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": workspaceHost}, 404},
		{"unknown profile", url + "x", map[string]string{"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": workspaceHost}, 404},
		{"no version", url, map[string]string{"X-Databricks-Host": workspaceHost}, 400},
		{"other workspace", url, map[string]string{"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": "https://adb-9.9.azuredatabricks.net"}, 403},
		{"foreign Host header", url, map[string]string{"X-Databricks-Metadata-Version": "1", "X-Databricks-Host": workspaceHost, "Host": "evil.example"}, 403},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		for k, v := range tc.headers {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}

	// The URL written once keeps working after a restart.
	e.killDaemon()
	e.startDaemon()
	if got := databricksEnv(t, e)["DATABRICKS_METADATA_SERVICE_URL"]; got != url {
		t.Fatal("the metadata URL changed across a restart")
	}
	sdkToken()
}

func databricksEnv(t *testing.T, e *env) map[string]string {
	t.Helper()
	out, stderr, code := e.client("", "databricks", "env", "-p", "sp", "--shell", "sh")
	if code != 0 {
		t.Fatalf("databricks env: exit %d: %s", code, stderr)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		vars[k] = strings.Trim(v, `'"`)
	}
	return vars
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
