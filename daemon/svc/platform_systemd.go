package svc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"

	"github.com/entra-helper/entra-helper/ipc"
)

// Seams of the systemd platform replaced by tests.
var (
	// packagedUnitDirs are where the .deb/.rpm put the unit files.
	packagedUnitDirs = map[Mode][]string{
		System: {"/usr/lib/systemd/system", "/lib/systemd/system"},
		User:   {"/usr/lib/systemd/user", "/lib/systemd/user"},
	}
	// lookupUser finds the system service's account.
	lookupUser = user.Lookup
)

// systemUnitDir is where the service library writes a system unit (fixed).
const systemUnitDir = "/etc/systemd/system"

// systemdPlatform is Linux's systemd: a user unit per user, a system unit
// running as SystemUser for the system; the .deb and .rpm may have
// installed either unit already.
type systemdPlatform struct{ posix }

func (systemdPlatform) configure(c *controller, cfg *service.Config) error {
	home, err := os.UserHomeDir()
	if err != nil && c.mode == User {
		return fmt.Errorf("no home directory for the user unit (%w): set HOME, or install with --system", err)
	}
	c.home = home
	unit, err := RenderSystemdUnit(c.mode, c.exe)
	if err != nil {
		return err
	}
	cfg.Option["SystemdScript"] = unit
	if c.mode == User {
		c.defPath = filepath.Join(home, ".config", "systemd", "user", ServiceName+".service")
	} else {
		c.defPath = filepath.Join(systemUnitDir, ServiceName+".service")
	}
	return nil
}

func (p systemdPlatform) checkLibrary() error {
	if service.Platform() != "linux-systemd" {
		return p.noManager()
	}
	return nil
}

func (systemdPlatform) noManager() error {
	return errors.New("no service manager found (systemd is not running here): run `entra-helperd` in the foreground or under your own supervisor")
}

// systemctl runs systemctl for mode and returns its error with the first
// line of its stderr.
func systemctl(mode Mode, args ...string) error {
	if mode == User {
		args = append([]string{"--user"}, args...)
	}
	cmd := exec.Command("systemctl", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return fmt.Errorf("cannot run systemctl (%w): install systemd, or run `entra-helperd` under your own supervisor", err)
		}
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("systemctl %s: %s", strings.Join(args, " "), msg)
	}
	return nil
}

// ready makes sure the systemd manager of c's mode answers.
func (p systemdPlatform) ready(c *controller) error {
	err := systemctl(c.mode, "show", "--property=Version")
	if err == nil {
		return nil
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return p.noManager()
	}
	if c.mode == User {
		return fmt.Errorf("cannot reach your systemd user manager (%v): log in with a normal session (console, ssh, or `machinectl shell $USER@`) rather than su or sudo, or use --system", err)
	}
	return fmt.Errorf("cannot reach systemd (%v): %w", err, p.noManager())
}

// packagedUnit returns the unit file the .deb/.rpm installed for mode, or "".
func packagedUnit(mode Mode) string {
	for _, dir := range packagedUnitDirs[mode] {
		p := filepath.Join(dir, ServiceName+".service")
		if fileExists(p) {
			return p
		}
	}
	return ""
}

// installed counts the packaged unit too.
func (systemdPlatform) installed(c *controller) (bool, error) {
	return fileExists(c.defPath) || packagedUnit(c.mode) != "", nil
}

// prepareInstall refuses a system unit whose account does not exist.
func (systemdPlatform) prepareInstall(c *controller) error {
	if c.mode != System {
		return nil
	}
	if _, err := lookupUser(SystemUser); err != nil {
		return fmt.Errorf("the system service runs as the user %q, which does not exist: create it with `useradd --system --user-group --home-dir /var/lib/entra-helper --shell /usr/sbin/nologin %s` (the .deb and .rpm do this)", SystemUser, SystemUser)
	}
	return nil
}

// installPackaged enables the unit the .deb/.rpm installed.
func (systemdPlatform) installPackaged(c *controller) (bool, error) {
	pkg := packagedUnit(c.mode)
	if pkg == "" {
		return false, nil
	}
	if err := systemctl(c.mode, "enable", ServiceName+".service"); err != nil {
		return true, err
	}
	fmt.Fprintf(c.out, "Enabled the packaged unit %s.\n", pkg)
	return true, nil
}

// rollbackInstall disables and removes the unit a failed install wrote.
func (systemdPlatform) rollbackInstall(c *controller) {
	if fileExists(c.defPath) {
		_ = systemctl(c.mode, "disable", ServiceName+".service")
		_ = os.Remove(c.defPath)
		_ = systemctl(c.mode, "daemon-reload")
	}
}

func (systemdPlatform) installedLine(c *controller) string {
	return fmt.Sprintf("Installed and enabled %s.", c.defPath)
}

func (systemdPlatform) installHints(c *controller, start string) {
	if c.mode == User {
		name := os.Getenv("USER")
		if name == "" {
			name = "$USER"
		}
		fmt.Fprintf(c.out, "Start it now with `%s`; from now on it starts when you log in.\n", start)
		fmt.Fprintf(c.out, "To start it at boot without logging in, run: loginctl enable-linger %s\n", name)
		fmt.Fprintf(c.out, "Logs: journalctl --user -u %s\n", ServiceName)
		return
	}
	fmt.Fprintf(c.out, "It runs as the user %s with the config %s and starts at boot. Start it now with `%s`.\n", SystemUser, SystemConfigFile, start)
	if !fileExists(SystemStoreKeyFile) {
		fmt.Fprintf(c.out, "Note: %s does not exist yet and the service will not start without it: create it with\n  sudo sh -c 'umask 077; head -c 32 /dev/urandom > %s'\n", SystemStoreKeyFile, SystemStoreKeyFile)
	}
	fmt.Fprintf(c.out, "It listens on %s, where clients look when no per-user daemon runs. Logs: journalctl -u %s\n", ipc.LinuxSystemSocket, ServiceName)
}

// uninstallPackaged disables the packaged unit when it is the only one:
// the package owns the file.
func (systemdPlatform) uninstallPackaged(c *controller) (bool, error) {
	if fileExists(c.defPath) {
		return false, nil
	}
	if err := systemctl(c.mode, "disable", ServiceName+".service"); err != nil {
		return true, err
	}
	fmt.Fprintf(c.out, "Stopped and disabled the packaged unit %s (remove the package to delete it).\n", packagedUnit(c.mode))
	return true, nil
}

func (systemdPlatform) kind(mode Mode) string {
	return map[Mode]string{User: "systemd user unit", System: "systemd system unit"}[mode]
}

func (systemdPlatform) logHint(c *controller) string {
	return fmt.Sprintf("`systemctl%s status %s` and `journalctl%s -u %s`", c.userFlag(), ServiceName, c.userFlag(), ServiceName)
}
