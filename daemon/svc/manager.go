package svc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kardianos/service"

	"github.com/entra-helper/entra-helper/ipc"
)

// Seams replaced by tests.
var (
	executable = os.Executable
	geteuid    = os.Geteuid
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

// errNoManager is the answer when there is no service manager to talk to.
func errNoManager(goos string) error {
	if goos == "linux" {
		return errors.New("no service manager found (systemd is not running here): run `entra-helperd` in the foreground or under your own supervisor")
	}
	return errors.New("no service manager found: run `entra-helperd` in the foreground or under your own supervisor")
}

// nopProgram is the service.Interface of the controlling process: it only
// installs and controls the service, it never runs it.
type nopProgram struct{}

func (nopProgram) Start(service.Service) error { return nil }
func (nopProgram) Stop(service.Service) error  { return nil }

// controller carries out one action for one mode on this platform.
type controller struct {
	goos     string
	mode     Mode
	out      io.Writer
	exe      string
	home     string
	defPath  string // the definition file the service library writes ("" on Windows)
	svc      service.Service
	platform string
}

// newController resolves the executable and the service definition, and
// fails with errNoManager when no usable service manager exists.
func newController(mode Mode, out io.Writer) (*controller, error) {
	c := &controller{goos: runtime.GOOS, mode: mode, out: out}
	exe, err := executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the daemon's executable (%w): run `entra-helperd service install` from the installed binary", err)
	}
	if abs, err := filepath.Abs(exe); err == nil {
		exe = abs
	}
	c.exe = exe
	if c.goos == "linux" && service.Platform() != "linux-systemd" {
		return nil, errNoManager(c.goos)
	}
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	s, err := service.New(nopProgram{}, cfg)
	if errors.Is(err, service.ErrNoServiceSystemDetected) {
		return nil, errNoManager(c.goos)
	}
	if err != nil {
		return nil, err
	}
	c.svc = s
	c.platform = s.Platform()
	return c, nil
}

// config builds the service library's configuration for this platform.
func (c *controller) config() (*service.Config, error) {
	cfg := &service.Config{
		Name:        ServiceName,
		DisplayName: "entra-helper daemon",
		Description: "Keeps Microsoft Entra ID access tokens fresh for local tools.",
		Executable:  c.exe,
		Arguments:   ExecArgs(c.mode),
		Option:      service.KeyValue{"UserService": c.mode == User},
	}
	switch c.goos {
	case "linux":
		home, err := os.UserHomeDir()
		if err != nil && c.mode == User {
			return nil, fmt.Errorf("no home directory for the user unit (%w): set HOME, or install with --system", err)
		}
		c.home = home
		unit, err := RenderSystemdUnit(c.mode, c.exe)
		if err != nil {
			return nil, err
		}
		cfg.Option["SystemdScript"] = unit
		if c.mode == User {
			c.defPath = filepath.Join(home, ".config", "systemd", "user", ServiceName+".service")
		} else {
			c.defPath = filepath.Join(systemUnitDir, ServiceName+".service")
		}
	case "darwin":
		home := darwinHome()
		if home == "" && c.mode == User {
			return nil, errors.New("no home directory for the LaunchAgent: set HOME, or install with --system")
		}
		c.home = home
		cfg.Name = LaunchdLabel
		plist, err := RenderLaunchdPlist(c.mode, c.exe, home)
		if err != nil {
			return nil, err
		}
		cfg.Option["LaunchdConfig"] = plist
		if c.mode == User {
			c.defPath = filepath.Join(home, "Library", "LaunchAgents", LaunchdLabel+".plist")
		} else {
			c.defPath = filepath.Join("/Library/LaunchDaemons", LaunchdLabel+".plist")
		}
	case "windows":
		programData := os.Getenv("ProgramData")
		if programData == "" {
			programData = `C:\ProgramData`
		}
		cfg.EnvVars = map[string]string{
			"ENTRA_HELPER_CONFIG": programData + `\entra-helper\config.toml`,
		}
		cfg.Option["StartType"] = "automatic"
		cfg.Option["DelayedAutoStart"] = true
		cfg.Option["OnFailure"] = "restart"
		cfg.Option["OnFailureDelayDuration"] = "5s"
		cfg.Option["OnFailureResetPeriod"] = 86400
	}
	return cfg, nil
}

// darwinHome is the home directory as the service library finds it on macOS.
func darwinHome() string {
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return os.Getenv("HOME")
}

// do runs one action.
func (c *controller) do(action string) error {
	if err := c.checkPrivileges(action); err != nil {
		return err
	}
	if c.goos == "linux" {
		if err := c.checkSystemd(); err != nil {
			return err
		}
	}
	switch action {
	case actInstall:
		return c.install()
	case actUninstall:
		return c.uninstall()
	case actStatus:
		return c.status()
	default:
		return c.control(action)
	}
}

