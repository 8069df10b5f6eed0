package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/ipc"
)

// autostartWait is how long the client waits for a daemon it started.
const autostartWait = 5 * time.Second

// lostRaceWait is how long a client whose daemon exited at start waits for
// another one (started by a concurrent client) to answer before it reports
// why its own daemon exited.
const lostRaceWait = time.Second

// daemonName is the daemon's executable name.
func daemonName() string {
	if runtime.GOOS == "windows" {
		return "entra-helperd.exe"
	}
	return "entra-helperd"
}

// do sends req and returns the daemon's answer. Every error it returns is an
// *exitError whose message names the profile and what to do.
func (a *app) do(ctx context.Context, req *ipc.Request, onEvent func(*ipc.Event)) (*ipc.Response, error) {
	call := a.call
	if call == nil {
		call = a.callDaemon
	}
	resp, err := call(ctx, req, onEvent)
	if err != nil {
		return nil, a.callError(req.Profile, err)
	}
	if resp == nil {
		return nil, failf("entra-helperd sent no answer for %s; see its log", profileName(req.Profile))
	}
	if resp.Error != nil {
		return nil, a.callError(req.Profile, resp.Error)
	}
	return resp, nil
}

// callError turns an error of a daemon call into an *exitError.
func (a *app) callError(profile string, err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	var ie *ipc.Error
	if errors.As(err, &ie) {
		msg := strings.TrimSpace(ie.Message)
		if msg == "" {
			msg = fmt.Sprintf("entra-helperd refused the request for %s (%s); its log says why", profileName(profile), ie.Code)
		}
		if ie.Code == ipc.CodeNeedsLogin && !strings.Contains(msg, "entra-helper login") {
			msg = strings.TrimRight(msg, ".") + "; run `" + loginHint(profile) + "`."
		}
		return &exitError{code: ie.ExitCode(), msg: msg}
	}
	switch {
	case errors.Is(err, ipc.ErrNoDaemon):
		return &exitError{code: exitNoDaemon, msg: fmt.Sprintf(
			"no entra-helperd answers (%v); start it with `entra-helperd` or `entra-helperd service start`", err)}
	case errors.Is(err, ipc.ErrNotOwner):
		return &exitError{code: exitNoDaemon, msg: fmt.Sprintf(
			"%v: refusing to send requests there; set %s to your own daemon's socket", err, ipc.SocketEnv)}
	case errors.Is(err, context.DeadlineExceeded):
		return failf("entra-helperd did not answer in time for %s; see `entra-helper status` and the daemon's log", profileName(profile))
	case errors.Is(err, context.Canceled):
		return failf("interrupted while waiting for entra-helperd (%s)", profileName(profile))
	}
	return failf("talking to entra-helperd for %s failed (%v); check it with `entra-helper status`", profileName(profile), err)
}

// callDaemon is the real caller: the per-user socket, else the system
// service's socket, else a daemon it starts (unless autostart is off).
func (a *app) callDaemon(ctx context.Context, req *ipc.Request, onEvent func(*ipc.Event)) (*ipc.Response, error) {
	path, err := ipc.DefaultSocketPath()
	if err != nil {
		return nil, failf("cannot find the daemon's socket: %v; set %s", err, ipc.SocketEnv)
	}
	resp, err := ipc.Call(ctx, path, req, onEvent)
	if !errors.Is(err, ipc.ErrNoDaemon) {
		return resp, err
	}
	// No per-user daemon. A system service answers for everyone, unless the
	// user chose a socket explicitly.
	if a.getenv(ipc.SocketEnv) == "" {
		if sys := ipc.SystemSocketPath(); sys != "" && sys != path {
			resp, serr := ipc.Call(ctx, sys, req, onEvent)
			if !errors.Is(serr, ipc.ErrNoDaemon) {
				return resp, serr
			}
		}
	}
	if a.noAutostart {
		return nil, &exitError{code: exitNoDaemon, msg: fmt.Sprintf("no entra-helperd answers on %s", path)}
	}
	if a.getenv(envNoAutostart) == "1" {
		return nil, &exitError{code: exitNoDaemon, msg: fmt.Sprintf(
			"no entra-helperd answers on %s and autostart is off (%s=1); start it with `entra-helperd` or `entra-helperd service start`",
			path, envNoAutostart)}
	}
	return a.autostart(ctx, path, req, onEvent)
}

