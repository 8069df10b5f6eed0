package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/ipc"
)

var cfgValues = [][2]string{
	{"host", "https://adb-1.2.azuredatabricks.net"},
	{"auth_type", "metadata-service"},
	{"metadata_service_url", "http://127.0.0.1:8771/s/prod"},
}

const cfgSection = "host = https://adb-1.2.azuredatabricks.net\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n"

func TestEditDatabricksCfg(t *testing.T) {
	tests := []struct {
		name, in, section, want string
	}{
		{"new file", "", "prod", "[prod]\n" + cfgSection},
		{"append after other sections",
			"; my config\n[DEFAULT]\nhost = https://x\n\n[dev]\ntoken = dapi123 # keep\n",
			"prod",
			"; my config\n[DEFAULT]\nhost = https://x\n\n[dev]\ntoken = dapi123 # keep\n\n[prod]\n" + cfgSection},
		{"append to file without final newline",
			"[dev]\nhost = https://d",
			"prod",
			"[dev]\nhost = https://d\n\n[prod]\n" + cfgSection},
		{"append after blank line",
			"[dev]\nhost = https://d\n\n",
			"prod",
			"[dev]\nhost = https://d\n\n[prod]\n" + cfgSection},
		{"existing section with other auth keys",
			"# top\n[dev]\ntoken = keep-me\n\n[prod]\nhost = https://old\ntoken = dapi-secret\n# a comment in prod\nazure_client_secret=xyz\nclient_id = abc\nClient_Secret: def\ncluster_id = 0101-abc\n\n[other]\nhost = https://o\n",
			"prod",
			"# top\n[dev]\ntoken = keep-me\n\n[prod]\nhost = https://adb-1.2.azuredatabricks.net\n# a comment in prod\ncluster_id = 0101-abc\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n\n[other]\nhost = https://o\n"},
		{"existing keys replaced in place, duplicates dropped",
			"[prod]\n  auth_type = pat\nhost = https://old\nmetadata_service_url = http://old\nhost = https://dup\nwarehouse_id = w1\n",
			"prod",
			"[prod]\nauth_type = metadata-service\nhost = https://adb-1.2.azuredatabricks.net\nmetadata_service_url = http://127.0.0.1:8771/s/prod\nwarehouse_id = w1\n"},
		{"empty section at end without newline",
			"[a]\nx = 1\n[prod]",
			"prod",
			"[a]\nx = 1\n[prod]\n" + cfgSection},
		{"CRLF file keeps CRLF",
			"[a]\r\nx = 1\r\n\r\n[prod]\r\ntoken = t\r\nhost = h\r\n",
			"prod",
			"[a]\r\nx = 1\r\n\r\n[prod]\r\nhost = https://adb-1.2.azuredatabricks.net\r\nauth_type = metadata-service\r\nmetadata_service_url = http://127.0.0.1:8771/s/prod\r\n"},
		{"continuation lines go with their entry",
			"[prod]\ntoken = abc\n  def\ncluster_id = c\n  more\n",
			"prod",
			"[prod]\ncluster_id = c\n  more\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n"},
		{"section names are exact",
			"[Prod]\ntoken = t\n",
			"prod",
			"[Prod]\ntoken = t\n\n[prod]\n" + cfgSection},
		{"only the first matching section is edited",
			"[prod]\ntoken = t\n[x]\ny = 1\n",
			"prod",
			"[prod]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n[x]\ny = 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(editDatabricksCfg([]byte(tt.in), tt.section, cfgValues))
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			// Editing again changes nothing.
			if again := string(editDatabricksCfg([]byte(got), tt.section, cfgValues)); again != got {
				t.Errorf("not idempotent:\n%s", again)
			}
		})
	}
}

