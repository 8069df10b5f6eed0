//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/daemon/ipcserver"
	"github.com/entra-helper/entra-helper/ipc"
)

// doctorDaemon serves answer on a fresh socket until the test ends.
func doctorDaemon(t *testing.T, answer func(req *ipc.Request) *ipc.Response) string {
	t.Helper()
	sock := filepath.Join(shortDir(t), "run", "d.sock")
	l, err := ipc.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ipcserver.Server{Handler: func(ctx context.Context, _ ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		send(answer(req))
	}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// healthyDaemon answers status and doctor like a daemon with two profiles,
// prod signed in and dev not.
func healthyDaemon(checks ...ipc.Check) func(req *ipc.Request) *ipc.Response {
	if checks == nil {
		checks = []ipc.Check{
			{Name: "config", Level: ipc.CheckOK, Message: "/home/u/.config/entra-helper/config.toml is valid (2 profiles)"},
			{Name: "store", Level: ipc.CheckOK, Message: "keyring: the Secret Service answers on the daemon's session bus"},
			{Name: "clock", Level: ipc.CheckOK, Message: "within 1s of https://login.microsoftonline.com"},
		}
	}
	return func(req *ipc.Request) *ipc.Response {
		switch req.Op {
		case ipc.OpStatus:
			return &ipc.Response{Status: &ipc.Status{
				Version: clientVersion(), PID: 4242, Uptime: 90, Store: "keyring", Config: "/home/u/.config/entra-helper/config.toml",
				Profiles: []ipc.ProfileStatus{
					{Name: "prod", Flow: "client-secret", State: ipc.StateReady, Account: "12a34b56"},
					{Name: "dev", Flow: "browser", State: ipc.StateNeedsLogin},
				},
			}}
		case ipc.OpDoctor:
			return &ipc.Response{Checks: checks}
		}
		return &ipc.Response{Error: &ipc.Error{Code: ipc.CodeUsage, Message: "unknown operation"}}
	}
}

// lineRE matches one line of doctor's output.
var lineRE = regexp.MustCompile(`^(ok  |warn|FAIL)  (\S+(?: \S+)?)\s+\S`)

// doctorLines runs doctor and returns its lines by check name (joined when
// a name repeats), the exit code and stderr.
func runDoctor(t *testing.T, env map[string]string, args ...string) (map[string]string, int, string) {
	t.Helper()
	a, _, _ := testApp(nil, env)
	a.call = nil // the real socket
	code, out, errOut := runApp(t, a, append([]string{"doctor"}, args...)...)
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a doctor line: %q in\n%s", l, out)
		}
		name := strings.Fields(l[6:])[0]
		if name == "store" && strings.HasPrefix(l[6:], "store key") {
			name = "store key"
		}
		lines[name] += l + "\n"
	}
	return lines, code, errOut
}

