package daemon

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateDirFor: state_dir, then $STATE_DIRECTORY, then $XDG_STATE_HOME,
// then ~/.local/state on Unix and %LOCALAPPDATA% on Windows.
func TestStateDirFor(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	local := `C:\Users\u\AppData\Local`
	for _, c := range []struct {
		name, configured, goos string
		env                    map[string]string
		home                   func() (string, error)
		want, wantErr          string
	}{
		{name: "configured", configured: "/srv/s", goos: "windows", env: map[string]string{"STATE_DIRECTORY": "/x", "LOCALAPPDATA": local}, home: home, want: "/srv/s"},
		{name: "systemd", goos: "linux", env: map[string]string{"STATE_DIRECTORY": "/var/lib/e" + string(filepath.ListSeparator) + "/other", "XDG_STATE_HOME": "/xdg"}, home: home, want: "/var/lib/e"},
		{name: "xdg", goos: "linux", env: map[string]string{"XDG_STATE_HOME": "/xdg"}, home: home, want: filepath.Join("/xdg", "entra-helper")},
		{name: "unix home", goos: "linux", home: home, want: filepath.Join("/home/u", ".local", "state", "entra-helper")},
		{name: "unix no home", goos: "linux", home: noHome, wantErr: "set state_dir"},
		{name: "windows", goos: "windows", env: map[string]string{"LOCALAPPDATA": local}, home: home, want: filepath.Join(local, "entra-helper")},
		{name: "windows xdg set", goos: "windows", env: map[string]string{"XDG_STATE_HOME": "/xdg", "LOCALAPPDATA": local}, home: home, want: filepath.Join("/xdg", "entra-helper")},
		{name: "windows no LOCALAPPDATA", goos: "windows", home: home, wantErr: "LOCALAPPDATA"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := stateDirFor(c.configured, c.goos, func(k string) string { return c.env[k] }, c.home)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("stateDirFor = %q, %v; want an error with %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("stateDirFor = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
