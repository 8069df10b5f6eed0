package svc

import (
	"bytes"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kardianos/service"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args     []string
		goos     string
		action   string
		mode     Mode
		help     bool
		usageErr bool
	}{
		{[]string{"install"}, "linux", "install", User, false, false},
		{[]string{"service", "status"}, "linux", "status", User, false, false},
		{[]string{"start", "--system"}, "linux", "start", System, false, false},
		{[]string{"--user", "stop"}, "darwin", "stop", User, false, false},
		{[]string{"restart"}, "windows", "restart", System, false, false},
		{[]string{"uninstall", "--system"}, "windows", "uninstall", System, false, false},
		{[]string{"--help"}, "linux", "", User, true, false},
		{[]string{"install", "-h"}, "linux", "", User, true, false},
		{nil, "linux", "", User, false, true},
		{[]string{"--user"}, "linux", "", User, false, true},
		{[]string{"install", "start"}, "linux", "", User, false, true},
		{[]string{"install", "--user", "--system"}, "linux", "", User, false, true},
		{[]string{"install", "--user"}, "windows", "", System, false, true},
		{[]string{"enable"}, "linux", "", User, false, true},
		{[]string{"install", "--force"}, "linux", "", User, false, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_")+"_"+tt.goos, func(t *testing.T) {
			action, mode, help, err := parseArgs(tt.args, tt.goos)
			if help != tt.help || (err != nil) != tt.usageErr {
				t.Fatalf("help=%v err=%v, want help=%v usage error=%v", help, err, tt.help, tt.usageErr)
			}
			if tt.help || tt.usageErr {
				return
			}
			if action != tt.action || mode != tt.mode {
				t.Errorf("got %q %v, want %q %v", action, mode, tt.action, tt.mode)
			}
		})
	}
}

func TestCommandUsageExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--help"}, 0, "usage: entra-helperd service"},
		{nil, 2, "missing action"},
		{[]string{"bogus"}, 2, `unknown action "bogus"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := Command(tt.args, &stdout, &stderr); code != tt.code {
			t.Errorf("Command(%q) = %d, want %d; stderr: %s", tt.args, code, tt.code, stderr.String())
		}
		if !strings.Contains(stdout.String()+stderr.String(), tt.out) {
			t.Errorf("Command(%q) output lacks %q: %s%s", tt.args, tt.out, stdout.String(), stderr.String())
		}
	}
}

// originalSystems are the service systems the library knows on this platform.
var originalSystems = service.AvailableSystems()

// forcedSystem makes a service system available whatever this machine runs.
type forcedSystem struct{ service.System }

func (forcedSystem) Detect() bool { return true }

// useServiceSystem makes the service library use the named system for the test.
func useServiceSystem(t *testing.T, name string) {
	t.Helper()
	saved := service.AvailableSystems()
	t.Cleanup(func() { service.ChooseSystem(saved...) })
	for _, s := range originalSystems {
		if s.String() == name {
			service.ChooseSystem(forcedSystem{s})
			return
		}
	}
	t.Fatalf("no service system %q in %v", name, originalSystems)
}

// fakeSystemctl is a systemctl that logs its arguments to $FAKE_LOG, fails
// (like an unreachable bus) when an argument equals $FAKE_FAIL, answers
// is-active with $FAKE_ACTIVE and lists the unit when $FAKE_UNIT exists.
const fakeSystemctl = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
if [ -n "$FAKE_FAIL" ]; then
	for a in "$@"; do
		if [ "$a" = "$FAKE_FAIL" ]; then
			echo "Failed to connect to bus: No medium found" >&2
			exit 1
		fi
	done
fi
case "$1" in
is-active)
	echo "${FAKE_ACTIVE:-inactive}"
	[ "$FAKE_ACTIVE" = active ] && exit 0
	exit 3 ;;
list-unit-files)
	[ -e "$FAKE_UNIT" ] && echo "entra-helperd.service enabled enabled"
	exit 0 ;;
esac
exit 0
`

type fakeEnv struct {
	home, log, exe, pkgDir string
}

// setupFakeSystemd points the package at a fake systemd: a forced systemd
// service system, a fake systemctl first on PATH, HOME and the unit
// directories in temporary directories.
func setupFakeSystemd(t *testing.T) *fakeEnv {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("systemd is Linux only")
	}
	useServiceSystem(t, "linux-systemd")
	root := t.TempDir()
	f := &fakeEnv{
		home:   filepath.Join(root, "home"),
		log:    filepath.Join(root, "systemctl.log"),
		exe:    filepath.Join(root, "bin", "entra-helperd"),
		pkgDir: filepath.Join(root, "usr-lib-systemd"),
	}
	binDir := filepath.Join(root, "fakebin")
	for _, d := range []string{f.home, binDir, filepath.Dir(f.exe), f.pkgDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(binDir, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("HOME", f.home)
	t.Setenv("USER", "ada")
	t.Setenv("FAKE_LOG", f.log)
	t.Setenv("FAKE_FAIL", "")
	t.Setenv("FAKE_ACTIVE", "inactive")
	t.Setenv("FAKE_UNIT", filepath.Join(f.home, ".config/systemd/user/entra-helperd.service"))
	t.Setenv("SUDO_USER", "")

	oldExe, oldEuid, oldPkg, oldLookup := executable, geteuid, packagedUnitDirs, lookupUser
	t.Cleanup(func() {
		executable, geteuid, packagedUnitDirs, lookupUser = oldExe, oldEuid, oldPkg, oldLookup
	})
	executable = func() (string, error) { return f.exe, nil }
	geteuid = func() int { return 1000 }
	packagedUnitDirs = map[Mode][]string{User: {filepath.Join(f.pkgDir, "user")}, System: {filepath.Join(f.pkgDir, "system")}}
	lookupUser = func(name string) (*user.User, error) { return &user.User{Username: name, Uid: "990"}, nil }
	return f
}

func (f *fakeEnv) calls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(f.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	_ = os.Remove(f.log)
	return string(b)
}

func run(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	if code := Command(args, &o, &e); code != wantCode {
		t.Fatalf("Command(%q) = %d, want %d\nstdout: %s\nstderr: %s", args, code, wantCode, o.String(), e.String())
	}
	return o.String(), e.String()
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

func TestUserServiceLifecycle(t *testing.T) {
	f := setupFakeSystemd(t)
	unitPath := filepath.Join(f.home, ".config/systemd/user/entra-helperd.service")

	run(t, 0, "status")
	f.calls(t)

	_, stderr := run(t, 1, "start")
	mustContain(t, "stderr", stderr, "not installed", "entra-helperd service install")
	f.calls(t)

	out, _ := run(t, 0, "install")
	mustContain(t, "install output", out, unitPath, "loginctl enable-linger ada", "journalctl --user -u entra-helperd")
	got, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := RenderSystemdUnit(User, f.exe)
	if string(got) != want {
		t.Errorf("installed unit:\n%s\nwant:\n%s", got, want)
	}
	mustContain(t, "systemctl calls", f.calls(t), "enable --user entra-helperd.service", "daemon-reload --user")

	_, stderr = run(t, 1, "install")
	mustContain(t, "second install", stderr, "already installed")

	out, _ = run(t, 0, "status")
	mustContain(t, "status", out, "stopped")
	t.Setenv("FAKE_ACTIVE", "active")
	out, _ = run(t, 0, "status", "--user")
	mustContain(t, "status", out, "running")

	f.calls(t)
	out, _ = run(t, 0, "restart")
	mustContain(t, "restart", out, "Restarted")
	mustContain(t, "systemctl calls", f.calls(t), "restart --user entra-helperd.service")

	out, _ = run(t, 0, "uninstall")
	mustContain(t, "uninstall", out, "Removed "+unitPath)
	mustContain(t, "systemctl calls", f.calls(t), "stop --user entra-helperd.service", "disable --user entra-helperd.service")
	if fileExists(unitPath) {
		t.Error("uninstall left the unit file")
	}
	t.Setenv("FAKE_ACTIVE", "inactive")
	out, _ = run(t, 0, "status")
	mustContain(t, "status", out, "not installed")
	out, _ = run(t, 0, "uninstall")
	mustContain(t, "second uninstall", out, "not installed")
}

func TestFailedInstallLeavesNothing(t *testing.T) {
	f := setupFakeSystemd(t)
	unitPath := filepath.Join(f.home, ".config/systemd/user/entra-helperd.service")
	for _, fail := range []string{"enable", "daemon-reload"} {
		t.Run(fail, func(t *testing.T) {
			t.Setenv("FAKE_FAIL", fail)
			_, stderr := run(t, 1, "install")
			mustContain(t, "stderr", stderr, "journalctl --user -u entra-helperd")
			if fileExists(unitPath) {
				t.Errorf("a failed install (%s) left %s behind", fail, unitPath)
			}
		})
	}
}

func TestNoServiceManager(t *testing.T) {
	f := setupFakeSystemd(t)
	want := "no service manager found (systemd is not running here): run `entra-helperd` in the foreground or under your own supervisor"

	t.Run("not systemd", func(t *testing.T) {
		useServiceSystem(t, "unix-systemv")
		for _, action := range []string{"install", "status", "start"} {
			_, stderr := run(t, 1, action)
			mustContain(t, "stderr", stderr, want)
		}
		if fileExists(filepath.Join(f.home, ".config")) {
			t.Error("wrote files without a service manager")
		}
	})
	t.Run("no systemctl", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, stderr := run(t, 1, "install")
		mustContain(t, "stderr", stderr, want)
	})
	t.Run("user manager unreachable", func(t *testing.T) {
		t.Setenv("FAKE_FAIL", "--property=Version")
		_, stderr := run(t, 1, "install")
		mustContain(t, "stderr", stderr, "cannot reach your systemd user manager", "No medium found", "--system")
		if fileExists(filepath.Join(f.home, ".config/systemd/user/entra-helperd.service")) {
			t.Error("wrote a unit although systemd is unreachable")
		}
	})
}

func TestPackagedUnit(t *testing.T) {
	f := setupFakeSystemd(t)
	pkgUnit := filepath.Join(f.pkgDir, "user", "entra-helperd.service")
	if err := os.MkdirAll(filepath.Dir(pkgUnit), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkgUnit, []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_UNIT", pkgUnit)

	out, _ := run(t, 0, "install")
	mustContain(t, "install", out, "Enabled the packaged unit "+pkgUnit, "loginctl enable-linger")
	mustContain(t, "systemctl calls", f.calls(t), "--user enable entra-helperd.service")
	if fileExists(filepath.Join(f.home, ".config/systemd/user/entra-helperd.service")) {
		t.Error("install wrote a unit shadowing the packaged one")
	}
	out, _ = run(t, 0, "status")
	mustContain(t, "status", out, "stopped")
	out, _ = run(t, 0, "uninstall")
	mustContain(t, "uninstall", out, "disabled the packaged unit")
	mustContain(t, "systemctl calls", f.calls(t), "--user disable entra-helperd.service")
	if !fileExists(pkgUnit) {
		t.Error("uninstall removed the package's file")
	}
}

func TestSystemService(t *testing.T) {
	setupFakeSystemd(t)
	unitPath := filepath.Join(systemUnitDir, "entra-helperd.service")
	if fileExists(unitPath) {
		t.Skipf("%s exists on this machine", unitPath)
	}

	_, stderr := run(t, 1, "install", "--system")
	mustContain(t, "non-root install", stderr, "needs root", "sudo entra-helperd service install --system")
	run(t, 0, "status", "--system") // status needs no root

	geteuid = func() int { return 0 }
	lookupUser = func(name string) (*user.User, error) { return nil, user.UnknownUserError(name) }
	_, stderr = run(t, 1, "install", "--system")
	mustContain(t, "install without the user", stderr, `"entra-helper", which does not exist`, "useradd --system")
	if fileExists(unitPath) {
		t.Error("install without the service user wrote a unit")
	}

	// A successful system install is not run here: the service library writes
	// system units to the fixed /etc/systemd/system, which a test must not
	// touch. The user lifecycle above runs the same code with another path.

	t.Setenv("SUDO_USER", "ada")
	_, stderr = run(t, 2, "install")
	mustContain(t, "user install through sudo", stderr, "through sudo")
}