func TestDatabricksConfigureFile(t *testing.T) {
	tests := []struct {
		name     string
		existing string
		mode     os.FileMode
		flags    []string
		wantMode os.FileMode
		contains string
	}{
		{name: "new file", wantMode: 0o600, contains: "[prod]\n"},
		{name: "existing mode kept", existing: "[dev]\nhost = h\n", mode: 0o640, wantMode: 0o640, contains: "[dev]\nhost = h\n\n[prod]\n"},
		{name: "named section", existing: "[ws]\ntoken = x\n", mode: 0o600, flags: []string{"--databricks-profile", "ws"}, wantMode: 0o600, contains: "[ws]\nhost ="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cfg")
			if tt.existing != "" {
				if err := os.WriteFile(path, []byte(tt.existing), tt.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, tt.mode)
			}
			a, out, errb := testApp(&fakeDaemon{}, map[string]string{"DATABRICKS_CONFIG_FILE": path})
			code, _, _ := runApp(t, a, append([]string{"databricks", "configure"}, tt.flags...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.contains) || !strings.Contains(string(b), "metadata_service_url = http://127.0.0.1:8771/s3cret/prod\n") {
				t.Errorf("file:\n%s", b)
			}
			if strings.Contains(string(b), "token = x") {
				t.Errorf("other auth key kept:\n%s", b)
			}
			fi, _ := os.Stat(path)
			if runtime.GOOS != "windows" && fi.Mode().Perm() != tt.wantMode {
				t.Errorf("mode %o, want %o", fi.Mode().Perm(), tt.wantMode)
			}
			if !strings.Contains(out.String(), path) {
				t.Errorf("stdout %q does not name the file", out)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("temporary files left: %v", entries)
			}
		})
	}
}

func TestDatabricksConfigureFollowsSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "real.cfg")
	link := filepath.Join(dir, "link.cfg")
	os.WriteFile(target, []byte("[a]\nx = 1\n"), 0o644)
	os.Symlink(target, link)
	a, _, errb := testApp(&fakeDaemon{}, map[string]string{"DATABRICKS_CONFIG_FILE": link})
	if code, _, _ := runApp(t, a, "databricks", "configure"); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced")
	}
	b, _ := os.ReadFile(target)
	if !strings.HasPrefix(string(b), "[a]\nx = 1\n\n[prod]\n") {
		t.Errorf("target:\n%s", b)
	}
}

func TestDatabricksEnv(t *testing.T) {
	tests := []struct {
		shell, want string
	}{
		{"sh", "export DATABRICKS_HOST=https://adb-1234567890123456.7.azuredatabricks.net\nexport DATABRICKS_AUTH_TYPE=metadata-service\nexport DATABRICKS_METADATA_SERVICE_URL=http://127.0.0.1:8771/s3cret/prod\n"},
		{"fish", "set -gx DATABRICKS_HOST https://adb-1234567890123456.7.azuredatabricks.net\nset -gx DATABRICKS_AUTH_TYPE metadata-service\nset -gx DATABRICKS_METADATA_SERVICE_URL http://127.0.0.1:8771/s3cret/prod\n"},
		{"powershell", "$Env:DATABRICKS_HOST = 'https://adb-1234567890123456.7.azuredatabricks.net'\n$Env:DATABRICKS_AUTH_TYPE = 'metadata-service'\n$Env:DATABRICKS_METADATA_SERVICE_URL = 'http://127.0.0.1:8771/s3cret/prod'\n"},
	}
	for _, tt := range tests {
		a, _, errb := testApp(&fakeDaemon{}, nil)
		code, out, _ := runApp(t, a, "databricks", "env", "--shell", tt.shell)
		if code != 0 || out != tt.want {
			t.Errorf("%s: exit %d (%s), got\n%s\nwant\n%s", tt.shell, code, errb, out, tt.want)
		}
	}
}

