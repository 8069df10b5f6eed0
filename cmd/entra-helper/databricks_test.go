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
			"[prod]\n  auth_type = metadata-service\nhost = https://adb-1.2.azuredatabricks.net\nmetadata_service_url = http://127.0.0.1:8771/s/prod\nwarehouse_id = w1\n"},
		{"an indented section keeps its indentation (configparser: a dedented entry would take the next lines as its continuation)",
			"[prod]\n  host = https://old\n  cluster_id = c\n[dev]\n",
			"prod",
			"[prod]\n  host = https://adb-1.2.azuredatabricks.net\n  cluster_id = c\n  auth_type = metadata-service\n  metadata_service_url = http://127.0.0.1:8771/s/prod\n[dev]\n"},
		{"keys in any case are the same key (configparser); written in lower case (ini.v1 reads that)",
			"[prod]\nHOST = https://old\nToken = dapi\n",
			"prod",
			"[prod]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n"},
		{"empty section at end without newline",
			"[a]\nx = 1\n[prod]",
			"prod",
			"[a]\nx = 1\n[prod]\n" + cfgSection},
		{"CRLF file keeps CRLF",
			"[a]\r\nx = 1\r\n\r\n[prod]\r\ntoken = t\r\nhost = h\r\n",
			"prod",
			"[a]\r\nx = 1\r\n\r\n[prod]\r\nhost = https://adb-1.2.azuredatabricks.net\r\nauth_type = metadata-service\r\nmetadata_service_url = http://127.0.0.1:8771/s/prod\r\n"},
		{"a dropped entry's continuation lines go with it",
			"[prod]\ntoken = abc\n  def\n\n  ghi\ncluster_id = c\n",
			"prod",
			"[prod]\n\ncluster_id = c\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n"},
		{"section names are exact and case-sensitive in both readers",
			"[Prod]\ntoken = t\n",
			"prod",
			"[Prod]\ntoken = t\n\n[prod]\n" + cfgSection},
		{"a header's trailing comment is no part of its name",
			"[prod] ; the workspace\ntoken = t\n",
			"prod",
			"[prod] ; the workspace\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n"},
		{"commented-out keys are comments",
			"[prod]\n# token = old\n;host = https://old\n",
			"prod",
			"[prod]\n" + cfgSection + "# token = old\n;host = https://old\n"},
		{"a UTF-8 byte-order mark is dropped (configparser cannot read past it)",
			"\ufeff[dev]\nhost = https://d\n",
			"prod",
			"[dev]\nhost = https://d\n\n[prod]\n" + cfgSection},
		{"[DEFAULT] may be the profile",
			"[DEFAULT]\ntoken = t\n[dev]\nhost = d\n",
			"DEFAULT",
			"[DEFAULT]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = metadata-service\nmetadata_service_url = http://127.0.0.1:8771/s/prod\n[dev]\nhost = d\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := editDatabricksCfg([]byte(tt.in), tt.section, cfgValues)
			if err != nil || string(got) != tt.want {
				t.Fatalf("err %v, got\n%s\nwant\n%s", err, got, tt.want)
			}
			// Editing again changes nothing.
			if again, err := editDatabricksCfg(got, tt.section, cfgValues); err != nil || string(again) != string(got) {
				t.Errorf("not idempotent: %v\n%s", err, again)
			}
			readersSeeProfile(t, got, tt.section)
		})
	}
}

