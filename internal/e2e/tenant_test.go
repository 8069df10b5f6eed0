//go:build unix

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/ipc"
)

// A profile with databricks_host and no tenant signs in to the tenant the
// workspace's /aad/auth redirect names, asks the workspace once, and keeps
// the tenant across restarts.
func TestTenantFromDatabricksWorkspace(t *testing.T) {
	const tid = "0b4c5a6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
	e := newEnvWith(t, entratest.Options{Tenant: tid}, "")
	ws, err := e.entra.StartWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	cfg := "[daemon]\nmetadata_listen = \"\"\nidentity_listen = \"\"\n\n[profiles.sp]\nflow = \"client-secret\"\nclient_id = \"" + spClientID + "\"\n" +
		"authority_host = \"" + e.entra.URL() + "\"\ndatabricks_host = \"" + ws.URL() + "\"\n"
	if err := os.WriteFile(filepath.Join(e.dir, "home", ".config", "entra-helper", "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t~Workspace-Tenant-0123456789"
	e.secrets = append(e.secrets, secret)
	e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: secret})
	e.startDaemon()
	t.Cleanup(func() { e.client("", "logout", "-p", "sp") })

	st := statusOf(t, e)
	if st.TenantSource == "" || !strings.Contains(st.TenantSource, ws.URL()+"/aad/auth") || st.Tenant != "" || ws.Requests() != 0 {
		t.Fatalf("before sign-in: tenant %q from %q, %d workspace requests", st.Tenant, st.TenantSource, ws.Requests())
	}
	if _, stderr, code := e.client(secret, "login", "-p", "sp", "--secret-stdin"); code != 0 {
		t.Fatalf("login: exit %d: %s", code, stderr)
	}
	if tok := e.token("-p", "sp"); claims(t, tok)["tid"] != tid {
		t.Errorf("token tid = %v, want the workspace's tenant %s", claims(t, tok)["tid"], tid)
	}
	st = statusOf(t, e)
	if st.Tenant != tid || !strings.HasPrefix(st.TenantSource, "found at "+ws.URL()+"/aad/auth") {
		t.Errorf("status: tenant %q from %q", st.Tenant, st.TenantSource)
	}
	out, _, _ := e.client("", "status")
	if !strings.Contains(out, tid+" (found at "+ws.URL()+"/aad/auth") {
		t.Errorf("status does not say where the tenant came from:\n%s", out)
	}

	// A restart takes the tenant from the store: the workspace is asked once.
	e.stopDaemon()
	e.startDaemon()
	if tok := e.token("-p", "sp", "--resource", "https://management.core.windows.net/"); claims(t, tok)["tid"] != tid {
		t.Errorf("after restart: tid = %v", claims(t, tok)["tid"])
	}
	if ws.Requests() != 1 {
		t.Errorf("the workspace was asked %d times, want once", ws.Requests())
	}
}

// statusOf is profile sp's entry in `entra-helper status --json`.
func statusOf(t *testing.T, e *env) ipc.ProfileStatus {
	t.Helper()
	out, stderr, code := e.client("", "status", "--json")
	var st ipc.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Profiles) != 1 {
		t.Fatalf("status --json: exit %d: %s %s", code, out, stderr)
	}
	return st.Profiles[0]
}