func TestDoctor(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(cfgFile, []byte("[profiles.x]\n"), 0o600)
	tests := []struct {
		name   string
		answer func(req *ipc.Request) *ipc.Response // nil: no daemon
		env    map[string]string
		args   []string
		code   int
		want   map[string][]string // check name -> texts its line(s) must hold
		absent []string            // texts no line may hold
	}{
		{
			name:   "healthy",
			answer: healthyDaemon(),
			code:   0,
			want: map[string][]string{
				"socket":  {"ok  ", "directory 0700, socket 0600"},
				"daemon":  {"ok  ", "pid 4242"},
				"version": {"ok  "},
				"config":  {"ok  ", "is valid"},
				"store":   {"ok  ", "Secret Service"},
				"clock":   {"ok  ", "login.microsoftonline.com"},
				"proxy":   {"ok  ", "no proxy"},
				"profile": {"ok    profile   prod (client-secret): ready", "warn  profile   dev (browser): needs-login", "fix: run `entra-helper login -p dev`"},
			},
			absent: []string{"FAIL"},
		},
		{
			name:   "the named profile needs a sign-in",
			answer: healthyDaemon(),
			args:   []string{"-p", "dev"},
			code:   1,
			want:   map[string][]string{"profile": {"FAIL", "dev (browser): needs-login", "entra-helper login -p dev"}},
			absent: []string{"prod (client-secret)"},
		},
		{
			name:   "an unknown profile",
			answer: healthyDaemon(),
			args:   []string{"-p", "nope"},
			code:   1,
			want:   map[string][]string{"profile": {"FAIL", `profile "nope" is not in`, "prod, dev"}},
		},
		{
			name: "the daemon's store fails",
			answer: healthyDaemon(
				ipc.Check{Name: "config", Level: ipc.CheckOK, Message: "valid"},
				ipc.Check{Name: "store", Level: ipc.CheckFail, Message: "keyring: no Secret Service\n(the daemon has no DBUS_SESSION_BUS_ADDRESS)", Fix: `set store = "file"`},
			),
			code: 1,
			want: map[string][]string{"store": {"FAIL", "keyring: no Secret Service (the daemon has no DBUS_SESSION_BUS_ADDRESS); fix: set store"}},
		},
		{
			name: "a daemon from before doctor",
			answer: func(req *ipc.Request) *ipc.Response {
				if req.Op == ipc.OpDoctor {
					return &ipc.Response{Error: &ipc.Error{Code: ipc.CodeUsage, Message: `unknown operation "doctor"`}}
				}
				return healthyDaemon()(req)
			},
			code: 0,
			want: map[string][]string{"config": {"ok  ", "loaded by the daemon"}, "store": {"warn", "too old"}},
		},
		{
			name:   "a proxy that would catch the metadata endpoint",
			answer: healthyDaemon(),
			env:    map[string]string{"HTTPS_PROXY": "http://bob:hunter2@proxy.corp:3128", "NO_PROXY": "localhost,.corp"},
			code:   0,
			want:   map[string][]string{"proxy": {"warn", "HTTPS_PROXY=http://bob:***@proxy.corp:3128", "NO_PROXY=localhost,.corp", "fix: add 127.0.0.1 to NO_PROXY"}},
			absent: []string{"hunter2"},
		},
		{
			name: "no daemon",
			env:  map[string]string{"ENTRA_HELPER_CONFIG": cfgFile},
			code: 1,
			want: map[string][]string{
				"socket": {"FAIL", "does not exist"},
				"daemon": {"FAIL", "no entra-helperd answers", "run `entra-helperd` in the foreground"},
				"config": {"warn", cfgFile + " exists", "config errors"},
				"store":  {"warn", "not checked: entra-helperd was found neither"},
			},
		},
		{
			name: "no daemon and no config file",
			env:  map[string]string{"ENTRA_HELPER_CONFIG": cfgFile + ".missing"},
			code: 1,
			want: map[string][]string{"config": {"FAIL", "no config file at " + cfgFile + ".missing"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.answer != nil {
				env[ipc.SocketEnv] = doctorDaemon(t, tt.answer)
			} else {
				env[ipc.SocketEnv] = filepath.Join(shortDir(t), "run", "d.sock")
			}
			lines, code, errOut := runDoctor(t, env, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q; lines %v", code, tt.code, errOut, lines)
			}
			if code != 0 && !strings.Contains(errOut, "failed") {
				t.Errorf("stderr %q does not say what failed", errOut)
			}
			for name, texts := range tt.want {
				for _, text := range texts {
					if !strings.Contains(lines[name], text) {
						t.Errorf("%s line %q lacks %q", name, lines[name], text)
					}
				}
			}
			for _, l := range lines {
				for _, text := range tt.absent {
					if strings.Contains(l, text) {
						t.Errorf("line %q holds %q", l, text)
					}
				}
			}
		})
	}
}

func TestDoctorSocketDirectoryOpen(t *testing.T) {
	sock := doctorDaemon(t, healthyDaemon())
	dir := filepath.Dir(sock)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	lines, code, _ := runDoctor(t, map[string]string{ipc.SocketEnv: sock})
	if code != 1 || !strings.Contains(lines["socket"], "FAIL") || !strings.Contains(lines["socket"], "fix: chmod 700 "+dir) {
		t.Fatalf("exit %d, socket line %q", code, lines["socket"])
	}
}

func TestDoctorVersionMismatch(t *testing.T) {
	for _, tt := range []struct{ client, daemon, level, text string }{
		{"1.2.0", "1.2.0", ipc.CheckOK, "both 1.2.0"},
		{"1.2.0", "1.1.0", ipc.CheckWarn, "client 1.2.0, daemon 1.1.0"},
		{"1.2.0", "", ipc.CheckWarn, "does not report"},
	} {
		c := versionCheck(tt.client, tt.daemon)
		if c.Level != tt.level || !strings.Contains(c.Message, tt.text) {
			t.Errorf("versionCheck(%q, %q) = %+v, want %s with %q", tt.client, tt.daemon, c, tt.level, tt.text)
		}
	}
}

func TestProxyCheck(t *testing.T) {
	for _, tt := range []struct {
		name  string
		env   map[string]string
		level string
		text  string
	}{
		{"none", nil, ipc.CheckOK, "no proxy"},
		{"no_proxy only", map[string]string{"no_proxy": "localhost"}, ipc.CheckOK, "no_proxy=localhost"},
		{"proxy, no NO_PROXY", map[string]string{"HTTPS_PROXY": "http://p:3128"}, ipc.CheckWarn, "add 127.0.0.1,localhost to NO_PROXY"},
		{"lower case", map[string]string{"http_proxy": "http://p:3128", "no_proxy": "127.0.0.1"}, ipc.CheckWarn, "add localhost to no_proxy"},
		{"loopback covered", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com, 127.0.0.1, localhost"}, ipc.CheckOK, "HTTPS_PROXY=http://p:3128"},
		{"CIDR and port", map[string]string{"ALL_PROXY": "socks5://p:1080", "NO_PROXY": "127.0.0.0/8,localhost:8771"}, ipc.CheckOK, "ALL_PROXY"},
		{"star", map[string]string{"HTTP_PROXY": "http://p", "NO_PROXY": "*"}, ipc.CheckOK, "NO_PROXY=*"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := proxyCheck(func(k string) string { return tt.env[k] })
			if c.Level != tt.level || !strings.Contains(c.Message+" "+c.Fix, tt.text) {
				t.Fatalf("%+v, want %s with %q", c, tt.level, tt.text)
			}
		})
	}
}

func TestRedactProxy(t *testing.T) {
	for in, want := range map[string]string{
		"http://proxy:3128":               "http://proxy:3128",
		"http://user@proxy:3128":          "http://user@proxy:3128",
		"http://user:p%40ss@proxy:3128/x": "http://user:***@proxy:3128/x",
		"user:secret@proxy:3128":          "user:***@proxy:3128",
		"http://proxy:3128/?next=a:b@c":   "http://proxy:3128/?next=a:b@c",
		"socks5://u:pw@[::1]:1080":        "socks5://u:***@[::1]:1080",
	} {
		if got := redactProxy(in); got != want {
			t.Errorf("redactProxy(%q) = %q, want %q", in, got, want)
		}
	}
}

// The profile check names the profile's cloud and where its tenant came from.
func TestProfileChecksNameCloudAndTenant(t *testing.T) {
	st := &ipc.Status{Profiles: []ipc.ProfileStatus{
		{Name: "gov", Flow: "client-secret", Cloud: "usgov", Tenant: "t1", TenantSource: "config", State: ipc.StateReady},
		{Name: "ws", Flow: "browser", Cloud: "public", TenantSource: "not found yet: taken from https://adb-1.2.azuredatabricks.net/aad/auth on first use", State: ipc.StateNeedsLogin},
	}}
	checks := profileChecks(st, "")
	if len(checks) != 2 || checks[0].Message != "gov (client-secret, AzureUSGovernment, tenant t1): ready" ||
		checks[1].Message != "ws (browser, AzureCloud, tenant not found yet: taken from https://adb-1.2.azuredatabricks.net/aad/auth on first use): needs-login" {
		t.Errorf("checks = %+v", checks)
	}
}

// doctor --fix switches the config to the file store; a daemon that still
// runs on the keychain would take the sign-ins it asks for (and fail as
// before), so doctor says to restart it, naming its pid, instead of
// sending the user in a circle.
func TestDoctorFixFileStoreNamesRunningDaemon(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[daemon]\nstore = \"keyring\"\n\n[profiles.sp]\nflow = \"client-secret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := doctorDaemon(t, healthyDaemon(
		ipc.Check{Name: "config", Level: ipc.CheckOK, Message: cfg + " is valid"},
		ipc.Check{Name: "store", Level: ipc.CheckFail, Message: "keyring: the Secret Service's default keyring is locked", Action: ipc.ActionFileStore},
	))
	a, out, errb := testApp(nil, map[string]string{ipc.SocketEnv: sock, "ENTRA_HELPER_CONFIG": cfg})
	a.call = nil // the real socket
	a.checks = func(context.Context, ...string) ([]ipc.Check, error) {
		return []ipc.Check{{Name: "config", Level: ipc.CheckOK, Message: "valid"}}, nil
	}
	code := a.main([]string{"entra-helper", "doctor", "--fix", "--yes"})
	written, _ := os.ReadFile(cfg)
	if !strings.Contains(string(written), `store = "file"`) {
		t.Fatalf("the config was not switched:\n%s\n%s", written, out)
	}
	msg := errb.String()
	if code != 1 || !strings.Contains(msg, "entra-helperd (pid 4242) still runs with the keyring store") ||
		!strings.Contains(msg, "restart it") || !strings.Contains(msg, "entra-helper login -p sp") {
		t.Fatalf("exit %d, stderr %q; want the running daemon named with a restart", code, msg)
	}
}
