//go:build unix

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/internal/entratest"
)

// Three profiles of one service principal, one per cloud, on the fake
// authority (authority_host overrides only the authority host, so each keeps
// its cloud's resources); gov names its tenant by a verified domain.
const cloudProfiles = `
[profiles.sp]
flow = "client-secret"
tenant = "{tenant}"
client_id = "` + spClientID + `"
authority_host = "{authority}"

[profiles.gov]
flow = "client-secret"
tenant = "Contoso.Example"
client_id = "` + spClientID + `"
cloud = "usgov"
authority_host = "{authority}"

[profiles.cn]
flow = "client-secret"
tenant = "{tenant}"
client_id = "` + spClientID + `"
cloud = "china"
authority_host = "{authority}"
`

// az runs the client linked as az with ENTRA_HELPER_PROFILE=profile.
func (e *env) az(link, profile string, args ...string) (string, string, int) {
	cmd := exec.Command(link, args...)
	cmd.Env = append(append([]string(nil), e.environ...), "ENTRA_HELPER_PROFILE="+profile)
	out, errOut, code := runCmd(e.t, cmd, "")
	e.outputs = append(e.outputs, errOut)
	return out, errOut, code
}

func TestCloudsAndTenantsThroughTheAzLink(t *testing.T) {
	e := newEnvWith(t, entratest.Options{Domains: []string{"contoso.example", "contoso.onmicrosoft.example"}}, cloudProfiles)
	const secret = "clouds-s3cret-value-0123456789"
	e.startSignedInSP(secret)
	for _, p := range []string{"gov", "cn"} {
		t.Cleanup(func() { e.client("", "logout", "-p", p) })
		if _, stderr, code := e.client(secret, "login", "-p", p, "--secret-stdin"); code != 0 {
			t.Fatalf("login %s: exit %d: %s", p, code, stderr)
		}
	}
	link := filepath.Join(t.TempDir(), "az")
	if err := os.Symlink(filepath.Join(binDir, "entra-helper"), link); err != nil {
		t.Fatal(err)
	}

	// Each cloud's management resource and environmentName, through the
	// az link and headers.
	for _, tc := range []struct{ profile, mgmt, env string }{
		{"sp", "https://management.core.windows.net/", "AzureCloud"},
		{"gov", "https://management.core.usgovcloudapi.net/", "AzureUSGovernment"},
		{"cn", "https://management.core.chinacloudapi.cn/", "AzureChinaCloud"},
	} {
		out, stderr, code := e.az(link, tc.profile, "account", "get-access-token", "--query", "accessToken", "-o", "tsv")
		if code != 0 {
			t.Fatalf("%s: az account get-access-token: exit %d: %s", tc.profile, code, stderr)
		}
		tok := strings.TrimSpace(out)
		e.secrets = append(e.secrets, tok)
		if aud := claims(t, tok)["aud"]; aud != tc.mgmt {
			t.Errorf("%s: az token aud = %v, want %s", tc.profile, aud, tc.mgmt)
		}
		out, _, code = e.az(link, tc.profile, "account", "show", "--query", "environmentName", "-o", "tsv")
		if code != 0 || strings.TrimSpace(out) != tc.env {
			t.Errorf("%s: environmentName %q (exit %d), want %s", tc.profile, out, code, tc.env)
		}
		out, stderr, code = e.client("", "headers", "-p", tc.profile)
		mgmt, found := "", false
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "X-Databricks-Azure-SP-Management-Token: "); ok {
				mgmt, found = v, true
			} else if v, ok := strings.CutPrefix(l, "Authorization: Bearer "); ok {
				e.secrets = append(e.secrets, v)
			}
		}
		if code != 0 || !found {
			t.Fatalf("%s: headers: exit %d: %s", tc.profile, code, stderr)
		}
		e.secrets = append(e.secrets, mgmt)
		if aud := claims(t, mgmt)["aud"]; aud != tc.mgmt {
			t.Errorf("%s: headers management aud = %v, want %s", tc.profile, aud, tc.mgmt)
		}
	}

	// --tenant in every form: the profile's own tenant as its ID or a
	// verified domain succeeds (for gov, whose config names a domain, the ID
	// too); another tenant, and the classes of accounts, are refused with a
	// sentence naming the profile's tenant.
	tid := e.entra.Tenant()
	for _, tc := range []struct {
		profile, tenant string
		ok              bool
	}{
		{"sp", tid, true},
		{"sp", strings.ToUpper(tid), true},
		{"sp", "contoso.example", true},
		{"sp", "CONTOSO.onmicrosoft.example", true},
		{"gov", tid, true},
		{"gov", "contoso.example", true},
		{"sp", "fabrikam.example", false},
		{"gov", "fabrikam.example", false},
		{"sp", "00000000-0000-0000-0000-000000000000", false},
		{"sp", "common", false},
		{"sp", "organizations", false},
		{"gov", "consumers", false},
	} {
		out, stderr, code := e.az(link, tc.profile, "account", "get-access-token", "--resource", databricksResource, "--tenant", tc.tenant, "--query", "tenant", "-o", "tsv")
		switch {
		case tc.ok && (code != 0 || strings.TrimSpace(out) != tid):
			t.Errorf("%s --tenant %s: exit %d, %q, %s; want the token of tenant %s", tc.profile, tc.tenant, code, out, stderr, tid)
		case !tc.ok && (code == 0 || out != "" || !strings.Contains(stderr, "signs in to tenant") || !strings.Contains(stderr, tid)):
			t.Errorf("%s --tenant %s: exit %d, out %q, err %q; want a refusal naming tenant %s", tc.profile, tc.tenant, code, out, stderr, tid)
		}
	}
}
