package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/ipc"
)

// maxSecret bounds what is read from stdin for a secret (a PEM with a
// certificate chain and key fits easily; the wire limit is 64 KiB).
const maxSecret = 48 << 10

const loginUsage = `Usage: entra-helper login [-p PROFILE] [--secret-stdin | --password-stdin |
                          --refresh-token-stdin | --certificate-stdin] [--no-browser]

Signs the profile in through entra-helperd, which keeps what it must (secret,
refresh token, certificate key) in the OS keychain or its encrypted store.
Secrets are read from stdin, or from a prompt without echo when stdin is a
terminal; never from the command line.

Options:
  -p, --profile NAME        the profile (default: $ENTRA_HELPER_PROFILE, else the default profile)
      --secret-stdin        client-secret flow: read the client secret (its value, not its ID)
      --password-stdin      username-password flow: read the user's password. Microsoft has
                            deprecated this flow (ROPC): it fails with MFA and federated
                            accounts; prefer browser or device-code
      --refresh-token-stdin refresh-token flow: read a refresh token to start from
      --certificate-stdin   client-certificate flow: read a PEM with the certificate chain and
                            its private key (pipe the file: < app.pem)
      --no-browser          browser flow: do not open a browser, only print the sign-in URL

Browser flow: the daemon opens the sign-in page ($BROWSER honoured) and the URL is
printed too. Device-code flow: Entra's message with the code is printed at once.

Examples:
  entra-helper login -p sp --secret-stdin < secret.txt
  printf %s "$SECRET" | entra-helper login -p sp --secret-stdin
  entra-helper login -p me
`

const logoutUsage = `Usage: entra-helper logout [-p PROFILE]

Forgets the profile's access tokens and its stored secrets and refresh tokens.
The next use needs ` + "`entra-helper login`" + ` again.
`

// secretKind is one of login's stdin options.
type secretKind struct {
	flag   string
	prompt string
	set    func(l *ipc.LoginRequest, v string)
}

var secretKinds = [...]secretKind{
	{"secret-stdin", "Client secret", func(l *ipc.LoginRequest, v string) { l.ClientSecret = v }},
	{"password-stdin", "Password", func(l *ipc.LoginRequest, v string) { l.Password = v }},
	{"refresh-token-stdin", "Refresh token", func(l *ipc.LoginRequest, v string) { l.RefreshToken = v }},
	{"certificate-stdin", "", func(l *ipc.LoginRequest, v string) { l.Certificate = v }},
}

func (a *app) cmdLogin(args []string) error {
	fs := newFlagSet("login")
	profile := a.profileFlag(fs)
	for _, k := range secretKinds {
		fs.Bool("", k.flag)
	}
	noBrowser := fs.Bool("", "no-browser")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q (secrets are read from stdin, never from the command line)", fs.args[0])
	}
	var chosen *secretKind
	for i := range secretKinds {
		if fs.isSet(secretKinds[i].flag) {
			if chosen != nil {
				return fs.usagef("--%s and --%s both read stdin; give one", chosen.flag, secretKinds[i].flag)
			}
			chosen = &secretKinds[i]
		}
	}
	lr := &ipc.LoginRequest{NoBrowser: *noBrowser}
	if chosen != nil {
		v, err := a.readSecret(*chosen, *profile)
		if err != nil {
			return err
		}
		chosen.set(lr, v)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	req := &ipc.Request{Op: ipc.OpLogin, Profile: *profile, Login: lr}
	resp, err := a.do(ctx, req, func(ev *ipc.Event) { a.printEvent(ev, *noBrowser) })
	if err != nil {
		return err
	}
	name := *profile
	if name == "" {
		name = "the default profile"
	}
	msg := "Signed in " + name
	if resp.Login != nil {
		if resp.Login.Account != "" {
			msg += " as " + resp.Login.Account
		}
		if resp.Login.Tenant != "" {
			msg += " (tenant " + resp.Login.Tenant + ")"
		}
	}
	fmt.Fprintln(a.stdout, msg+".")
	return nil
}

// printEvent shows a login event as soon as it arrives, on stderr so that
// stdout stays clean for scripts.
func (a *app) printEvent(ev *ipc.Event, noBrowser bool) {
	switch ev.Kind {
	case ipc.EventDeviceCode:
		fmt.Fprintln(a.stderr, ev.Message)
	case ipc.EventBrowserURL:
		if noBrowser {
			fmt.Fprintf(a.stderr, "Open this page in a browser to sign in:\n  %s\n", ev.URL)
		} else {
			fmt.Fprintf(a.stderr, "Opening the sign-in page in your browser. If it does not open, visit:\n  %s\n", ev.URL)
		}
	default:
		if ev.Message != "" {
			fmt.Fprintln(a.stderr, ev.Message)
		}
		if ev.URL != "" {
			fmt.Fprintln(a.stderr, "  "+ev.URL)
		}
	}
}

// readSecret reads the value of kind k: from a no-echo prompt when stdin is
// a terminal, else all of stdin.
func (a *app) readSecret(k secretKind, profile string) (string, error) {
	if a.stdinIsTerm != nil && a.stdinIsTerm() {
		if k.prompt == "" {
			return "", usageError(fmt.Sprintf("--%s reads a PEM file from stdin; pipe it: entra-helper login -p %s --%s < app.pem",
				k.flag, shellQuote(orDefault(profile, "PROFILE")), k.flag))
		}
		v, err := a.readSecretTerm(fmt.Sprintf("%s for %s: ", k.prompt, profileName(profile)))
		if err != nil {
			return "", failf("reading the %s for %s failed: %v", strings.ToLower(k.prompt), profileName(profile), err)
		}
		if v == "" {
			return "", usageError(fmt.Sprintf("no %s entered for %s", strings.ToLower(k.prompt), profileName(profile)))
		}
		return v, nil
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, maxSecret+1))
	if err != nil {
		return "", failf("reading stdin for --%s failed: %v", k.flag, err)
	}
	if len(b) > maxSecret {
		return "", usageError(fmt.Sprintf("stdin for --%s is larger than %d KiB", k.flag, maxSecret>>10))
	}
	v := string(b)
	if k.prompt != "" {
		// One value on one line: drop the line end a file or echo adds.
		v = strings.TrimRight(v, "\r\n")
		if strings.ContainsAny(v, "\r\n") {
			return "", usageError(fmt.Sprintf("stdin for --%s has more than one line; give only the value", k.flag))
		}
	}
	if strings.TrimSpace(v) == "" {
		return "", usageError(fmt.Sprintf("stdin for --%s is empty; pipe the value in", k.flag))
	}
	return v, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (a *app) cmdLogout(args []string) error {
	fs := newFlagSet("logout")
	profile := a.profileFlag(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q", fs.args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.do(ctx, &ipc.Request{Op: ipc.OpLogout, Profile: *profile}, nil); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Signed out %s: its tokens, stored secrets and refresh tokens are gone.\n", profileName(*profile))
	return nil
}
