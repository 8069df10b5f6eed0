package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
)

const doctorUsage = `Usage: entra-helper doctor [-p PROFILE] [--fix [--yes]]

Checks the setup and prints one line per check, ok, warn or FAIL, with what
to do about anything that is not ok:
  socket    the daemon's socket: its path, the directory's owner and mode
  daemon    whether entra-helperd answers, and its version against the client's
  config    the config file: found, and valid as it is on disk now
  store     the secret store: the keyring's Secret Service on the session
            bus, or the file store's key file (present, mode 0600)
  clock     this machine's clock against each Entra ID authority (Date header)
  proxy     HTTPS_PROXY and NO_PROXY: the metadata endpoint is on 127.0.0.1
  profile   each profile's state (only PROFILE's with -p)
It never starts a daemon (without --fix). Exit code 0 when nothing FAILs, 1 otherwise.

With --fix, it then sets up what can be set up safely, after saying what it
will write: with no config file, it runs entra-helper setup; when the
keychain cannot be used (no session bus, no Secret Service, locked), it
switches to the encrypted file store with a fresh 0600 key file.

Options:
  -p, --profile NAME   check only this profile
      --fix            set up what the failed checks need, after saying what
  -y, --yes            with --fix: do not ask for confirmation
`

// doctorTimeout bounds the whole doctor run; the daemon bounds each of its
// probes (store, authority) to a few seconds.
const doctorTimeout = 30 * time.Second

// doctor collects and prints checks.
type doctor struct {
	w       io.Writer
	fails   int
	actions []string // the ipc.Action* of failed checks, in order
}

func (d *doctor) add(c ipc.Check) {
	label := c.Level
	switch c.Level {
	case ipc.CheckFail:
		label = "FAIL"
		d.fails++
		if c.Action != "" {
			d.actions = append(d.actions, c.Action)
		}
	case ipc.CheckOK, ipc.CheckWarn:
	default:
		label = "warn"
	}
	line := fmt.Sprintf("%-4s  %-9s %s", label, c.Name, oneLine(c.Message))
	if c.Fix != "" && c.Level != ipc.CheckOK {
		line += "; fix: " + oneLine(c.Fix)
	}
	fmt.Fprintln(d.w, line)
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (a *app) cmdDoctor(args []string) error {
	fs := newFlagSet("doctor")
	profile := a.profileFlag(fs)
	fix := fs.Bool("", "fix")
	yes := fs.Bool("y", "yes")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q", fs.args[0])
	}
	d := &doctor{w: a.stdout}
	err := a.doctorChecks(d, profile)
	if !*fix || len(d.actions) == 0 {
		if *fix && err != nil {
			fmt.Fprintln(a.stdout, "doctor --fix: nothing above is safe to set up automatically; follow each fix.")
		}
		return err
	}
	fmt.Fprintln(a.stdout)
	switch d.actions[0] {
	case ipc.ActionSetup:
		var sargs []string
		if *profile != "" {
			sargs = append(sargs, "-p", *profile)
		}
		if *yes {
			sargs = append(sargs, "--yes")
		}
		return a.cmdSetup(sargs)
	case ipc.ActionFileStore:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return a.fixFileStore(ctx, *yes)
	}
	return err
}

