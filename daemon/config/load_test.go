package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	tenant = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"
	client = "12a34b56-789c-0d12-e3fa-b456789c0123"
)

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFull(t *testing.T) {
	doc := `default_profile = "prod"

[daemon]
log_level = "debug"
log_format = "json"
store = "file"
state_dir = "/var/lib/eh"
store_key_file = "/etc/eh/key"
min_valid = "10m"
metadata_listen = "[::1]:9000"
identity_listen = "localhost:9001"

[profiles.prod]
flow = "client-secret"
tenant = "` + tenant + `"
client_id = "` + client + `"
cloud = "usgov"
authority_host = "https://Login.Example.com/"
scopes = ["a/.default", "b/.default"]
git_scope = "api://git-host/.default"
databricks_host = "HTTPS://ADB-1.7.Databricks.Azure.US/"
workspace_resource_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws"
allowed_users = ["alice"]
allowed_groups = ["data"]

[profiles."mi.user"]
flow = "managed-identity"
`
	p := writeConfig(t, doc)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:           p,
		DefaultProfile: "prod",
		Daemon: Daemon{
			LogLevel: "debug", LogFormat: "json", Store: "file", StateDir: "/var/lib/eh",
			StoreKeyFile: "/etc/eh/key", MinValid: 10 * time.Minute, MetadataListen: "[::1]:9000",
			IdentityListen: "localhost:9001", MetadataListenSet: true, IdentityListenSet: true,
		},
		Profiles: map[string]*Profile{
			"prod": {
				Name: "prod", Flow: FlowClientSecret, Tenant: tenant, ClientID: client, Cloud: "usgov",
				AuthorityHost: "https://login.example.com", Scopes: []string{"a/.default", "b/.default"},
				GitScope:            "api://git-host/.default",
				DatabricksHost:      "https://adb-1.7.databricks.azure.us",
				WorkspaceResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws",
				AllowedUsers:        []string{"alice"}, AllowedGroups: []string{"data"},
			},
			"mi.user": {Name: "mi.user", Flow: FlowManagedIdentity, Cloud: "public", Scopes: []string{DatabricksScope}, GitScope: AzureDevOpsScope},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%#v\nwant\n%#v", cfg, want)
		for k := range want.Profiles {
			t.Errorf("%s: got %#v want %#v", k, cfg.Profiles[k], want.Profiles[k])
		}
	}
	if got := cfg.Profiles["prod"].AuthorityBaseURL(); got != "https://login.example.com" {
		t.Errorf("AuthorityBaseURL = %q", got)
	}
}

