package svc

import (
	"errors"
	"fmt"
	"os"

	"github.com/kardianos/service"
)

// platform is what one service manager does differently: systemd
// (platform_systemd.go), launchd (platform_launchd.go) and the Windows
// service control manager (platform_windows_scm.go). The files carry no
// GOOS suffix, so that every OS's plan renders and is tested on any OS;
// platformFor picks one by name.
type platform interface {
	// configure fills in the OS's part of the service library's
	// configuration and sets c.home and c.defPath.
	configure(c *controller, cfg *service.Config) error
	// checkLibrary fails with noManager when the service library would
	// drive a manager other than this platform's.
	checkLibrary() error
	// noManager is the error when there is no service manager to talk to.
	noManager() error
	// needsRoot reports whether a system service is installed as root
	// (through sudo) rather than from an Administrator prompt.
	needsRoot() bool
	// ready makes sure the manager of c's mode answers before any action.
	ready(c *controller) error
	// installed reports whether a service definition exists for c's mode.
	installed(c *controller) (bool, error)
	// prepareInstall refuses an install that cannot work, and creates what
	// the manager needs but does not create itself.
	prepareInstall(c *controller) error
	// installPackaged enables the definition a package installed, if any;
	// done reports that it did and install has nothing left to do.
	installPackaged(c *controller) (done bool, err error)
	// rollbackInstall removes whatever a failed install left behind.
	rollbackInstall(c *controller)
	// installedLine says what install did; installHints what to do next.
	installedLine(c *controller) string
	installHints(c *controller, start string)
	// uninstallPackaged disables a definition a package owns, if that is
	// all there is; done reports that it did.
	uninstallPackaged(c *controller) (done bool, err error)
	// stopsBeforeUninstall reports whether uninstall stops a running
	// service first (launchd's unload stops the job itself).
	stopsBeforeUninstall() bool
	// removedLine is what uninstall says once the definition is gone.
	removedLine(c *controller) string
	// kind names the service's kind for mode in messages.
	kind(mode Mode) string
	// logHint says where the service's own messages are.
	logHint(c *controller) string
}

// platformFor returns the platform of the OS named goos (a GOOS value).
func platformFor(goos string) platform {
	switch goos {
	case "linux":
		return systemdPlatform{}
	case "darwin":
		return launchdPlatform{}
	case "windows":
		return scmPlatform{}
	default:
		return otherPlatform{}
	}
}

// posix holds the rules shared by the Unix service managers.
type posix struct{}

func (posix) checkLibrary() error { return nil }

func (posix) noManager() error {
	return errors.New("no service manager found: run `entra-helperd` in the foreground or under your own supervisor")
}

func (posix) needsRoot() bool                  { return true }
func (posix) ready(*controller) error          { return nil }
func (posix) stopsBeforeUninstall() bool       { return true }
func (posix) prepareInstall(*controller) error { return nil }

func (posix) installPackaged(*controller) (bool, error)   { return false, nil }
func (posix) uninstallPackaged(*controller) (bool, error) { return false, nil }

// installed is whether the definition file exists.
func (posix) installed(c *controller) (bool, error) { return fileExists(c.defPath), nil }

func (posix) rollbackInstall(c *controller) { _ = os.Remove(c.defPath) }

func (posix) installedLine(c *controller) string { return fmt.Sprintf("Installed %s.", c.defPath) }

func (posix) removedLine(c *controller) string { return fmt.Sprintf("Removed %s.", c.defPath) }

// otherPlatform is an OS this package has no rules for: whatever the
// service library does there, with the Unix rules for privileges.
type otherPlatform struct{ posix }

func (otherPlatform) configure(*controller, *service.Config) error { return nil }
func (otherPlatform) installHints(*controller, string)             {}
func (otherPlatform) kind(mode Mode) string                        { return mode.String() + " service" }
func (otherPlatform) logHint(*controller) string                   { return "the Application event log" }

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
