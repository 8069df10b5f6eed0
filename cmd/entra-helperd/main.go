// Command entra-helperd is entra-helper's daemon: it keeps Entra ID tokens
// fresh and hands them to the entra-helper client over a local socket. It
// also installs and controls itself as a service (`entra-helperd service`).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/entra-helper/entra-helper/daemon"
	"github.com/entra-helper/entra-helper/daemon/svc"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage:
  entra-helperd [run] [--system]   run the daemon in the foreground (logs to stderr);
                                   --system: the system service (system socket, other
                                   users per profile's allowed_users/allowed_groups)
  entra-helperd service <install|uninstall|start|stop|restart|status> [--user | --system]
                                   manage the per-user (default) or system service
  entra-helperd version

Environment: ENTRA_HELPER_CONFIG (config file), ENTRA_HELPER_SOCKET (socket path),
SSL_CERT_FILE, HTTPS_PROXY, NO_PROXY, BROWSER.
SIGHUP reloads the config; SIGINT and SIGTERM stop the daemon.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && args[0] != "--system" {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		system := len(args) == 1 && args[0] == "--system"
		if len(args) > 0 && !system {
			fmt.Fprintf(stderr, "entra-helperd run takes only --system\n%s", usage)
			return 2
		}
		err := svc.Run(func(ctx context.Context) error {
			return daemon.Run(ctx, daemon.Options{Version: version, Stderr: stderr, System: system})
		})
		if err != nil {
			fmt.Fprintf(stderr, "entra-helperd: %v\n", err)
			if errors.Is(err, context.Canceled) {
				return 0
			}
			return 1
		}
		return 0
	case "service":
		return svc.Command(args, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "entra-helperd %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "entra-helperd: unknown command %q\n%s", cmd, usage)
		return 2
	}
}