// checkPrivileges refuses what cannot work with the caller's rights.
func (c *controller) checkPrivileges(action string) error {
	if c.goos == "windows" {
		return nil
	}
	if c.mode == System && action != actStatus && geteuid() != 0 {
		return fmt.Errorf("a system service needs root: run `sudo entra-helperd service %s --system`", action)
	}
	if c.mode == User && geteuid() == 0 && os.Getenv("SUDO_USER") != "" {
		return errUsage{"you ran this through sudo, so the per-user service would be root's: run it as yourself without sudo, or add --system for a system service"}
	}
	return nil
}

// userFlag is " --user" for a user service, for the commands we suggest.
func (c *controller) userFlag() string {
	if c.mode == User {
		return " --user"
	}
	return ""
}

// modeFlag is the flag naming the mode in the commands we suggest.
func (c *controller) modeFlag() string {
	if c.mode == System && c.goos != "windows" {
		return " --system"
	}
	return ""
}

// systemctl runs systemctl for this mode and returns its error with the first
// line of its stderr.
func (c *controller) systemctl(args ...string) error {
	if c.mode == User {
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

// checkSystemd makes sure the systemd manager of this mode answers.
func (c *controller) checkSystemd() error {
	err := c.systemctl("show", "--property=Version")
	if err == nil {
		return nil
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return errNoManager(c.goos)
	}
	if c.mode == User {
		return fmt.Errorf("cannot reach your systemd user manager (%v): log in with a normal session (console, ssh, or `machinectl shell $USER@`) rather than su or sudo, or use --system", err)
	}
	return fmt.Errorf("cannot reach systemd (%v): %w", err, errNoManager(c.goos))
}

// packagedUnit returns the unit file the .deb/.rpm installed for this mode, or "".
func (c *controller) packagedUnit() string {
	if c.goos != "linux" {
		return ""
	}
	for _, dir := range packagedUnitDirs[c.mode] {
		p := filepath.Join(dir, ServiceName+".service")
		if fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// installed reports whether a service definition exists for this mode.
func (c *controller) installed() (bool, error) {
	switch c.goos {
	case "linux":
		return fileExists(c.defPath) || c.packagedUnit() != "", nil
	case "windows":
		_, err := c.svc.Status()
		if errors.Is(err, service.ErrNotInstalled) {
			return false, nil
		}
		return err == nil, c.explain(err)
	default:
		return fileExists(c.defPath), nil
	}
}

func (c *controller) install() error {
	if c.defPath != "" && fileExists(c.defPath) {
		return fmt.Errorf("already installed (%s): use `entra-helperd service restart%s`, or uninstall it first", c.defPath, c.modeFlag())
	}
	if c.goos == "windows" {
		if ok, err := c.installed(); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("already installed as the Windows service %s: use `entra-helperd service restart`, or uninstall it first", ServiceName)
		}
	}
	if c.goos == "linux" && c.mode == System {
		if _, err := lookupUser(SystemUser); err != nil {
			return fmt.Errorf("the system service runs as the user %q, which does not exist: create it with `useradd --system --user-group --home-dir /var/lib/entra-helper --shell /usr/sbin/nologin %s` (the .deb and .rpm do this)", SystemUser, SystemUser)
		}
	}
	if pkg := c.packagedUnit(); pkg != "" {
		if err := c.systemctl("enable", ServiceName+".service"); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "Enabled the packaged unit %s.\n", pkg)
		c.installHints()
		return nil
	}
	if c.goos == "darwin" {
		if err := c.makeLogDir(); err != nil {
			return err
		}
	}
	if err := c.svc.Install(); err != nil {
		c.rollbackInstall()
		return c.explain(err)
	}
	switch c.goos {
	case "windows":
		fmt.Fprintf(c.out, "Installed the Windows service %s for %s (starts at boot, restarted on failure).\n", ServiceName, c.exe)
	case "linux":
		fmt.Fprintf(c.out, "Installed and enabled %s.\n", c.defPath)
	default:
		fmt.Fprintf(c.out, "Installed %s.\n", c.defPath)
	}
	c.installHints()
	return nil
}

// makeLogDir creates the launchd job's log directory (launchd does not).
func (c *controller) makeLogDir() error {
	perm := fs.FileMode(0o700)
	if c.mode == System {
		perm = 0o755
	}
	dir := filepath.Dir(LaunchdLogFile(c.mode, c.home))
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("cannot create the log directory %s (%w): check its parent's owner and mode", dir, err)
	}
	return nil
}

// rollbackInstall removes whatever a failed install left behind.
func (c *controller) rollbackInstall() {
	switch c.goos {
	case "windows":
		if ok, _ := c.installed(); ok {
			_ = c.svc.Uninstall()
		}
	case "linux":
		if fileExists(c.defPath) {
			_ = c.systemctl("disable", ServiceName+".service")
			_ = os.Remove(c.defPath)
			_ = c.systemctl("daemon-reload")
		}
	default:
		_ = os.Remove(c.defPath)
	}
}

// installHints tells the user what to do next.
func (c *controller) installHints() {
	start := "entra-helperd service start" + c.modeFlag()
	if c.mode == System && c.goos != "windows" {
		start = "sudo " + start
	}
	switch c.goos {
	case "linux":
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
	case "darwin":
		fmt.Fprintf(c.out, "Start it now with `%s`; from then on launchd starts it at %s.\n", start, map[Mode]string{User: "login", System: "boot"}[c.mode])
		fmt.Fprintf(c.out, "Logs: %s\n", LaunchdLogFile(c.mode, c.home))
	case "windows":
		fmt.Fprintf(c.out, "Start it now with `%s`. Logs: the Application event log, source %s.\n", start, ServiceName)
	}
}

func (c *controller) uninstall() error {
	ok, err := c.installed()
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(c.out, "%s: not installed, nothing to remove.\n", c.describe())
		return nil
	}
	if st, _ := c.svc.Status(); st == service.StatusRunning && c.stopsBeforeUninstall() {
		if err := c.svc.Stop(); err != nil {
			return c.explain(err)
		}
	}
	if c.goos == "linux" && !fileExists(c.defPath) {
		// Only the packaged unit: disable it, the package owns the file.
		if err := c.systemctl("disable", ServiceName+".service"); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "Stopped and disabled the packaged unit %s (remove the package to delete it).\n", c.packagedUnit())
		return nil
	}
	if err := c.svc.Uninstall(); err != nil {
		return c.explain(err)
	}
	fmt.Fprintln(c.out, c.removedLine())
	return nil
}