// autostart starts entra-helperd detached and retries req until the daemon
// answers, it exits, or autostartWait has passed. A daemon that cannot start
// says why on its notify pipe (ipc.NotifyFDEnv): that sentence (no config
// file, a config error with file:line:key, no keychain, ...) is the error,
// at once.
func (a *app) autostart(ctx context.Context, path string, req *ipc.Request, onEvent func(*ipc.Event)) (*ipc.Response, error) {
	bin, err := findDaemon()
	if err != nil {
		return nil, &exitError{code: exitNoDaemon, msg: fmt.Sprintf(
			"no entra-helperd answers on %s and %s was found neither next to entra-helper nor on PATH; install it or start it yourself",
			path, daemonName())}
	}
	logPath := a.daemonLogPath()
	d, err := startDetached(bin, logPath)
	if err != nil {
		return nil, &exitError{code: exitNoDaemon, msg: fmt.Sprintf("cannot start %s: %v", bin, err)}
	}
	// cannotStart is the error once the daemon gave up. It may have lost a
	// race to another daemon started at the same moment (by a concurrent
	// client), which holds the ports but may not answer on the socket yet:
	// that one is tried for up to lostRaceWait first.
	cannotStart := func(reason string) (*ipc.Response, error) {
		until := time.Now().Add(lostRaceWait)
		for wait := 10 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
			if resp, err := ipc.Call(ctx, path, req, onEvent); !errors.Is(err, ipc.ErrNoDaemon) {
				return resp, err
			}
			if time.Now().After(until) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		if reason == "" {
			reason = fmt.Sprintf("%s exited right after it was started without saying why; run it in the foreground to see (its log: %s)", bin, logPath)
		}
		return nil, &exitError{code: exitNoDaemon, msg: reason}
	}
	deadline := time.Now().Add(autostartWait)
	delay := 10 * time.Millisecond
	verdict := d.verdict
	for {
		resp, err := ipc.Call(ctx, path, req, onEvent)
		if !errors.Is(err, ipc.ErrNoDaemon) {
			return resp, err
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case v, ok := <-verdict:
			verdict = nil // one line at most
			if reason, failed := strings.CutPrefix(v, ipc.NotifyError); ok && failed {
				return cannotStart(reason)
			}
			continue // ready: it answers now
		case <-d.exited:
			return cannotStart(d.reason())
		case <-time.After(delay):
		}
		if delay < 250*time.Millisecond {
			delay *= 2
		}
	}
	return nil, &exitError{code: exitNoDaemon, msg: fmt.Sprintf(
		"%s was started but does not answer on %s after %s; see its log %s", bin, path, autostartWait, logPath)}
}

// findDaemon looks for entra-helperd next to the client's executable (with
// symlinks resolved, so an `az` symlink elsewhere still finds it), then on
// PATH.
func findDaemon() (string, error) {
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		p := filepath.Join(filepath.Dir(exe), daemonName())
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return exec.LookPath(daemonName())
}

// daemonLogPath is where a started daemon's stderr goes:
// $XDG_STATE_HOME/entra-helper/daemon.log, else ~/.local/state/... on Unix,
// the user cache directory on macOS and Windows.
func (a *app) daemonLogPath() string {
	dir := a.getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(dir) {
		dir = ""
		if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
			if d, err := os.UserCacheDir(); err == nil {
				dir = d
			}
		} else if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".local", "state")
		}
		if dir == "" {
			dir = os.TempDir()
		}
	}
	return filepath.Join(dir, "entra-helper", "daemon.log")
}

// started is a daemon the client started.
type started struct {
	exited  <-chan struct{} // closed when the process exits
	verdict <-chan string   // its notify line ("" if none), then closed
}

// reason is the daemon's reason for exiting, once it has exited: the notify
// line it wrote, if any.
func (s *started) reason() string {
	select {
	case v := <-s.verdict:
		r, _ := strings.CutPrefix(v, ipc.NotifyError)
		if r == ipc.NotifyReady {
			return ""
		}
		return r
	case <-time.After(time.Second):
		return ""
	}
}

// startDetached starts bin in its own session with stdin and stdout on the
// null device, stderr appended to logPath (0600, in a 0700 directory) and
// the write end of a pipe named by ipc.NotifyFDEnv, on which the daemon
// says "ready" or why it cannot start. The environment passes through
// otherwise unchanged: the client holds no secret.
func startDetached(bin, logPath string) (*started, error) {
	cmd := exec.Command(bin)
	// Not the client's working directory: the daemon outlives it.
	if home, err := os.UserHomeDir(); err == nil {
		cmd.Dir = home
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err == nil {
		if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			defer f.Close() // the child keeps its own descriptor
			cmd.Stderr = f
		}
	}
	cmd.SysProcAttr = detachedAttr()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fd, err := passNotify(cmd, w)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	cmd.Env = append(daemonEnviron(os.Environ()), ipc.NotifyFDEnv+"="+fd)
	err = cmd.Start()
	w.Close() // the child has its own; EOF comes when it closes it or exits
	if err != nil {
		r.Close()
		return nil, err
	}
	verdict := make(chan string, 1)
	go func() {
		defer close(verdict)
		b, _ := io.ReadAll(io.LimitReader(r, 4096))
		r.Close()
		line, _, _ := strings.Cut(string(b), "\n")
		verdict <- strings.TrimSpace(line)
	}()
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	return &started{exited: exited, verdict: verdict}, nil
}

// profileInfo asks the daemon for profile's settings.
func (a *app) profileInfo(profile string) (*ipc.ProfileInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	resp, err := a.do(ctx, &ipc.Request{Op: ipc.OpProfile, Profile: profile}, nil)
	if err != nil {
		return nil, err
	}
	if resp.Profile == nil {
		return nil, failf("entra-helperd answered without the settings of %s; restart it (entra-helperd service restart) and see its log", profileName(profile))
	}
	return resp.Profile, nil
}

// daemonEnviron is env without the endpoint variables of `entra-helper
// azure env` and `databricks env` that point at a daemon's loopback
// endpoints (ipc.DropEndpointEnv): a shell that ran them must not hand their
// secrets to the daemon it starts. Variables a real Azure host set (a
// managed-identity profile needs them) are kept.
func daemonEnviron(env []string) []string {
	kept, _ := ipc.DropEndpointEnv(env, nil)
	return kept
}