// doctorChecks makes every check into d and returns d's result.
func (a *app) doctorChecks(d *doctor, profile *string) error {
	ctx, cancel := context.WithTimeout(context.Background(), doctorTimeout)
	defer cancel()

	path, err := a.socketPath()
	if err != nil {
		d.add(ipc.Check{Name: "socket", Level: ipc.CheckFail, Message: fmt.Sprintf("cannot find the daemon's socket: %v", err),
			Fix: "set " + ipc.SocketEnv})
		return d.result()
	}
	shared := false
	resp, err := a.doctorCall(ctx, path, &ipc.Request{Op: ipc.OpStatus})
	if errors.Is(err, ipc.ErrNoDaemon) && a.getenv(ipc.SocketEnv) == "" {
		// No per-user daemon: a system service may answer, as for token.
		if sys := ipc.SystemSocketPath(); sys != "" && sys != path {
			if sresp, serr := a.doctorCall(ctx, sys, &ipc.Request{Op: ipc.OpStatus}); serr == nil {
				path, shared, resp, err = sys, true, sresp, nil
			}
		}
	}
	d.add(checkSocket(path, shared))
	if err != nil || resp == nil || resp.Status == nil {
		d.add(daemonDown(path, err))
		// What would stop a daemon from starting, checked by the daemon's
		// own code without starting one.
		if checks, cerr := a.daemonChecks(ctx); cerr == nil {
			for _, c := range checks {
				d.add(c)
			}
		} else {
			d.add(a.configWithoutDaemon())
			d.add(ipc.Check{Name: "store", Level: ipc.CheckWarn, Message: "not checked: " + cerr.Error()})
		}
		d.add(ipc.Check{Name: "clock", Level: ipc.CheckWarn, Message: "not checked: it needs a running daemon"})
		d.add(proxyCheck(a.getenv))
		return d.result()
	}
	st := resp.Status
	d.add(ipc.Check{Name: "daemon", Level: ipc.CheckOK, Message: fmt.Sprintf("entra-helperd answers on %s (pid %d, up %s)",
		path, st.PID, humanDuration(time.Duration(st.Uptime*float64(time.Second))))})
	d.add(versionCheck(clientVersion(), st.Version))

	dresp, err := a.doctorCall(ctx, path, &ipc.Request{Op: ipc.OpDoctor, Profile: *profile})
	var ie *ipc.Error
	switch {
	case err == nil && dresp != nil:
		for _, c := range dresp.Checks {
			d.add(c)
		}
	case errors.As(err, &ie) && ie.Code == ipc.CodeUsage:
		// A daemon from before doctor: what status tells.
		d.add(ipc.Check{Name: "config", Level: ipc.CheckOK, Message: st.Config + " (loaded by the daemon; this daemon cannot check it again)"})
		d.add(ipc.Check{Name: "store", Level: ipc.CheckWarn, Message: st.Store + ": not checked: this daemon is too old for doctor's checks",
			Fix: "restart entra-helperd after upgrading it"})
	default:
		d.add(ipc.Check{Name: "checks", Level: ipc.CheckFail, Message: fmt.Sprintf("the daemon's own checks failed: %v", err),
			Fix: "see the daemon's log"})
	}
	d.add(proxyCheck(a.getenv))
	for _, c := range profileChecks(st, *profile) {
		d.add(c)
	}
	return d.result()
}

// result is the command's outcome: nil when nothing failed.
func (d *doctor) result() error {
	if d.fails == 0 {
		return nil
	}
	checks := "check"
	if d.fails > 1 {
		checks = "checks"
	}
	return &exitError{code: exitFailed, msg: fmt.Sprintf("%d %s failed; fix them as shown above, then run `entra-helper doctor` again", d.fails, checks)}
}

// socketPath is $ENTRA_HELPER_SOCKET, else the per-user default.
func (a *app) socketPath() (string, error) {
	if p := a.getenv(ipc.SocketEnv); p != "" {
		return p, nil
	}
	return ipc.DefaultSocketPath()
}

// doctorCall asks the daemon at path, never starting one.
func (a *app) doctorCall(ctx context.Context, path string, req *ipc.Request) (*ipc.Response, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if a.call != nil {
		return a.call(cctx, req, nil)
	}
	return ipc.Call(cctx, path, req, nil)
}