// stopsBeforeUninstall reports whether uninstall stops a running service
// first (launchd's unload stops the job itself).
func (c *controller) stopsBeforeUninstall() bool { return c.goos != "darwin" }

// removedLine is what uninstall says once the definition is gone.
func (c *controller) removedLine() string {
	if c.defPath != "" {
		return fmt.Sprintf("Removed %s.", c.defPath)
	}
	return fmt.Sprintf("Removed the Windows service %s.", ServiceName)
}

func (c *controller) status() error {
	st, err := c.svc.Status()
	var state string
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		state = "not installed"
	case err != nil && strings.Contains(err.Error(), "failed state"):
		state = "stopped (it failed: see " + c.logHint() + ")"
	case err != nil:
		return c.explain(err)
	case st == service.StatusRunning:
		state = "running"
	case st == service.StatusStopped:
		state = "stopped"
	default:
		state = "unknown"
	}
	fmt.Fprintf(c.out, "%s: %s\n", c.describe(), state)
	return nil
}

// control starts, stops or restarts the installed service.
func (c *controller) control(action string) error {
	ok, err := c.installed()
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not installed: run `entra-helperd service install%s` first", c.describe(), c.modeFlag())
	}
	switch action {
	case actStart:
		err = c.svc.Start()
	case actStop:
		err = c.svc.Stop()
	case actRestart:
		err = c.svc.Restart()
	}
	if err != nil {
		return c.explain(err)
	}
	past := map[string]string{actStart: "Started", actStop: "Stopped", actRestart: "Restarted"}[action]
	fmt.Fprintf(c.out, "%s %s.\n", past, c.describe())
	return nil
}

// describe names the service and its kind for messages.
func (c *controller) describe() string {
	kind := map[string]map[Mode]string{
		"linux":  {User: "systemd user unit", System: "systemd system unit"},
		"darwin": {User: "LaunchAgent", System: "LaunchDaemon"},
	}[c.goos][c.mode]
	if c.goos == "windows" {
		kind = "Windows service"
	}
	if kind == "" {
		kind = c.mode.String() + " service"
	}
	return fmt.Sprintf("%s (%s)", ServiceName, kind)
}

// logHint says where the service's own messages are.
func (c *controller) logHint() string {
	switch c.goos {
	case "linux":
		return fmt.Sprintf("`systemctl%s status %s` and `journalctl%s -u %s`", c.userFlag(), ServiceName, c.userFlag(), ServiceName)
	case "darwin":
		return LaunchdLogFile(c.mode, c.home)
	default:
		return "the Application event log"
	}
}

// explain adds what to do next to an error of the service manager.
func (c *controller) explain(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrPermission) {
		if c.goos == "windows" {
			return fmt.Errorf("%v: run it from an Administrator prompt", err)
		}
		return fmt.Errorf("%v: permission denied (a system service needs root)", err)
	}
	return fmt.Errorf("%v (see %s)", err, c.logHint())
}
