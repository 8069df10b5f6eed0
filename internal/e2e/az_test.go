//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/config"
)

// noLoader keeps the SDK from reading the environment or ~/.databrickscfg.
type noLoader struct{}

func (noLoader) Name() string                   { return "none" }
func (noLoader) Configure(*config.Config) error { return nil }

// TestDatabricksSDKAzureCLIAuthThroughAzLink: the Databricks Go SDK's
// azure-cli auth, which runs `az account show` and `az account
// get-access-token`, works unchanged with entra-helper linked as `az`, and
// sends both the workspace token and the management token.
func TestDatabricksSDKAzureCLIAuthThroughAzLink(t *testing.T) {
	e := newEnv(t, spProfile)
	const secret = "az-shim-s3cret-value-0123456789"
	e.startSignedInSP(secret)

	// The SDK runs `az` from PATH with this process's environment.
	linkDir := t.TempDir()
	if err := os.Symlink(filepath.Join(binDir, "entra-helper"), filepath.Join(linkDir, "az")); err != nil {
		t.Fatal(err)
	}
	for _, kv := range e.environ {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PATH" {
			v = linkDir + string(os.PathListSeparator) + v
		}
		t.Setenv(k, v)
	}
	t.Setenv("ENTRA_HELPER_PROFILE", "sp")

	cfg := &config.Config{
		Host:          "https://adb-1234567890123456.7.azuredatabricks.net",
		AuthType:      "azure-cli",
		AzureTenantID: e.entra.Tenant(),
		Loaders:       []config.Loader{noLoader{}},
	}
	tok, header := e.sdkSign(cfg)
	if aud := claims(t, tok)["aud"]; aud != databricksResource {
		t.Fatalf("aud = %v, want the Databricks resource", aud)
	}
	mgmt := header.Get("X-Databricks-Azure-SP-Management-Token")
	if mgmt == "" {
		t.Fatal("no management token header")
	}
	e.secrets = append(e.secrets, mgmt)
	if aud := claims(t, mgmt)["aud"]; aud != "https://management.core.windows.net/" {
		t.Fatalf("management token aud = %v", aud)
	}
}