// daemonDown explains why no daemon answered on path.
func daemonDown(path string, err error) ipc.Check {
	c := ipc.Check{Name: "daemon", Level: ipc.CheckFail}
	switch {
	case errors.Is(err, ipc.ErrNoDaemon), err == nil:
		c.Message = "no entra-helperd answers on " + path
		c.Fix = "run `entra-helperd` in the foreground to see why it does not start (config errors name the file, line and key), then `entra-helperd service install` or let the client start it"
	case errors.Is(err, ipc.ErrNotOwner):
		c.Message = oneLine(strings.TrimPrefix(err.Error(), "ipc: "))
		c.Fix = "set " + ipc.SocketEnv + " to your own daemon's socket"
	default:
		var ie *ipc.Error
		if errors.As(err, &ie) {
			c.Message = fmt.Sprintf("entra-helperd on %s refused: %s", path, ie.Message)
		} else {
			c.Message = fmt.Sprintf("entra-helperd on %s does not answer: %v", path, err)
		}
		c.Fix = "see the daemon's log; restart it with `entra-helperd service restart` or by hand"
	}
	return c
}

// configWithoutDaemon checks what the client can see of the config file
// without the daemon: that it is there.
func (a *app) configWithoutDaemon() ipc.Check {
	path, err := a.configPath()
	if err != nil {
		return ipc.Check{Name: "config", Level: ipc.CheckWarn, Message: err.Error()}
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ipc.Check{Name: "config", Level: ipc.CheckFail, Message: "no config file at " + path,
			Fix: "create it with a [profiles.NAME] table (see the configuration guide), or set ENTRA_HELPER_CONFIG"}
	case err != nil:
		return ipc.Check{Name: "config", Level: ipc.CheckFail, Message: fmt.Sprintf("cannot read %s: %v", path, err)}
	case fi.IsDir():
		return ipc.Check{Name: "config", Level: ipc.CheckFail, Message: path + " is a directory", Fix: "point ENTRA_HELPER_CONFIG at the file"}
	}
	return ipc.Check{Name: "config", Level: ipc.CheckWarn, Message: path + " exists; only the daemon can validate it",
		Fix: "run `entra-helperd` in the foreground: it reports config errors with the file, line and key"}
}

// versionCheck compares the client's version with the daemon's.
func versionCheck(client, daemon string) ipc.Check {
	c := ipc.Check{Name: "version"}
	switch {
	case daemon == "":
		c.Level, c.Message = ipc.CheckWarn, "the daemon does not report its version; client "+client
		c.Fix = "restart entra-helperd from the same release as entra-helper"
	case daemon != client:
		c.Level, c.Message = ipc.CheckWarn, fmt.Sprintf("client %s, daemon %s", client, daemon)
		c.Fix = "restart entra-helperd after an upgrade so both run the same release"
	default:
		c.Level, c.Message = ipc.CheckOK, "client and daemon both "+client
	}
	return c
}

// proxyCheck shows the proxy settings tools started from this shell see,
// and warns when a proxy would catch requests to the loopback metadata
// endpoint: Go never proxies loopback, but curl and Python's requests (the
// Databricks Python SDK) do unless NO_PROXY names it.
func proxyCheck(getenv func(string) string) ipc.Check {
	env := func(names ...string) (string, string) {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return n, v
			}
		}
		return names[0], ""
	}
	httpsName, httpsProxy := env("HTTPS_PROXY", "https_proxy")
	httpName, httpProxy := env("HTTP_PROXY", "http_proxy")
	allName, allProxy := env("ALL_PROXY", "all_proxy")
	noName, noProxy := env("NO_PROXY", "no_proxy")
	if httpsProxy == "" && httpProxy == "" && allProxy == "" {
		msg := "no proxy (HTTPS_PROXY, HTTP_PROXY and ALL_PROXY unset)"
		if noProxy != "" {
			msg += "; " + noName + "=" + noProxy
		}
		return ipc.Check{Name: "proxy", Level: ipc.CheckOK, Message: msg}
	}
	var parts []string
	for _, p := range [][2]string{{httpsName, httpsProxy}, {httpName, httpProxy}, {allName, allProxy}} {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+redactProxy(p[1]))
		}
	}
	parts = append(parts, noName+"="+orDefault(noProxy, "(unset)"))
	msg := strings.Join(parts, ", ")
	var missing []string
	for _, h := range []string{"127.0.0.1", "localhost"} {
		if !noProxyCovers(noProxy, h) {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return ipc.Check{Name: "proxy", Level: ipc.CheckWarn,
			Message: msg + ": " + noName + " does not name " + strings.Join(missing, " or ") +
				", so curl and Python SDKs may send the metadata endpoint's requests (http://127.0.0.1) to the proxy",
			Fix: "add " + strings.Join(missing, ",") + " to " + noName}
	}
	return ipc.Check{Name: "proxy", Level: ipc.CheckOK, Message: msg}
}

