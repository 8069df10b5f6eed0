package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
)

func TestParseAzArgs(t *testing.T) {
	tests := []struct {
		args   []string
		want   azArgs
		scopes []string
	}{
		{[]string{"account", "get-access-token"}, azArgs{cmd: []string{"account", "get-access-token"}}, []string{managementScope}},
		// What the Databricks SDK runs.
		{[]string{"account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "--output", "json", "--tenant", "t1", "--subscription", "s1"},
			azArgs{cmd: []string{"account", "get-access-token"}, resource: "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", output: "json", tenant: "t1", subscription: "s1"},
			[]string{databricksScope}},
		{[]string{"account", "get-access-token", "--resource=https://management.core.windows.net/", "-o", "tsv", "--query", "accessToken"},
			azArgs{cmd: []string{"account", "get-access-token"}, resource: "https://management.core.windows.net/", output: "tsv", query: "accessToken"},
			[]string{managementScope}},
		{[]string{"account", "get-access-token", "--scope", "a/.default", "b/.default", "-o", "json"},
			azArgs{cmd: []string{"account", "get-access-token"}, scopes: []string{"a/.default", "b/.default"}, output: "json"},
			[]string{"a/.default", "b/.default"}},
		{[]string{"account", "get-access-token", "--resource-type", "ms-graph", "--only-show-errors", "--debug"},
			azArgs{cmd: []string{"account", "get-access-token"}, resourceType: "ms-graph"},
			[]string{"https://graph.microsoft.com//.default"}},
		{[]string{"account", "show", "--output", "json"}, azArgs{cmd: []string{"account", "show"}, output: "json"}, []string{managementScope}},
		{[]string{"--version"}, azArgs{version: true}, []string{managementScope}},
	}
	for _, tt := range tests {
		got, err := parseAzArgs(tt.args)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
		}
		if s, err := got.scopesFor(entra.Clouds[0]); err != nil || !reflect.DeepEqual(s, tt.scopes) {
			t.Errorf("%q: scopes %q, want %q", tt.args, s, tt.scopes)
		}
	}
}

// The scopes follow the profile's cloud, as the Azure CLI's do after
// `az cloud set`.
func TestAzScopesPerCloud(t *testing.T) {
	for _, tc := range []struct {
		cloud string
		args  []string
		want  string
	}{
		{"usgov", nil, "https://management.core.usgovcloudapi.net//.default"},
		{"china", nil, "https://management.core.chinacloudapi.cn//.default"},
		{"usgov", []string{"--resource-type", "arm"}, "https://management.core.usgovcloudapi.net//.default"},
		{"usgov", []string{"--resource-type", "ms-graph"}, "https://graph.microsoft.us//.default"},
		{"china", []string{"--resource-type", "ms-graph"}, "https://microsoftgraph.chinacloudapi.cn/.default"},
		{"china", []string{"--resource-type", "databricks"}, databricksScope},
		{"china", []string{"--resource", "https://management.core.windows.net/"}, managementScope},
	} {
		z, err := parseAzArgs(append([]string{"account", "get-access-token"}, tc.args...))
		if err != nil {
			t.Fatal(err)
		}
		got, err := z.scopesFor(entra.CloudByName(tc.cloud))
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s %q: %q, %v; want %q", tc.cloud, tc.args, got, err, tc.want)
		}
	}
	z, _ := parseAzArgs([]string{"account", "get-access-token", "--resource-type", "synapse"})
	if _, err := z.scopesFor(entra.CloudByName("usgov")); err == nil || !strings.Contains(err.Error(), "no resource in the usgov cloud") {
		t.Errorf("synapse in usgov: %v", err)
	}

	// Through the client: the cloud comes from the daemon's profile settings.
	for _, cloud := range entra.Clouds {
		p := testProfile()
		p.Cloud = cloud.Name
		f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) { return defaultAnswer(req, p) }}
		code, out, errOut := runAz(t, f, nil, "account", "get-access-token", "--query", "accessToken", "-o", "tsv")
		if code != 0 || out != "tok-"+cloud.ManagementScope()+"\n" {
			t.Errorf("%s: exit %d (%s), %q", cloud.Name, code, errOut, out)
		}
		code, out, _ = runAz(t, f, nil, "account", "show", "--query", "environmentName", "-o", "tsv")
		if code != 0 || out != cloud.CLIName+"\n" {
			t.Errorf("%s: environmentName %q", cloud.Name, out)
		}
		a, _, _ := testApp(f, nil)
		code, out, _ = runApp(t, a, "headers", "-p", "x")
		if code != 0 || !strings.Contains(out, "X-Databricks-Azure-SP-Management-Token: tok-"+cloud.ManagementScope()+"\n") {
			t.Errorf("%s: headers %q", cloud.Name, out)
		}
	}
}

func TestAzUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"login"},
		{"account", "list"},
		{"group", "list"},
		{},
		{"account", "get-access-token", "--resource"},
		{"account", "get-access-token", "--scope"},
		{"account", "get-access-token", "--resource", "r", "--scope", "s"},
		{"account", "get-access-token", "-o", "yaml"},
		{"account", "get-access-token", "--query", "[0].accessToken"},
		{"account", "get-access-token", "--resource-type", "nope"},
		{"account", "get-access-token", "--bogus"},
	} {
		a, _, _ := testApp(&fakeDaemon{}, nil)
		code := a.main(append([]string{"/usr/local/bin/az"}, args...))
		errOut := a.stderr.(interface{ String() string }).String()
		if code != 2 || !strings.HasPrefix(errOut, "ERROR: ") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
		if len(args) > 0 && (args[0] == "login" || args[0] == "account" && args[1] == "list") && !strings.Contains(errOut, "entra-helper's az shim supports only") {
			t.Errorf("%q: stderr %q", args, errOut)
		}
	}
}

func runAz(t *testing.T, f *fakeDaemon, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	a, out, errb := testApp(f, env)
	code := a.main(append([]string{"az.exe"}, args...))
	return code, out.String(), errb.String()
}

func TestAzGetAccessToken(t *testing.T) {
	tok := testToken("", []string{databricksScope})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"json", []string{"account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "--output", "json", "--subscription", "sub-9"},
			"{\n  \"accessToken\": \"" + tok.AccessToken + "\",\n  \"expiresOn\": \"2024-03-01 13:59:59.000000\",\n  \"expires_on\": 1709297999,\n  \"subscription\": \"sub-9\",\n  \"tenant\": \"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\",\n  \"tokenType\": \"Bearer\"\n}\n"},
		{"tsv", []string{"account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "-o", "tsv"},
			tok.AccessToken + "\t2024-03-01 13:59:59.000000\t1709297999\t\ta1bc2d34-5e67-8f89-01ab-c2345d6c78de\tBearer\n"},
		{"query tsv", []string{"account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "--query", "accessToken", "-o", "tsv"},
			tok.AccessToken + "\n"},
		{"query json", []string{"account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "--query", "expires_on"},
			"1709297999\n"},
		{"query missing", []string{"account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "--query", "nothing"}, ""},
		{"none", []string{"account", "get-access-token", "-o", "none"}, ""},
		{"matching tenant", []string{"account", "get-access-token", "--resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "--tenant", "A1BC2D34-5E67-8F89-01AB-C2345D6C78DE", "--query", "tenant", "-o", "tsv"},
			"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDaemon{}
			code, out, errOut := runAz(t, f, map[string]string{envProfile: "prod"}, tt.args...)
			if code != 0 || out != tt.want {
				t.Errorf("exit %d (%s)\n got %q\nwant %q", code, errOut, out, tt.want)
			}
			for _, r := range f.requests() {
				if r.Profile != "prod" {
					t.Errorf("profile %q, want ENTRA_HELPER_PROFILE's", r.Profile)
				}
			}
		})
	}
}

// --tenant goes to the daemon, which checks it (daemon tests and the
// end-to-end tests cover its rules); the client shows its refusal.
func TestAzWrongTenant(t *testing.T) {
	f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
		if req.Op == ipc.OpToken && req.Tenant != "" {
			e := &ipc.Error{Code: ipc.CodeFailed, Message: "profile prod signs in to tenant a1bc2d34-5e67-8f89-01ab-c2345d6c78de, not " + req.Tenant + "."}
			return &ipc.Response{Error: e}, e
		}
		return defaultAnswer(req, nil)
	}}
	code, out, errOut := runAz(t, f, nil, "account", "get-access-token", "--tenant", "00000000-0000-0000-0000-000000000000")
	if code != 1 || out != "" || !strings.Contains(errOut, "not 00000000-0000-0000-0000-000000000000") {
		t.Errorf("exit %d, out %q, err %q", code, out, errOut)
	}
}

func TestAzErrors(t *testing.T) {
	for profile, want := range map[string]int{"needs": 3, "down": 5, "nope": 2} {
		code, out, errOut := runAz(t, &fakeDaemon{}, map[string]string{envProfile: profile}, "account", "get-access-token", "--resource", "x")
		if code != want || out != "" || !strings.HasPrefix(errOut, "ERROR: ") {
			t.Errorf("%s: exit %d, out %q, err %q", profile, code, out, errOut)
		}
	}
}

func TestAzAccountShow(t *testing.T) {
	userJWT := makeJWT(t, map[string]any{"alg": "RS256"}, map[string]any{"upn": "ada@contoso.com", "tid": "home-tenant"})
	tests := []struct {
		name     string
		flow     string
		clientID string
		wantUser map[string]any
		tenant   string
	}{
		{"service principal", "client-secret", "app-1", map[string]any{"name": "app-1", "type": "servicePrincipal"}, "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"},
		{"system msi", "managed-identity", "", map[string]any{"name": "systemAssignedIdentity", "type": "servicePrincipal"}, "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"},
		{"user msi", "managed-identity", "c1", map[string]any{"name": "userAssignedIdentity", "type": "servicePrincipal"}, "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"},
		{"user", "browser", "app-1", map[string]any{"name": "ada@contoso.com", "type": "user"}, "home-tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProfile()
			p.Flow, p.ClientID = tt.flow, tt.clientID
			f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
				if req.Op == ipc.OpToken {
					tok := testToken(req.Profile, req.Scopes)
					tok.AccessToken = userJWT
					return &ipc.Response{Token: tok}, nil
				}
				return defaultAnswer(req, p)
			}}
			code, out, errOut := runAz(t, f, nil, "account", "show", "--output", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m["user"], tt.wantUser) || m["tenantId"] != tt.tenant || m["id"] != "sub-1" || m["isDefault"] != true {
				t.Errorf("account %s", out)
			}
			// The Databricks SDK's view of it.
			var acct struct {
				User struct{ Name, Type string } `json:"user"`
			}
			json.Unmarshal([]byte(out), &acct)
			if acct.User.Type == "" {
				t.Errorf("no user.type")
			}
		})
	}
	// A tenant written as a domain: az prints the tenant ID, from a token.
	dom := testProfile()
	dom.Tenant = "contoso.com"
	f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) { return defaultAnswer(req, dom) }}
	if code, out, _ := runAz(t, f, nil, "account", "show", "--query", "tenantId", "-o", "tsv"); code != 0 || out != "a1bc2d34-5e67-8f89-01ab-c2345d6c78de\n" {
		t.Errorf("domain tenant: exit %d, %q", code, out)
	}
	code, out, _ := runAz(t, &fakeDaemon{}, nil, "account", "show", "-o", "tsv")
	if code != 0 || out != "AzureCloud\ta1bc2d34-5e67-8f89-01ab-c2345d6c78de\tsub-1\tTrue\t0\tentra-helper profile prod\tEnabled\ta1bc2d34-5e67-8f89-01ab-c2345d6c78de\t\n" {
		t.Errorf("tsv: %q", out)
	}
	code, out, _ = runAz(t, &fakeDaemon{}, nil, "account", "show", "--query", "user.name", "-o", "tsv")
	if code != 0 || out != "12a34b56-789c-0d12-e3fa-b456789c0123\n" {
		t.Errorf("query user.name: %q", out)
	}
}

func TestAzVersion(t *testing.T) {
	code, out, _ := runAz(t, &fakeDaemon{}, nil, "version")
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil || m["azure-cli"] != azCompatVersion {
		t.Errorf("az version: exit %d %q", code, out)
	}
	code, out, _ = runAz(t, &fakeDaemon{}, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "azure-cli ") {
		t.Errorf("az --version: exit %d %q", code, out)
	}
}