func TestDatabricksProfileChecks(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(p *ipc.ProfileInfo)
		want   string
	}{
		{"no host", func(p *ipc.ProfileInfo) { p.DatabricksHost = "" }, "databricks_host"},
		{"endpoint off", func(p *ipc.ProfileInfo) { p.MetadataURL = "" }, "metadata_listen"},
	} {
		p := testProfile()
		tt.mutate(p)
		a, _, _ := testApp(&fakeDaemon{profile: p}, nil)
		code, _, errOut := runApp(t, a, "databricks", "env", "-p", "prod")
		if code != 1 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "prod") {
			t.Errorf("%s: exit %d, stderr %q", tt.name, code, errOut)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "''",
		"plain-1.2_x":         "plain-1.2_x",
		"http://h:1/a":        "http://h:1/a",
		"it's":                `'it'\''s'`,
		"a b":                 "'a b'",
		"$(rm -rf /)":         "'$(rm -rf /)'",
		"https://x/?a=1&b=2":  "'https://x/?a=1&b=2'",
		"https://adb-1.2.net": "https://adb-1.2.net",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzEditDatabricksCfg checks, for any file, that the section ends up with
// the values, that editing twice changes nothing, and that the lines before
// the section are kept.
func FuzzEditDatabricksCfg(f *testing.F) {
	f.Add("[a]\nx = 1\n[prod]\ntoken = t\n")
	f.Add("")
	f.Add("[prod]")
	f.Add("; c\r\n[prod]\r\n  host: h\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		out := string(editDatabricksCfg([]byte(in), "prod", cfgValues))
		if again := string(editDatabricksCfg([]byte(out), "prod", cfgValues)); again != out {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		for _, kv := range cfgValues {
			if !strings.Contains(out, kv[0]+" = "+kv[1]) {
				t.Fatalf("%s missing in %q", kv[0], out)
			}
		}
		// Everything before the first [prod] header is kept as it was.
		if i := strings.Index(in, "[prod]"); i >= 0 && !strings.Contains(in[:i], "\n[prod") {
			if !strings.HasPrefix(out, in[:i]) {
				t.Fatalf("prefix changed: %q -> %q", in, out)
			}
		}
	})
}

func TestAzureEnv(t *testing.T) {
	p := testProfile()
	p.IdentityEndpoint = "http://127.0.0.1:8772/app-service/prod"
	p.IdentityHeader = "h3ader-s3cret"
	p.IMDSEndpoint = "http://127.0.0.1:8772/imds/h3ader-s3cret/prod"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"azure", "env", "--shell", "sh"},
			"export IDENTITY_ENDPOINT=http://127.0.0.1:8772/app-service/prod\nexport IDENTITY_HEADER=h3ader-s3cret\n"},
		{[]string{"azure", "env", "-p", "prod", "--terraform", "--shell", "sh"},
			"export ARM_USE_MSI=true\nexport ARM_MSI_ENDPOINT=http://127.0.0.1:8772/imds/h3ader-s3cret/prod\n" +
				"export ARM_TENANT_ID=a1bc2d34-5e67-8f89-01ab-c2345d6c78de\nexport ARM_CLIENT_ID=12a34b56-789c-0d12-e3fa-b456789c0123\n"},
		{[]string{"azure", "env", "--shell", "fish"},
			"set -gx IDENTITY_ENDPOINT http://127.0.0.1:8772/app-service/prod\nset -gx IDENTITY_HEADER h3ader-s3cret\n"},
	} {
		a, _, _ := testApp(&fakeDaemon{profile: p}, nil)
		code, out, errOut := runApp(t, a, tt.args...)
		if code != 0 || out != tt.want {
			t.Errorf("%v: exit %d, stdout\n%s\nwant\n%s\nstderr %s", tt.args, code, out, tt.want, errOut)
		}
		if strings.Contains(out, "MSI_ENDPOINT=") && !strings.Contains(out, "ARM_MSI_ENDPOINT=") || strings.Contains(out, "MSI_SECRET") {
			t.Errorf("%v prints MSI_ENDPOINT or MSI_SECRET", tt.args)
		}
	}

	off := testProfile() // identity_listen = ""
	a, _, _ := testApp(&fakeDaemon{profile: off}, nil)
	if code, out, errOut := runApp(t, a, "azure", "env"); code != exitFailed || out != "" || !strings.Contains(errOut, "identity_listen") {
		t.Errorf("endpoint off: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	a, _, _ = testApp(&fakeDaemon{profile: p}, nil)
	if code, _, _ := runApp(t, a, "azure", "env", "--shell", "tcsh"); code != exitUsage {
		t.Errorf("unknown shell: exit %d", code)
	}
	if code, _, _ := runApp(t, a, "azure", "nope"); code != exitUsage {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}
