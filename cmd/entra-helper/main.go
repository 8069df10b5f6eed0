// Command entra-helper is the client of entra-helperd, the local credential
// helper for Microsoft Entra ID. It asks the daemon for access tokens over a
// local socket and prints them in the formats scripts and tools expect
// (bare token, JSON, Azure CLI JSON, Kubernetes ExecCredential, HTTP
// headers), signs profiles in, shows the daemon's state, writes Databricks
// and git configuration and decodes tokens. As git's credential helper
// (`entra-helper credential get`) it gives git Azure Repos tokens. Invoked as
// `az`, it answers the Azure CLI commands other tools shell out to.
//
// It links only the standard library, golang.org/x/sys and the ipc package,
// and does no work at start-up, so it answers about as fast as a hello-world
// program.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
)

// version is set at link time: -ldflags "-X main.version=1.2.3".
var version = ""

// Exit codes of every command.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitNeedsLogin  = 3
	exitNoDaemon    = 4
	exitUnavailable = 5
)

// Environment variables the client reads.
const (
	envProfile     = "ENTRA_HELPER_PROFILE"
	envNoAutostart = "ENTRA_HELPER_NO_AUTOSTART"
)

// databricksScope is the Azure Databricks scope, the same in every cloud.
const databricksScope = entra.DatabricksResource + "/.default"

// exitError is an error with the process exit code it stands for. Its
// message is one sentence for the user and never holds a token or secret.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageError(msg string) error { return &exitError{code: exitUsage, msg: msg} }

func failf(format string, a ...any) error {
	return &exitError{code: exitFailed, msg: fmt.Sprintf(format, a...)}
}

// caller sends one request to the daemon; events are passed to onEvent.
type caller func(ctx context.Context, req *ipc.Request, onEvent func(*ipc.Event)) (*ipc.Response, error)

// app is one run of the client: its streams, environment and clock, all
// replaceable in tests.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	loc            *time.Location
	call           caller // nil: the daemon over ipc, with autostart
	// checks replaces `entra-helperd check` in tests; nil: run it.
	checks         func(ctx context.Context, args ...string) ([]ipc.Check, error)
	stdinIsTerm    func() bool
	readSecretTerm func(prompt string) (string, error)
	azMode         bool
	noAutostart    bool   // never start a daemon for this run (git's erase)
	argv0          string // the program as invoked, for the helper line git configure writes
	profile        string // from -p before the command, or ENTRA_HELPER_PROFILE
}

func main() {
	a := &app{
		stdin:          os.Stdin,
		stdout:         os.Stdout,
		stderr:         os.Stderr,
		getenv:         os.Getenv,
		now:            time.Now,
		loc:            time.Local,
		stdinIsTerm:    func() bool { return isTerminal(os.Stdin) },
		readSecretTerm: func(prompt string) (string, error) { return readSecretTerminal(os.Stdin, os.Stderr, prompt) },
	}
	os.Exit(a.main(os.Args))
}

// main runs the command line argv and returns the exit code.
func (a *app) main(argv []string) int {
	name := "entra-helper"
	if len(argv) > 0 {
		a.argv0 = argv[0]
		name = filepath.Base(argv[0])
	}
	var err error
	if n := strings.ToLower(name); n == "az" || n == "az.exe" {
		a.azMode = true
		err = a.runAz(argv[1:])
	} else {
		err = a.run(argv[1:])
	}
	return a.report(err)
}

