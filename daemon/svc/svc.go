// Package svc installs, controls and runs entra-helperd as a service of the
// platform's service manager: a systemd user or system unit on Linux, a
// launchd LaunchAgent or LaunchDaemon on macOS, a Windows service. It builds on
// github.com/kardianos/service and hands it fully rendered unit files and
// property lists (see RenderSystemdUnit and RenderLaunchdPlist).
package svc

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
)

// Actions accepted by Command.
const (
	actInstall   = "install"
	actUninstall = "uninstall"
	actStart     = "start"
	actStop      = "stop"
	actRestart   = "restart"
	actStatus    = "status"
)

const usageText = `usage: entra-helperd service <install|uninstall|start|stop|restart|status> [--user | --system]

  install     write and enable the service definition (it is not started)
  uninstall   stop the service and remove its definition
  start       start the installed service
  stop        stop the service
  restart     stop and start the service
  status      print whether the service is running, stopped or not installed

  --user      a per-user service: systemd user unit, launchd LaunchAgent (default)
  --system    a system service: systemd system unit running as the entra-helper
              user, launchd LaunchDaemon, Windows service (the only kind on Windows)
`

// errUsage marks errors in the command line.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

// Command runs `entra-helperd service <install|uninstall|start|stop|restart|status> [--user|--system]`
// with args the words after "service" (a leading "service" is skipped), writes
// what it did to stdout and errors to stderr, and returns the exit code:
// 0 success, 1 failure, 2 usage error.
func Command(args []string, stdout, stderr io.Writer) int {
	action, mode, help, err := parseArgs(args, runtime.GOOS)
	if help {
		fmt.Fprint(stdout, usageText)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "entra-helperd service: %v\n\n%s", err, usageText)
		return 2
	}
	c, err := newController(mode, stdout)
	if err == nil {
		err = c.do(action)
	}
	if err != nil {
		var u errUsage
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "entra-helperd service %s: %v\n", action, err)
			return 2
		}
		fmt.Fprintf(stderr, "entra-helperd service %s: %v\n", action, err)
		return 1
	}
	return 0
}

// parseArgs reads the action and the mode; help reports -h/--help/help.
func parseArgs(args []string, goos string) (action string, mode Mode, help bool, err error) {
	if len(args) > 0 && args[0] == "service" {
		args = args[1:]
	}
	mode = User
	if goos == "windows" {
		mode = System
	}
	var sawUser, sawSystem bool
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			return "", mode, true, nil
		case "--user", "-user":
			sawUser = true
		case "--system", "-system":
			sawSystem = true
		case actInstall, actUninstall, actStart, actStop, actRestart, actStatus:
			if action != "" {
				return "", mode, false, errUsage{fmt.Sprintf("one action at a time (got %q and %q)", action, a)}
			}
			action = a
		default:
			if strings.HasPrefix(a, "-") {
				return "", mode, false, errUsage{fmt.Sprintf("unknown flag %q", a)}
			}
			return "", mode, false, errUsage{fmt.Sprintf("unknown action %q", a)}
		}
	}
	switch {
	case action == "":
		return "", mode, false, errUsage{"missing action"}
	case sawUser && sawSystem:
		return "", mode, false, errUsage{"--user and --system exclude each other"}
	case sawUser && goos == "windows":
		return "", mode, false, errUsage{"Windows has no per-user services: install the Windows service (--system, the default) from an Administrator prompt"}
	case sawSystem:
		mode = System
	case sawUser:
		mode = User
	}
	return action, mode, false, nil
}
