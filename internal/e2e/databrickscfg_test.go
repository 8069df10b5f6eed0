//go:build unix

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/config"
)

// TestDatabricksConfigureWithTheGoSDK: `entra-helper databricks configure`
// either writes a profile the real Databricks Go SDK authenticates with
// through the daemon's metadata endpoint, or refuses with the line numbers
// and leaves the file byte for byte as it was.
func TestDatabricksConfigureWithTheGoSDK(t *testing.T) {
	e := newEnv(t, spProfile+"databricks_host = \""+workspaceHost+"\"\n")
	cfgPath := filepath.Join(e.dir, "home", ".config", "entra-helper", "config.toml")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.Replace(string(raw), `metadata_listen = ""`, fmt.Sprintf(`metadata_listen = "127.0.0.1:%d"`, freePort(t)), 1))
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	e.startSignedInSP("configure-s3cret-value-0123456789")
	e.secrets = append(e.secrets, "dapi0123456789abcdef-old-pat")

	dir := t.TempDir()
	configure := func(content string) (path string, stderr string, code int) {
		t.Helper()
		real := filepath.Join(dir, "real.databrickscfg")
		path = filepath.Join(dir, ".databrickscfg") // a symlink to real
		os.Remove(path)
		if err := os.WriteFile(real, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chmod(real, 0o640)
		if err := os.Symlink(real, path); err != nil {
			t.Fatal(err)
		}
		cmd := append([]string(nil), e.environ...)
		saved := e.environ
		e.environ = append(cmd, "DATABRICKS_CONFIG_FILE="+path)
		defer func() { e.environ = saved }()
		_, stderr, code = e.client("", "databricks", "configure", "-p", "sp")
		return path, stderr, code
	}

	for _, tc := range []struct {
		name, content string
		lines         string
	}{
		{"spaces inside the brackets", "[ sp ]\nhost = https://adb-9.9.azuredatabricks.net\ntoken = dapi0123456789abcdef-old-pat\n", "line 1:"},
		{"the profile twice", "[sp]\nhost = https://adb-9.9.azuredatabricks.net\n\n[dev]\nhost = https://d\n\n[sp]\ntoken = dapi0123456789abcdef-old-pat\n", "lines 1 and 7:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, stderr, code := configure(tc.content)
			if code == 0 || !strings.Contains(stderr, tc.lines) || !strings.Contains(stderr, "left unchanged") {
				t.Errorf("exit %d, stderr %q; want a refusal naming %q", code, stderr, tc.lines)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Errorf("the file changed:\n%s", b)
			}
		})
	}

	t.Run("a file both readers agree on", func(t *testing.T) {
		content := "\ufeff; profiles\r\n[DEFAULT]\r\ncluster_id = 0101-abc\r\n\r\n[dev]\r\nhost = https://d\r\ntoken = dapi-dev\r\n\r\n" +
			"[sp] ; the service principal\r\nHOST = https://adb-9.9.azuredatabricks.net\r\nToken = dapi0123456789abcdef-old-pat\r\n# azure_client_secret = commented out\r\nwarehouse_id = w1\r\n"
		path, stderr, code := configure(content)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), "dapi0123456789abcdef-old-pat") || !strings.Contains(string(b), "[dev]\r\nhost = https://d\r\ntoken = dapi-dev\r\n") {
			t.Errorf("file:\n%s", b)
		}
		if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Error("the symlink was replaced")
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %o, want 0640 kept", fi.Mode().Perm())
		}
		cfg := &config.Config{Profile: "sp", ConfigFile: path, Loaders: []config.Loader{config.ConfigFile}}
		tok, _ := e.sdkSign(cfg)
		if cfg.Host != workspaceHost || cfg.AuthType != "metadata-service" || cfg.WarehouseID != "w1" {
			t.Errorf("the SDK read host %q, auth_type %q, warehouse %q", cfg.Host, cfg.AuthType, cfg.WarehouseID)
		}
		if aud := claims(t, tok)["aud"]; aud != databricksResource {
			t.Errorf("aud = %v", aud)
		}
		if u := cfg.MetadataServiceURL; u != "" {
			e.secrets = append(e.secrets, strings.Split(u, "/")[3])
		}
	})
}