func TestLoadDefaults(t *testing.T) {
	p := writeConfig(t, "[profiles.dev]\nflow = \"browser\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"c\"\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	wantD := Daemon{LogLevel: "info", LogFormat: "console", Store: "keyring", MinValid: 5 * time.Minute, MetadataListen: "127.0.0.1:8771", IdentityListen: "127.0.0.1:8772"}
	if cfg.Daemon != wantD {
		t.Errorf("daemon = %#v, want %#v", cfg.Daemon, wantD)
	}
	prof, ok := cfg.Profile("")
	if !ok || prof.Name != "dev" || prof.Cloud != "public" || !reflect.DeepEqual(prof.Scopes, []string{DatabricksScope}) || prof.GitScope != AzureDevOpsScope {
		t.Errorf("profile = %#v, %v", prof, ok)
	}
	if prof.AuthorityBaseURL() != "https://login.microsoftonline.com" {
		t.Errorf("authority = %q", prof.AuthorityBaseURL())
	}
}

func TestLoadTenantFromWorkspace(t *testing.T) {
	// tenant may be left out when databricks_host is set: the daemon finds it
	// from the workspace; the tenant is kept in lower case.
	p := writeConfig(t, "[profiles.ws]\nflow = \"client-secret\"\nclient_id = \"c\"\ndatabricks_host = \"adb-1.7.databricks.azure.cn\"\ncloud = \"china\"\n"+
		"[profiles.dom]\nflow = \"browser\"\nclient_id = \"c\"\ntenant = \"Contoso.COM\"\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	ws := cfg.Profiles["ws"]
	if ws.Tenant != "" || ws.DatabricksHost != "https://adb-1.7.databricks.azure.cn" || ws.AuthorityBaseURL() != "https://login.chinacloudapi.cn" ||
		ws.CloudTable().ManagementResource != "https://management.core.chinacloudapi.cn/" {
		t.Errorf("ws = %#v", ws)
	}
	if cfg.Profiles["dom"].Tenant != "contoso.com" {
		t.Errorf("dom tenant = %q", cfg.Profiles["dom"].Tenant)
	}
}

func TestAuthorityHostOverridesOnlyTheAuthority(t *testing.T) {
	p := writeConfig(t, "[profiles.gov]\nflow = \"client-secret\"\nclient_id = \"c\"\ntenant = \"t.example\"\ncloud = \"usgov\"\nauthority_host = \"https://login.test.example\"\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	gov := cfg.Profiles["gov"]
	if gov.AuthorityBaseURL() != "https://login.test.example" || gov.CloudTable().ManagementResource != "https://management.core.usgovcloudapi.net/" ||
		gov.CloudTable().CLIName != "AzureUSGovernment" {
		t.Errorf("gov: authority %q, cloud %+v", gov.AuthorityBaseURL(), gov.CloudTable())
	}
}

func TestLoadMetadataListenOff(t *testing.T) {
	p := writeConfig(t, "[daemon]\nmetadata_listen = \"\"\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Daemon.MetadataListen != "" {
		t.Errorf("MetadataListen = %q, want off", cfg.Daemon.MetadataListen)
	}
}

func TestLoadFlows(t *testing.T) {
	// Every flow with exactly its required keys loads.
	for _, tc := range []struct{ flow, extra string }{
		{FlowClientSecret, ""},
		{FlowClientCertificate, "certificate = \"/etc/cert.pem\"\n"},
		{FlowClientCertificate, ""},
		{FlowFederated, "federated_token_file = \"/var/run/token\"\n"},
		{FlowBrowser, ""},
		{FlowDeviceCode, ""},
		{FlowUsernamePassword, "username = \"u@contoso.com\"\n"},
		{FlowRefreshToken, ""},
	} {
		doc := "[profiles.p]\nflow = \"" + tc.flow + "\"\ntenant = \"" + tenant + "\"\nclient_id = \"" + client + "\"\n" + tc.extra
		if _, err := Load(writeConfig(t, doc)); err != nil {
			t.Errorf("%s: %v", tc.flow, err)
		}
	}
	if _, err := Load(writeConfig(t, "[profiles.p]\nflow = \"managed-identity\"\nclient_id = \""+client+"\"\n")); err != nil {
		t.Errorf("managed-identity with client_id: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	ok := "flow = \"client-secret\"\ntenant = \"" + tenant + "\"\nclient_id = \"" + client + "\"\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown key", "[profiles.prod]\n" + ok + "flw = \"x\"\n", "F:5: profiles.prod.flw: unknown key"},
		{"unknown top key", "colour = 1\n", "F:1: colour: unknown key"},
		{"unknown table", "[deamon]\nx = 1\n", "F:1: deamon: unknown table"},
		{"several unknown", "[daemon]\nfoo = 1\n[profiles.p]\n" + ok + "bar = 2\n",
			"F:2: daemon.foo: unknown key\nF:7: profiles.p.bar: unknown key"},
		{"unknown key in inline table", "profiles = { p = { flw = 1 } }\n", "F:1: profiles.p.flw: unknown key"},
		{"unknown sub-table", "[profiles.p]\n" + ok + "[profiles.p.sub]\n", "F:5: profiles.p.sub: unknown table"},
		{"array of tables", "[[profiles.x]]\nflow = 'a'\n", "F:1: profiles.x: must be a table"},
		{"syntax", "[daemon\n", "F:1: invalid TOML: expected ']' to close table name"},
		{"duplicate key", "[daemon]\nstore = \"file\"\nstore = \"file\"\n", "F:3: invalid TOML: key store is already defined"},
		{"wrong type string", "[daemon]\nmin_valid = 5\n", "F:2: daemon.min_valid: must be a string, not an integer"},
		{"wrong type array", "[profiles.p]\n" + ok + "scopes = \"x\"\n", "F:5: profiles.p.scopes: must be an array of strings, not a string"},
		{"wrong element type", "[profiles.p]\n" + ok + "scopes = [1]\n", "F:5: profiles.p.scopes: must be an array of strings"},
		{"profiles not table", "profiles = 3\n", "F:1: profiles: must be a table, not an integer"},
		{"bad duration", "\n\n\n\n\n\n[daemon]\nmin_valid = \"5 minutes\"\n", `F:8: daemon.min_valid: "5 minutes" is not a duration (e.g. "5m")`},
		{"negative duration", "[daemon]\nmin_valid = \"-1m\"\n", `F:2: daemon.min_valid: "-1m" must be positive (e.g. "5m")`},
		{"zero duration", "[daemon]\nmin_valid = \"0s\"\n", `F:2: daemon.min_valid: "0s" must be positive (e.g. "5m")`},
		{"log level", "[daemon]\nlog_level = \"trace\"\n", `F:2: daemon.log_level: "trace" is not one of debug, info, warn, error`},
		{"log format", "[daemon]\nlog_format = \"text\"\n", `F:2: daemon.log_format: "text" is not one of console, json`},
		{"store", "[daemon]\nstore = \"plain\"\n", `F:2: daemon.store: "plain" is not one of keyring, file`},
		{"listen not loopback", "[daemon]\nmetadata_listen = \"0.0.0.0:8771\"\n",
			`F:2: daemon.metadata_listen: "0.0.0.0:8771" is not a loopback address (use 127.0.0.1, [::1] or localhost)`},
		{"listen no port", "[daemon]\nmetadata_listen = \"127.0.0.1\"\n",
			`F:2: daemon.metadata_listen: "127.0.0.1" is not a host:port (e.g. "127.0.0.1:8771")`},
		{"identity listen not loopback", "[daemon]\nidentity_listen = \"192.168.1.2:8772\"\n",
			`F:2: daemon.identity_listen: "192.168.1.2:8772" is not a loopback address (use 127.0.0.1, [::1] or localhost)`},
		{"identity listen same as metadata", "[daemon]\nmetadata_listen = \"127.0.0.1:9000\"\nidentity_listen = \"127.0.0.1:9000\"\n",
			`F:3: daemon.identity_listen: "127.0.0.1:9000" is metadata_listen too; give each endpoint its own port`},
		{"listen bad port", "[daemon]\nmetadata_listen = \"127.0.0.1:http\"\n",
			`F:2: daemon.metadata_listen: "127.0.0.1:http" has no valid port (e.g. "127.0.0.1:8771")`},
		{"missing flow", "\n\n[profiles.prod]\ntenant = \"t.example\"\n", "F:3: profiles.prod: flow is missing (one of client-secret, client-certificate, federated, browser, device-code, username-password, refresh-token, managed-identity)"},
		{"unknown flow", "[profiles.prod]\nflow = \"secret\"\n", `F:2: profiles.prod.flow: "secret" is not a flow (one of client-secret, client-certificate, federated, browser, device-code, username-password, refresh-token, managed-identity)`},
		{"needs tenant", "\n\n[profiles.prod]\nflow = \"client-secret\"\nclient_id = \"c\"\n", `F:3: profiles.prod: flow "client-secret" needs tenant`},
		{"needs client_id", "[profiles.prod]\nflow = \"browser\"\ntenant = \"t.example\"\n", `F:1: profiles.prod: flow "browser" needs client_id`},
		{"needs both", "[profiles.prod]\nflow = \"device-code\"\n", "F:1: profiles.prod: flow \"device-code\" needs tenant\nF:1: profiles.prod: flow \"device-code\" needs client_id"},
		{"needs username", "[profiles.u]\nflow = \"username-password\"\ntenant = \"t.example\"\nclient_id = \"c\"\n", `F:1: profiles.u: flow "username-password" needs username`},
		{"needs token file", "[profiles.f]\nflow = \"federated\"\ntenant = \"t.example\"\nclient_id = \"c\"\n", `F:1: profiles.f: flow "federated" needs federated_token_file`},
		{"missing key dotted header", "profiles.x.flow = \"browser\"\n", "F:1: profiles.x: flow \"browser\" needs tenant\nF:1: profiles.x: flow \"browser\" needs client_id"},
		{"missing key inline", "[profiles]\n\ny = { flow = \"refresh-token\", tenant = \"t.example\" }\n", `F:3: profiles.y: flow "refresh-token" needs client_id`},
		{"bad tenant", "[profiles.p]\nflow = \"browser\"\ntenant = \"t/../x\"\nclient_id = \"c\"\n", `F:3: profiles.p.tenant: "t/../x" is not a tenant ID or domain (e.g. "a1bc2d34-5e67-8f89-01ab-c2345d6c78de" or "contoso.onmicrosoft.com")`},
		{"tenant common", "[profiles.p]\nflow = \"browser\"\ntenant = \"common\"\nclient_id = \"c\"\n",
			`F:3: profiles.p.tenant: "common" is not one tenant but a class of accounts: write the tenant's ID or verified domain`},
		{"tenant organizations with workspace", "[profiles.p]\nflow = \"browser\"\ntenant = \"Organizations\"\nclient_id = \"c\"\ndatabricks_host = \"https://adb-1.7.azuredatabricks.net\"\n",
			`F:3: profiles.p.tenant: "Organizations" is not one tenant but a class of accounts: write the tenant's ID or verified domain, or leave it out to take the workspace's`},
		{"tenant without dot", "[profiles.p]\nflow = \"browser\"\ntenant = \"contoso\"\nclient_id = \"c\"\n",
			`F:3: profiles.p.tenant: "contoso" is not a tenant ID or domain (e.g. "a1bc2d34-5e67-8f89-01ab-c2345d6c78de" or "contoso.onmicrosoft.com")`},
		{"workspace of another cloud", "[profiles.p]\n" + ok + "cloud = \"china\"\ndatabricks_host = \"adb-1.7.azuredatabricks.net\"\n",
			`F:6: profiles.p.databricks_host: "adb-1.7.azuredatabricks.net" is a workspace of the public cloud but the profile's cloud is china: set cloud = "public"`},
		{"cloud", "[profiles.p]\n" + ok + "cloud = \"germany\"\n", `F:5: profiles.p.cloud: "germany" is not one of public, usgov, china`},
		{"authority http", "[profiles.p]\n" + ok + "authority_host = \"http://localhost:8080\"\n", `F:5: profiles.p.authority_host: "http://localhost:8080" must use https`},
		{"authority not url", "[profiles.p]\n" + ok + "authority_host = \"login.example.com\"\n", `F:5: profiles.p.authority_host: "login.example.com" is not an https URL (e.g. "https://host.example")`},
		{"authority query", "[profiles.p]\n" + ok + "authority_host = \"https://x.example/?a=b\"\n", `F:5: profiles.p.authority_host: "https://x.example/?a=b" must not hold user info, a query or a fragment`},
		{"databricks path", "[profiles.p]\n" + ok + "databricks_host = \"https://adb-1.7.azuredatabricks.net/api\"\n",
			`F:5: profiles.p.databricks_host: "https://adb-1.7.azuredatabricks.net/api" is not a workspace URL: write https:// and the host, no path (e.g. "https://adb-1234567890123456.7.azuredatabricks.net")`},
		{"databricks http", "[profiles.p]\n" + ok + "databricks_host = \"http://adb-1.7.azuredatabricks.net\"\n",
			`F:5: profiles.p.databricks_host: "http://adb-1.7.azuredatabricks.net" is not a workspace URL: write https:// and the host, no path (e.g. "https://adb-1234567890123456.7.azuredatabricks.net")`},
		{"databricks port", "[profiles.p]\n" + ok + "databricks_host = \"https://h:99999\"\n",
			`F:5: profiles.p.databricks_host: "https://h:99999" is not a workspace URL: write https:// and the host, no path (e.g. "https://adb-1234567890123456.7.azuredatabricks.net")`},
		{"workspace id", "[profiles.p]\n" + ok + "workspace_resource_id = \"/subscriptions/s/workspaces/ws\"\n",
			`F:5: profiles.p.workspace_resource_id: "/subscriptions/s/workspaces/ws" is not a workspace resource ID (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Databricks/workspaces/<name>)`},
		{"empty scopes", "[profiles.p]\n" + ok + "scopes = []\n", `F:5: profiles.p.scopes: is empty (leave it out for the default "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default")`},
		{"empty scope", "[profiles.p]\n" + ok + "scopes = [\"a\", \"\"]\n", `F:5: profiles.p.scopes: scope 2 is empty or holds spaces (write one scope per string)`},
		{"spaced scope", "[profiles.p]\n" + ok + "scopes = [\"a b\"]\n", `F:5: profiles.p.scopes: scope 1 is empty or holds spaces (write one scope per string)`},
		{"empty git scope", "[profiles.p]\n" + ok + "git_scope = \"\"\n", `F:5: profiles.p.git_scope: "" is not one scope (leave it out for the default "499b84ac-1321-427f-aa17-267ca6975798/.default")`},
		{"two git scopes", "[profiles.p]\n" + ok + "git_scope = \"a b\"\n", `F:5: profiles.p.git_scope: "a b" is not one scope (leave it out for the default "499b84ac-1321-427f-aa17-267ca6975798/.default")`},
		{"empty allowed user", "[profiles.p]\n" + ok + "allowed_users = [\" \"]\n", `F:5: profiles.p.allowed_users: entry 1 is empty`},
		{"empty allowed group", "[profiles.p]\n" + ok + "allowed_groups = [\"\"]\n", `F:5: profiles.p.allowed_groups: entry 1 is empty`},
		{"profile name", "[profiles.\"a b\"]\n" + ok, `F:1: profiles."a b": profile names may only hold letters, digits, '_', '.' and '-'`},
		{"default missing", "default_profile = \"prod\"\n[profiles.dev]\n" + ok, `F:1: default_profile: no profile "prod" is defined (add a [profiles.prod] table)`},
		{"client id spaces", "[profiles.p]\nflow = \"browser\"\ntenant = \"t.example\"\nclient_id = \" c\"\n", `F:4: profiles.p.client_id: " c" has surrounding spaces`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.doc)
			_, err := Load(p)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			want := strings.ReplaceAll(tc.want, "F:", p+":")
			if err.Error() != want {
				t.Errorf("got\n%s\nwant\n%s", err, want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != p {
				t.Errorf("errors.As(*Error) = %v, file %q", e, p)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope", "config.toml")
	_, err := Load(p)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	want := "no config file at " + p + "; run `entra-helper setup` to create it (or write a [profiles.NAME] table there by hand, see docs/configuration.md, or point ENTRA_HELPER_CONFIG at another file)"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
}

func TestLoadTooLarge(t *testing.T) {
	p := writeConfig(t, "# "+strings.Repeat("x", maxFileSize)+"\n")
	_, err := Load(p)
	if err == nil || err.Error() != p+": the config file is larger than 1048576 bytes" {
		t.Errorf("err = %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv(EnvConfig, "/x/y.toml")
	if p, err := DefaultPath(); err != nil || p != "/x/y.toml" {
		t.Errorf("DefaultPath = %q, %v", p, err)
	}
	t.Setenv(EnvConfig, "")
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	t.Setenv("HOME", "/home/u")
	dir, err := os.UserConfigDir()
	if err != nil {
		t.Skip(err)
	}
	if p, err := DefaultPath(); err != nil || p != filepath.Join(dir, "entra-helper", "config.toml") {
		t.Errorf("DefaultPath = %q, %v", p, err)
	}
}

func TestKeyPath(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"profiles", "prod", "flow"}, "profiles.prod.flow"},
		{[]string{"profiles", "a.b"}, `profiles."a.b"`},
		{[]string{"x", "q\"\n"}, `x."q\"\u000a"`},
		{[]string{""}, `""`},
	} {
		if got := keyPath(tc.parts...); got != tc.want {
			t.Errorf("keyPath(%q) = %s, want %s", tc.parts, got, tc.want)
		}
	}
}
