package svc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kardianos/service"
)

// Seams replaced by tests.
var (
	executable = os.Executable
	geteuid    = os.Geteuid
)

// nopProgram is the service.Interface of the controlling process: it only
// installs and controls the service, it never runs it.
type nopProgram struct{}

func (nopProgram) Start(service.Service) error { return nil }
func (nopProgram) Stop(service.Service) error  { return nil }

// controller carries out one action for one mode on this platform; what
// differs between service managers is its platform's (see platform.go).
type controller struct {
	goos    string
	mode    Mode
	out     io.Writer
	exe     string
	home    string
	defPath string // the definition file the service library writes ("" on Windows)
	svc     service.Service
}

// manager is the service manager of c's OS.
func (c *controller) manager() platform { return platformFor(c.goos) }

// newController resolves the executable and the service definition, and
// fails with the platform's noManager error when no usable service manager
// exists.
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
	if err := c.manager().checkLibrary(); err != nil {
		return nil, err
	}
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	s, err := service.New(nopProgram{}, cfg)
	if errors.Is(err, service.ErrNoServiceSystemDetected) {
		return nil, c.manager().noManager()
	}
	if err != nil {
		return nil, err
	}
	c.svc = s
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
	if err := c.manager().configure(c, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// do runs one action.
func (c *controller) do(action string) error {
	if err := c.checkPrivileges(action); err != nil {
		return err
	}
	if err := c.manager().ready(c); err != nil {
		return err
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
	if !c.manager().needsRoot() {
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
	if c.mode == System && c.manager().needsRoot() {
		return " --system"
	}
	return ""
}

func (c *controller) install() error {
	if c.defPath != "" && fileExists(c.defPath) {
		return fmt.Errorf("already installed (%s): use `entra-helperd service restart%s`, or uninstall it first", c.defPath, c.modeFlag())
	}
	p := c.manager()
	if err := p.prepareInstall(c); err != nil {
		return err
	}
	if done, err := p.installPackaged(c); err != nil {
		return err
	} else if done {
		c.installHints()
		return nil
	}
	if err := c.svc.Install(); err != nil {
		p.rollbackInstall(c)
		return c.explain(err)
	}
	fmt.Fprintln(c.out, p.installedLine(c))
	c.installHints()
	return nil
}

// installHints tells the user what to do next.
func (c *controller) installHints() {
	start := "entra-helperd service start" + c.modeFlag()
	if c.mode == System && c.manager().needsRoot() {
		start = "sudo " + start
	}
	c.manager().installHints(c, start)
}

func (c *controller) uninstall() error {
	p := c.manager()
	ok, err := p.installed(c)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(c.out, "%s: not installed, nothing to remove.\n", c.describe())
		return nil
	}
	if st, _ := c.svc.Status(); st == service.StatusRunning && p.stopsBeforeUninstall() {
		if err := c.svc.Stop(); err != nil {
			return c.explain(err)
		}
	}
	if done, err := p.uninstallPackaged(c); done || err != nil {
		return err
	}
	if err := c.svc.Uninstall(); err != nil {
		return c.explain(err)
	}
	fmt.Fprintln(c.out, p.removedLine(c))
	return nil
}

func (c *controller) status() error {
	st, err := c.svc.Status()
	var state string
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		state = "not installed"
	case err != nil && strings.Contains(err.Error(), "failed state"):
		state = "stopped (it failed: see " + c.manager().logHint(c) + ")"
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
	ok, err := c.manager().installed(c)
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
	kind := c.manager().kind(c.mode)
	if kind == "" {
		kind = c.mode.String() + " service"
	}
	return fmt.Sprintf("%s (%s)", ServiceName, kind)
}

// explain adds what to do next to an error of the service manager.
func (c *controller) explain(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrPermission) {
		if !c.manager().needsRoot() {
			return fmt.Errorf("%v: run it from an Administrator prompt", err)
		}
		return fmt.Errorf("%v: permission denied (a system service needs root)", err)
	}
	return fmt.Errorf("%v (see %s)", err, c.manager().logHint(c))
}