// report prints err (if any) as one line on stderr and returns its exit code.
func (a *app) report(err error) int {
	if err == nil {
		return exitOK
	}
	prefix := "entra-helper: "
	if a.azMode {
		prefix = "ERROR: "
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(a.stderr, prefix+ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(a.stderr, prefix+err.Error())
	return exitFailed
}

// command is one subcommand of entra-helper.
type command struct {
	name  string
	short string
	usage string
	run   func(a *app, args []string) error
}

// commands lists the subcommands. A function rather than a package variable:
// the help command refers back to the list, and nothing runs at start-up.
func commands() []*command {
	return []*command{
		{"token", "print an access token", tokenUsage, (*app).cmdToken},
		{"login", "sign a profile in through the daemon", loginUsage, (*app).cmdLogin},
		{"logout", "forget a profile's tokens and stored secrets", logoutUsage, (*app).cmdLogout},
		{"status", "show the daemon's state", statusUsage, (*app).cmdStatus},
		{"headers", "print Azure Databricks request headers", headersUsage, (*app).cmdHeaders},
		{"databricks", "configure the Databricks CLI and SDKs", databricksUsage, (*app).cmdDatabricks},
		{"azure", "configure the Azure SDKs and Terraform", azureUsage, (*app).cmdAzure},
		{"credential", "git's credential helper (get, store, erase)", credentialUsage, (*app).cmdCredential},
		{"git", "make git use entra-helper for a URL", gitUsage, (*app).cmdGit},
		{"inspect", "decode a token's header and claims", inspectUsage, (*app).cmdInspect},
		{"doctor", "check the setup and say what to fix", doctorUsage, (*app).cmdDoctor},
		{"setup", "create or update a profile, pick a store and sign in", setupUsage, (*app).cmdSetup},
		{"version", "print the client's version", versionUsage, (*app).cmdVersion},
		{"help", "show help for a command", helpUsage, (*app).cmdHelp},
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run dispatches the arguments after the program name.
func (a *app) run(args []string) error {
	// Global options before the command: -p/--profile, -h/--help, --version.
	fs := newFlagSet("")
	fs.stopAtArg = true
	profile := fs.String("p", "profile", a.getenv(envProfile))
	version := fs.Bool("", "version")
	if err := fs.parse(args); errors.Is(err, errHelp) {
		fmt.Fprint(a.stdout, mainUsage())
		return nil
	} else if err != nil {
		return err
	}
	if *version {
		return a.cmdVersion(nil)
	}
	a.profile, args = *profile, fs.args
	if len(args) == 0 {
		fmt.Fprint(a.stderr, mainUsage())
		return &exitError{code: exitUsage}
	}
	c := findCommand(args[0])
	if c == nil {
		return usageError(fmt.Sprintf("unknown command %q; see `entra-helper --help`", args[0]))
	}
	err := c.run(a, args[1:])
	if errors.Is(err, errHelp) {
		fmt.Fprint(a.stdout, c.usage)
		return nil
	}
	return err
}

// profileFlag defines -p/--profile on fs, defaulting to the global choice.
func (a *app) profileFlag(fs *flagSet) *string {
	return fs.String("p", "profile", a.profile)
}

// profileName is the name to show for profile p in messages.
func profileName(p string) string {
	if p == "" {
		return "the default profile"
	}
	return "profile " + p
}

// loginHint is the command that signs profile p in.
func loginHint(p string) string {
	if p == "" {
		return "entra-helper login"
	}
	return "entra-helper login -p " + shellQuote(p)
}

func mainUsage() string {
	var b strings.Builder
	b.WriteString(`entra-helper: access tokens for Microsoft Entra ID from the entra-helperd daemon.

Usage:
  entra-helper [-p PROFILE] COMMAND [OPTIONS]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.short)
	}
	b.WriteString(`
Options:
  -p, --profile NAME   the profile (default: $ENTRA_HELPER_PROFILE, else the
                       config's default profile)
  -h, --help           this help; ` + "`entra-helper COMMAND --help`" + ` for a command's

Environment:
  ENTRA_HELPER_PROFILE        profile used when -p is not given
  ENTRA_HELPER_SOCKET         the daemon's socket path (pipe name on Windows)
  ENTRA_HELPER_NO_AUTOSTART   1: never start entra-helperd when none answers

Exit codes: 0 success, 1 failure, 2 usage error, 3 the profile needs a sign-in
(entra-helper login), 4 no daemon could be reached or started, 5 the identity
provider is unreachable and no valid token is cached.

Invoked as "az" (a symlink), it answers ` + "`az account get-access-token`" + `,
` + "`az account show`" + ` and ` + "`az version`" + ` for tools that shell out to the Azure CLI.
`)
	return b.String()
}

const helpUsage = `Usage: entra-helper help [COMMAND]

Shows the help of COMMAND, or the list of commands.
`

func (a *app) cmdHelp(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.stdout, mainUsage())
		return nil
	}
	c := findCommand(args[0])
	if c == nil {
		return usageError(fmt.Sprintf("unknown command %q; see `entra-helper --help`", args[0]))
	}
	fmt.Fprint(a.stdout, c.usage)
	return nil
}
