package svc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestPerOSPlan pins, for each OS and mode, what install would write and
// run and what the messages and uninstall say, rendered without touching
// the system.
func TestPerOSPlan(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USER", "ada")
	t.Setenv("ProgramData", `D:\PD`)
	t.Setenv("SUDO_USER", "")
	oldEuid := geteuid
	t.Cleanup(func() { geteuid = oldEuid })
	geteuid = func() int { return 1000 }

	dh := darwinHome() // the account's home, as the service library finds it
	type want struct {
		name, defPath, describe, logHint, modeFlag string
		options                                    []string
		env                                        string
		permission                                 string // explain(fs.ErrPermission)
		privErr                                    string // checkPrivileges("install") as uid 1000
		hints                                      []string
		removed                                    string // the uninstall's closing line
	}
	for _, tc := range []struct {
		goos string
		mode Mode
		exe  string
		want want
	}{
		{"linux", User, "/usr/bin/entra-helperd", want{
			name: ServiceName, defPath: filepath.Join(home, ".config/systemd/user/entra-helperd.service"),
			describe:   "entra-helperd (systemd user unit)",
			logHint:    "`systemctl --user status entra-helperd` and `journalctl --user -u entra-helperd`",
			options:    []string{"SystemdScript", "UserService"},
			permission: "permission denied: permission denied (a system service needs root)",
			hints: []string{"Start it now with `entra-helperd service start`; from now on it starts when you log in.",
				"loginctl enable-linger ada", "Logs: journalctl --user -u entra-helperd"},
			removed: "Removed " + filepath.Join(home, ".config/systemd/user/entra-helperd.service") + ".",
		}},
		{"linux", System, "/usr/bin/entra-helperd", want{
			name: ServiceName, defPath: "/etc/systemd/system/entra-helperd.service",
			describe: "entra-helperd (systemd system unit)", modeFlag: " --system",
			logHint:    "`systemctl status entra-helperd` and `journalctl -u entra-helperd`",
			options:    []string{"SystemdScript", "UserService"},
			permission: "permission denied: permission denied (a system service needs root)",
			privErr:    "a system service needs root: run `sudo entra-helperd service install --system`",
			hints:      []string{"It runs as the user entra-helper", "`sudo entra-helperd service start --system`", "Logs: journalctl -u entra-helperd"},
			removed:    "Removed /etc/systemd/system/entra-helperd.service.",
		}},
		{"darwin", User, "/usr/local/bin/entra-helperd", want{
			name: LaunchdLabel, defPath: filepath.Join(dh, "Library/LaunchAgents", LaunchdLabel+".plist"),
			describe: "entra-helperd (LaunchAgent)", logHint: LaunchdLogFile(User, dh),
			options:    []string{"LaunchdConfig", "UserService"},
			permission: "permission denied: permission denied (a system service needs root)",
			hints:      []string{"Start it now with `entra-helperd service start`; from then on launchd starts it at login.", "Logs: " + LaunchdLogFile(User, dh)},
			removed:    "Removed " + filepath.Join(dh, "Library/LaunchAgents", LaunchdLabel+".plist") + ".",
		}},
		{"darwin", System, "/usr/local/bin/entra-helperd", want{
			name: LaunchdLabel, defPath: filepath.Join("/Library/LaunchDaemons", LaunchdLabel+".plist"),
			describe: "entra-helperd (LaunchDaemon)", logHint: LaunchdLogFile(System, dh), modeFlag: " --system",
			options:    []string{"LaunchdConfig", "UserService"},
			permission: "permission denied: permission denied (a system service needs root)",
			privErr:    "a system service needs root: run `sudo entra-helperd service install --system`",
			hints:      []string{"`sudo entra-helperd service start --system`; from then on launchd starts it at boot."},
			removed:    "Removed /Library/LaunchDaemons/" + LaunchdLabel + ".plist.",
		}},
		{"windows", System, `C:\entra-helperd.exe`, want{
			name: ServiceName, describe: "entra-helperd (Windows service)", logHint: "the Application event log",
			options:    []string{"DelayedAutoStart", "OnFailure", "OnFailureDelayDuration", "OnFailureResetPeriod", "StartType", "UserService"},
			env:        `ENTRA_HELPER_CONFIG=D:\PD\entra-helper\config.toml`,
			permission: "permission denied: run it from an Administrator prompt",
			hints:      []string{"Start it now with `entra-helperd service start`. Logs: the Application event log, source entra-helperd."},
			removed:    "Removed the Windows service entra-helperd.",
		}},
	} {
		t.Run(tc.goos+"_"+tc.mode.String(), func(t *testing.T) {
			if runtime.GOOS == "windows" && tc.goos != "windows" {
				t.Skip("a Unix plan's paths use the host's separators and home: checked on Unix hosts")
			}
			var out bytes.Buffer
			c := &controller{goos: tc.goos, mode: tc.mode, exe: tc.exe, out: &out}
			cfg, err := c.config()
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			opts := slices.Sorted(maps.Keys(cfg.Option))
			var env []string
			for k, v := range cfg.EnvVars {
				env = append(env, k+"="+v)
			}
			got := fmt.Sprint(cfg.Name, c.defPath, c.describe(), c.manager().logHint(c), c.modeFlag(), opts, strings.Join(env, ","))
			exp := fmt.Sprint(w.name, w.defPath, w.describe, w.logHint, w.modeFlag, w.options, w.env)
			if got != exp {
				t.Errorf("plan = %q\nwant   %q", got, exp)
			}
			if cfg.Executable != tc.exe || strings.Join(cfg.Arguments, " ") != strings.Join(ExecArgs(tc.mode), " ") {
				t.Errorf("runs %q %q", cfg.Executable, cfg.Arguments)
			}
			if cfg.Option["UserService"] != (tc.mode == User) {
				t.Errorf("UserService = %v", cfg.Option["UserService"])
			}
			if got := c.explain(fs.ErrPermission).Error(); got != w.permission {
				t.Errorf("explain(permission) = %q, want %q", got, w.permission)
			}
			if got := c.explain(errors.New("boom")).Error(); got != "boom (see "+w.logHint+")" {
				t.Errorf("explain(other) = %q", got)
			}
			if c.explain(nil) != nil {
				t.Error("explain(nil) is not nil")
			}
			gotPriv := ""
			if err := c.checkPrivileges(actInstall); err != nil {
				gotPriv = err.Error()
			}
			if gotPriv != w.privErr {
				t.Errorf("checkPrivileges = %q, want %q", gotPriv, w.privErr)
			}
			if err := c.checkPrivileges(actStatus); err != nil {
				t.Errorf("status refused: %v", err)
			}
			c.installHints()
			mustContain(t, "install hints", out.String(), w.hints...)
			if got := c.manager().removedLine(c); got != w.removed {
				t.Errorf("uninstall says %q, want %q", got, w.removed)
			}
			if got, wantStop := c.manager().stopsBeforeUninstall(), tc.goos != "darwin"; got != wantStop {
				t.Errorf("stops before uninstall = %v, want %v", got, wantStop)
			}
		})
	}
}

// TestUserServiceUnderSudo pins the refusal of a per-user service as root
// through sudo, on the OSes that have per-user services.
func TestUserServiceUnderSudo(t *testing.T) {
	oldEuid := geteuid
	t.Cleanup(func() { geteuid = oldEuid })
	geteuid = func() int { return 0 }
	t.Setenv("SUDO_USER", "ada")
	for _, goos := range []string{"linux", "darwin"} {
		c := &controller{goos: goos, mode: User}
		var u errUsage
		if err := c.checkPrivileges(actInstall); !errors.As(err, &u) || !strings.Contains(err.Error(), "through sudo") {
			t.Errorf("%s: checkPrivileges = %v, want the sudo usage error", goos, err)
		}
	}
	c := &controller{goos: "windows", mode: System}
	if err := c.checkPrivileges(actInstall); err != nil {
		t.Errorf("windows: checkPrivileges = %v", err)
	}
}
