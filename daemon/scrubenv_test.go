package daemon

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/ipc"
)

// A daemon started by hand from a shell that ran `entra-helper azure env
// --terraform` and `databricks env` drops their secrets even with its own
// endpoints off, so that no child (a browser) inherits them.
func TestScrubIdentityEnvWithEndpointsOff(t *testing.T) {
	for k, v := range map[string]string{
		"IDENTITY_ENDPOINT":               "http://127.0.0.1:41234/app-service/sp",
		"IDENTITY_HEADER":                 "s3cret",
		"ARM_MSI_ENDPOINT":                "http://127.0.0.1:41234/imds/s3cret/sp",
		"MSI_ENDPOINT":                    "http://[::1]:41234/app-service",
		"DATABRICKS_METADATA_SERVICE_URL": "http://127.0.0.1:41235/m3ta/sp",
		"ARM_USE_MSI":                     "true",
	} {
		t.Setenv(k, v)
	}
	d := &Daemon{log: zap.NewNop()} // identity_listen = "", metadata off
	d.scrubIdentityEnv()
	for _, k := range ipc.EndpointEnv {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%q is still in the daemon's environment", k, v)
		}
	}
	for _, kv := range os.Environ() {
		if strings.Contains(kv, "s3cret") || strings.Contains(kv, "m3ta") {
			t.Errorf("a secret is still in the daemon's environment: %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
	if os.Getenv("ARM_USE_MSI") != "true" {
		t.Error("ARM_USE_MSI was dropped; it carries no secret")
	}
}

// An Azure host's own managed-identity endpoint is what a managed-identity
// profile needs: it stays.
func TestScrubIdentityEnvKeepsAzureHost(t *testing.T) {
	t.Setenv("IDENTITY_ENDPOINT", "http://169.254.129.3:8081/msi/token")
	t.Setenv("IDENTITY_HEADER", "platform")
	d := &Daemon{log: zap.NewNop()}
	d.scrubIdentityEnv()
	if os.Getenv("IDENTITY_ENDPOINT") == "" || os.Getenv("IDENTITY_HEADER") != "platform" {
		t.Errorf("the Azure host's variables were dropped: %q %q", os.Getenv("IDENTITY_ENDPOINT"), os.Getenv("IDENTITY_HEADER"))
	}
}
