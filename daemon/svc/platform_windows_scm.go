package svc

import (
	"errors"
	"fmt"
	"os"

	"github.com/kardianos/service"
)

// scmPlatform is the Windows service control manager: one Windows service,
// installed from an Administrator prompt; Windows has no per-user services.
type scmPlatform struct{}

func (scmPlatform) configure(c *controller, cfg *service.Config) error {
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
	return nil
}

func (scmPlatform) checkLibrary() error { return nil }

func (scmPlatform) noManager() error { return posix{}.noManager() }

// needsRoot is false: the service control manager itself refuses a caller
// without Administrator rights.
func (scmPlatform) needsRoot() bool            { return false }
func (scmPlatform) ready(*controller) error    { return nil }
func (scmPlatform) stopsBeforeUninstall() bool { return true }

// installed asks the service control manager.
func (scmPlatform) installed(c *controller) (bool, error) {
	_, err := c.svc.Status()
	if errors.Is(err, service.ErrNotInstalled) {
		return false, nil
	}
	return err == nil, c.explain(err)
}

// prepareInstall refuses to install over an existing service.
func (p scmPlatform) prepareInstall(c *controller) error {
	if ok, err := p.installed(c); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("already installed as the Windows service %s: use `entra-helperd service restart`, or uninstall it first", ServiceName)
	}
	return nil
}

func (scmPlatform) installPackaged(*controller) (bool, error)   { return false, nil }
func (scmPlatform) uninstallPackaged(*controller) (bool, error) { return false, nil }

func (p scmPlatform) rollbackInstall(c *controller) {
	if ok, _ := p.installed(c); ok {
		_ = c.svc.Uninstall()
	}
}

func (scmPlatform) installedLine(c *controller) string {
	return fmt.Sprintf("Installed the Windows service %s for %s (starts at boot, restarted on failure).", ServiceName, c.exe)
}

func (scmPlatform) installHints(c *controller, start string) {
	fmt.Fprintf(c.out, "Start it now with `%s`. Logs: the Application event log, source %s.\n", start, ServiceName)
}

func (scmPlatform) removedLine(*controller) string {
	return fmt.Sprintf("Removed the Windows service %s.", ServiceName)
}

func (scmPlatform) kind(Mode) string { return "Windows service" }

func (scmPlatform) logHint(*controller) string { return "the Application event log" }