// Files the readers would read differently (or not at all) are refused,
// naming the lines, and nothing is returned.
func TestEditDatabricksCfgRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"repeated section", "[prod]\nhost = a\n[dev]\nx = 1\n[prod]\ntoken = dapi\n", []string{"lines 1 and 5: [prod] appears twice"}},
		{"repeated other section", "[dev]\nx = 1\n[dev]\ny = 2\n[prod]\n", []string{"lines 1 and 3: [dev] appears twice"}},
		{"spaces inside the brackets", "[ prod ]\ntoken = dapi\n", []string{`line 1: the header [ prod ] names section " prod ", not "prod"`}},
		{"spaces and a real one", "[prod]\n[prod ]\n", []string{`line 2: the header [prod ] names section "prod "`}},
		{"kept continuation line", "[prod]\ncluster_id = c\n  more\n", []string{"line 3: an indented line that continues"}},
		{"continuation in another profile", "[dev]\nx = a\n\tb\n[prod]\n", []string{"line 3: an indented line"}},
		{"indented header after an entry (configparser: a continuation)", "[dev]\nx = 1\n  [prod]\ntoken = t\n", []string{"line 3: an indented line"}},
		{"repeated kept key", "[prod]\ncluster_id = a\nCLUSTER_ID = b\n", []string{"lines 2 and 3: cluster_id is set twice in [prod]"}},
		{"entry before any section", "x = 1\n[prod]\n", []string{"line 1: an entry before the first [section]"}},
		{"unreadable line", "[prod]\njust words\n", []string{"line 2: neither a [section]"}},
		{"empty header", "[]\n[prod]\n", []string{"line 1: neither"}},
		{"a leading space only", "[prod]\n[ prod]\n", []string{`line 2: the header [ prod] names section " prod"`}},
		{"quoted key (ini.v1 unquotes it)", "[prod]\n\"token\" = dapi\n", []string{"line 2: a quoted key"}},
		{"a value ini.v1 continues to a closing \"\"\"", "[prod]\nhost = \"\"\"https://a\n", []string{`line 2: a value opened with """`}},
		{"backquoted key", "[dev]\n`x` = 1\n[prod]\n", []string{"line 2: a quoted key"}},
		{"an indented header that the written entries would continue", "[prod]\n  [dev]\nx = 1\n", []string{"line 2: an indented line that continues"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := editDatabricksCfg([]byte(tc.in), "prod", cfgValues)
			if err == nil || got != nil {
				t.Fatalf("no refusal: %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// configparser's rules, as parseCfg models them, line by line.
func TestParseCfgFollowsConfigparser(t *testing.T) {
	in := "[a]\nk = v\n  cont\n\n  still\n# c\n   also\nK2: w\n [b] \n  x = 1\ny=2\n  z\n[ c ]\n[d] ; c\nno delimiter\n"
	want := []struct {
		kind      cfgKind
		name, key string
	}{
		{cfgHeader, "a", ""}, {cfgEntry, "", "k"}, {cfgContinuation, "", ""}, {cfgBlank, "", ""},
		{cfgContinuation, "", ""}, {cfgComment, "", ""}, {cfgContinuation, "", ""}, {cfgEntry, "", "k2"},
		{cfgContinuation, "", ""}, // " [b]" is indented past "K2: w": configparser continues the value
		{cfgContinuation, "", ""}, {cfgEntry, "", "y"}, {cfgContinuation, "", ""},
		{cfgHeader, " c ", ""}, {cfgHeader, "d", ""}, {cfgInvalid, "", ""},
	}
	got := parseCfg(in)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].kind != w.kind || got[i].name != w.name || got[i].key != w.key || got[i].num != i+1 {
			t.Errorf("line %d %q: %+v, want %+v", i+1, got[i].text, got[i], w)
		}
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

// A dangling link (a dotfile manager's, before the first write) keeps
// pointing where it did: its target is created, through a chain of links,
// in a directory that does not exist yet.
func TestDatabricksConfigureDanglingSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "databricks", "cfg")
	first, link := filepath.Join(dir, "first"), filepath.Join(dir, "link.cfg")
	if err := os.Symlink("dotfiles/databricks/cfg", first); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("first", link); err != nil {
		t.Fatal(err)
	}
	a, _, errb := testApp(&fakeDaemon{}, map[string]string{"DATABRICKS_CONFIG_FILE": link})
	if code, _, _ := runApp(t, a, "databricks", "configure"); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	for _, l := range []string{link, first} {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the symlink %s was replaced", l)
		}
	}
	b, err := os.ReadFile(target)
	if err != nil || !strings.HasPrefix(string(b), "[prod]\n") {
		t.Fatalf("target: %v\n%s", err, b)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
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
		{"default port taken", func(p *ipc.ProfileInfo) {
			p.MetadataURL, p.MetadataDown = "", "listen tcp 127.0.0.1:8771: bind: address already in use"
		}, "default address is taken (listen tcp 127.0.0.1:8771: bind: address already in use)"},
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
	f.Add("\ufeff[ prod ]\n[prod]\n[prod]\n")
	f.Fuzz(func(t *testing.T, in string) {
		b, err := editDatabricksCfg([]byte(in), "prod", cfgValues)
		if err != nil {
			if b != nil || !strings.Contains(err.Error(), "line") {
				t.Fatalf("refusal %q returned %q", err, b)
			}
			return
		}
		out := string(b)
		if again, err := editDatabricksCfg(b, "prod", cfgValues); err != nil || string(again) != out {
			t.Fatalf("not idempotent: %v\n%q\n%q", err, out, again)
		}
		// Exactly one [prod], holding each value once.
		var section string
		seen := map[string]int{}
		for _, l := range parseCfg(out) {
			switch l.kind {
			case cfgHeader:
				section = l.name
				seen["["+l.name+"]"]++
			case cfgEntry:
				if section == "prod" {
					seen[l.key+" = "+strings.TrimSpace(l.text[strings.IndexAny(l.text, "=:")+1:])]++
				}
			case cfgContinuation, cfgInvalid:
				t.Fatalf("line %q left in %q", l.text, out)
			}
		}
		if seen["[prod]"] != 1 {
			t.Fatalf("%d [prod] sections in %q", seen["[prod]"], out)
		}
		for _, kv := range cfgValues {
			if seen[kv[0]+" = "+kv[1]] != 1 {
				t.Fatalf("%s not set once in %q", kv[0], out)
			}
		}
		// Everything before the first [prod] header is kept as it was.
		in = strings.TrimPrefix(in, utf8BOM)
		if i := strings.Index(in, "[prod]"); i >= 0 && !strings.Contains(in[:i], "\n[prod") && !strings.HasPrefix(out, in[:i]) {
			t.Fatalf("prefix changed: %q -> %q", in, out)
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

func TestDaemonEnvironDropsOwnIdentityEndpoint(t *testing.T) {
	got := daemonEnviron([]string{
		"HOME=/home/ada",
		"IDENTITY_ENDPOINT=http://127.0.0.1:8772/app-service/prod", "IDENTITY_HEADER=s3cret",
		"ARM_MSI_ENDPOINT=http://127.0.0.1:8772/imds/s3cret/prod", "ARM_TENANT_ID=t",
	})
	if strings.Join(got, " ") != "HOME=/home/ada ARM_TENANT_ID=t" {
		t.Errorf("own endpoint: %q", got)
	}
	// An Azure host's own endpoint is what a managed-identity profile needs.
	azure := []string{"IDENTITY_ENDPOINT=http://169.254.129.3:8081/msi/token", "IDENTITY_HEADER=platform"}
	if got := daemonEnviron(azure); strings.Join(got, " ") != strings.Join(azure, " ") {
		t.Errorf("Azure host's endpoint: %q", got)
	}
}