// redactProxy hides the password of a proxy URL (user:password@host).
func redactProxy(u string) string {
	rest := u
	scheme := ""
	if i := strings.Index(u, "://"); i >= 0 {
		scheme, rest = u[:i+3], u[i+3:]
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	at := strings.LastIndex(host, "@")
	if at < 0 {
		return u
	}
	user, _, hasPass := strings.Cut(host[:at], ":")
	if !hasPass {
		return u
	}
	return scheme + user + ":***" + rest[at:]
}

// noProxyCovers reports whether NO_PROXY (comma- or space-separated hosts,
// domains, IPs, CIDRs, "*") exempts host.
func noProxyCovers(noProxy, host string) bool {
	ip := net.ParseIP(host)
	for _, e := range strings.FieldsFunc(noProxy, func(r rune) bool { return r == ',' || r == ' ' }) {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "*" {
			return true
		}
		if ip != nil {
			if _, n, err := net.ParseCIDR(e); err == nil && n.Contains(ip) {
				return true
			}
		}
		if h, _, err := net.SplitHostPort(e); err == nil {
			e = h
		}
		if e == host || strings.TrimPrefix(e, ".") == host {
			return true
		}
	}
	return false
}

// profileChecks turns the daemon's profile states into checks: only
// profile's when it is named.
func profileChecks(st *ipc.Status, profile string) []ipc.Check {
	if len(st.Profiles) == 0 {
		return []ipc.Check{{Name: "profile", Level: ipc.CheckWarn, Message: "no profiles configured",
			Fix: "add a [profiles.NAME] table to " + orDefault(st.Config, "the config file")}}
	}
	var checks []ipc.Check
	found := false
	for _, p := range st.Profiles {
		if profile != "" && p.Name != profile {
			continue
		}
		found = true
		where := p.Flow
		if cl := entra.CloudByName(p.Cloud); cl != nil && p.Cloud != "" {
			where += ", " + cl.CLIName
		}
		if p.Tenant != "" || p.TenantSource != "" {
			where += ", tenant " + describeTenant(p.Tenant, p.TenantSource)
		}
		c := ipc.Check{Name: "profile", Message: fmt.Sprintf("%s (%s): %s", p.Name, where, p.State)}
		if p.Account != "" {
			c.Message += ", signed in as " + p.Account
		}
		switch p.State {
		case ipc.StateReady:
			c.Level = ipc.CheckOK
		case ipc.StateNeedsLogin:
			// Named, it is the one the user wants to work: a failure.
			c.Level = ipc.CheckWarn
			if profile != "" {
				c.Level = ipc.CheckFail
			}
			c.Fix = "run `" + loginHint(p.Name) + "`"
		default:
			c.Level = ipc.CheckFail
			if p.LastError != "" {
				c.Message += ": " + p.LastError
			}
			c.Fix = "see `entra-helper status` and the daemon's log"
		}
		checks = append(checks, c)
	}
	if !found {
		checks = append(checks, ipc.Check{Name: "profile", Level: ipc.CheckFail,
			Message: fmt.Sprintf("profile %q is not in %s", profile, orDefault(st.Config, "the config file")),
			Fix:     fmt.Sprintf("add [profiles.%s] there and reload the daemon, or pick one of: %s", profile, profileNames(st))})
	}
	return checks
}

func profileNames(st *ipc.Status) string {
	names := make([]string, 0, len(st.Profiles))
	for _, p := range st.Profiles {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}
