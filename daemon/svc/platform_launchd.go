package svc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"github.com/kardianos/service"
)

// launchdPlatform is macOS's launchd: a LaunchAgent per user, a LaunchDaemon
// for the system.
type launchdPlatform struct{ posix }

func (launchdPlatform) configure(c *controller, cfg *service.Config) error {
	home := darwinHome()
	if home == "" && c.mode == User {
		return errors.New("no home directory for the LaunchAgent: set HOME, or install with --system")
	}
	c.home = home
	cfg.Name = LaunchdLabel
	plist, err := RenderLaunchdPlist(c.mode, c.exe, home)
	if err != nil {
		return err
	}
	cfg.Option["LaunchdConfig"] = plist
	if c.mode == User {
		c.defPath = filepath.Join(home, "Library", "LaunchAgents", LaunchdLabel+".plist")
	} else {
		c.defPath = filepath.Join("/Library/LaunchDaemons", LaunchdLabel+".plist")
	}
	return nil
}

// darwinHome is the home directory as the service library finds it on macOS.
func darwinHome() string {
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return os.Getenv("HOME")
}

// prepareInstall creates the job's log directory (launchd does not).
func (launchdPlatform) prepareInstall(c *controller) error {
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

func (launchdPlatform) installHints(c *controller, start string) {
	fmt.Fprintf(c.out, "Start it now with `%s`; from then on launchd starts it at %s.\n", start, map[Mode]string{User: "login", System: "boot"}[c.mode])
	fmt.Fprintf(c.out, "Logs: %s\n", LaunchdLogFile(c.mode, c.home))
}

// stopsBeforeUninstall is false: unloading the job stops it.
func (launchdPlatform) stopsBeforeUninstall() bool { return false }

func (launchdPlatform) kind(mode Mode) string {
	return map[Mode]string{User: "LaunchAgent", System: "LaunchDaemon"}[mode]
}

func (launchdPlatform) logHint(c *controller) string { return LaunchdLogFile(c.mode, c.home) }
