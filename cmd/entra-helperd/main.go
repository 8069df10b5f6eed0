// Command entra-helperd is entra-helper's daemon: it keeps Entra ID tokens
// fresh and hands them to the entra-helper client over a local socket. It
// also installs and controls itself as a service (`entra-helperd service`).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/entra-helper/entra-helper/daemon"
	"github.com/entra-helper/entra-helper/daemon/svc"
	"github.com/entra-helper/entra-helper/ipc"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage:
  entra-helperd [run] [--system]   run the daemon in the foreground (logs to stderr);
                                   --system: the system service (system socket, other
                                   users per profile's allowed_users/allowed_groups)
  entra-helperd service <install|uninstall|start|stop|restart|status> [--user | --system]
                                   manage the per-user (default) or system service
  entra-helperd check [--config FILE] [--store keyring|file] [--json]
                                   check, without starting, what the daemon would fail
                                   on at start: the config file and the store (exit 1 on
                                   a failure); entra-helper doctor and setup use it
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
		n := openNotify()
		err := svc.Run(func(ctx context.Context) error {
			return daemon.Run(ctx, daemon.Options{Version: version, Stderr: stderr, System: system, Ready: n.ready})
		})
		switch {
		case errors.Is(err, context.Canceled):
			// Stopped by a signal or the service manager: a clean exit.
			n.failed(errors.New("entra-helperd was stopped before it was ready"))
			return 0
		case err != nil:
			n.failed(err)
			fmt.Fprintf(stderr, "entra-helperd: %v\n", err)
			return 1
		}
		return 0
	case "service":
		return svc.Command(args, stdout, stderr)
	case "check":
		return check(args, stdout, stderr)
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

// notifier is the pipe a client that started this daemon waits on (see
// ipc.NotifyFDEnv): one line, "ready" or the reason it cannot start.
type notifier struct {
	once sync.Once
	f    *os.File // nil: nobody waits
}

// openNotify takes the pipe named by ipc.NotifyFDEnv, and removes the
// variable so that no child (a browser) inherits the name of a descriptor
// it does not have.
func openNotify() *notifier {
	v := os.Getenv(ipc.NotifyFDEnv)
	os.Unsetenv(ipc.NotifyFDEnv)
	n, err := strconv.ParseUint(v, 10, 64)
	if v == "" || err != nil || n < 3 && os.PathSeparator == '/' {
		return &notifier{}
	}
	keepFromChildren(uintptr(n))
	return &notifier{f: os.NewFile(uintptr(n), "notify")}
}

func (n *notifier) send(line string) {
	n.once.Do(func() {
		if n.f == nil {
			return
		}
		_, _ = n.f.WriteString(line + "\n")
		_ = n.f.Close()
	})
}

func (n *notifier) ready() { n.send(ipc.NotifyReady) }

// failed sends the reason the daemon stops, on one line.
func (n *notifier) failed(err error) {
	n.send(ipc.NotifyError + strings.Join(strings.Fields(err.Error()), " "))
}

// check runs daemon.Check and prints its checks, one per line or as JSON
// ({"checks": [...]}, the ipc.Check fields).
func check(args []string, stdout, stderr io.Writer) int {
	var configPath, storeKind string
	asJSON := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--json":
			asJSON = true
		case (a == "--config" || a == "--store") && i+1 < len(args):
			if a == "--config" {
				configPath = args[i+1]
			} else {
				storeKind = args[i+1]
			}
			i++
		default:
			fmt.Fprintf(stderr, "entra-helperd check: unexpected argument %q\n%s", a, usage)
			return 2
		}
	}
	checks := daemon.Check(context.Background(), configPath, storeKind)
	failed := false
	for _, c := range checks {
		failed = failed || c.Level == ipc.CheckFail
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(struct {
			Checks []ipc.Check `json:"checks"`
		}{checks})
	} else {
		for _, c := range checks {
			line := fmt.Sprintf("%-4s  %-9s %s", c.Level, c.Name, c.Message)
			if c.Fix != "" && c.Level != ipc.CheckOK {
				line += "; fix: " + c.Fix
			}
			fmt.Fprintln(stdout, line)
		}
	}
	if failed {
		return 1
	}
	return 0
}
