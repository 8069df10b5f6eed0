//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/entra-helper/entra-helper/ipc"
)

// Identities registered at the fake Entra.
const (
	spClientID   = "12a34b56-789c-0d12-e3fa-b456789c0123"
	userClientID = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
	userName     = "alice@contoso.example"
	databricks   = "https://adb-1234567890123456.7.azuredatabricks.net"
)

// fakeEntra is a running fake-entra process.
type fakeEntra struct {
	cmd    *exec.Cmd
	exited chan struct{}
	URL    string
	Tenant string
	CAFile string
	http   *http.Client
}

// startFake runs the fake Entra with the service principal (its secret in
// secretFile) and a public app with one user (password in passwordFile).
func startFake(bin, dir, secretFile, passwordFile string) (*fakeEntra, error) {
	f := &fakeEntra{CAFile: filepath.Join(dir, "ca.pem"), exited: make(chan struct{})}
	log, err := os.Create(filepath.Join(dir, "fake-entra.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	f.cmd = exec.Command(bin, "-app", spClientID, "-secret-file", secretFile,
		"-public-app", userClientID, "-user", userName, "-password-file", passwordFile,
		"-ca-out", f.CAFile, "-lifetime", "1h")
	f.cmd.Stderr = log
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := f.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = f.cmd.Wait(); close(f.exited) }()
	line := make(chan []byte, 1)
	go func() {
		b, _ := bufio.NewReader(out).ReadBytes('\n')
		line <- b
		_, _ = io.Copy(io.Discard, out)
	}()
	var ready struct{ URL, Tenant string }
	select {
	case b := <-line:
		if err := json.Unmarshal(b, &ready); err != nil || ready.URL == "" {
			f.stop()
			return nil, fmt.Errorf("fake-entra did not start (see %s)", log.Name())
		}
	case <-time.After(20 * time.Second):
		f.stop()
		return nil, errors.New("fake-entra did not start in 20 s")
	}
	f.URL, f.Tenant = ready.URL, ready.Tenant
	pem, err := os.ReadFile(f.CAFile)
	if err != nil {
		f.stop()
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	f.http = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return f, nil
}

// fakeStats is the part of GET /_fake/stats the bench reads.
type fakeStats struct {
	TokenRequests int            `json:"token_requests"`
	ByGrantType   map[string]int `json:"by_grant_type"`
}

func (f *fakeEntra) stats() (fakeStats, error) {
	var s fakeStats
	resp, err := f.http.Get(f.URL + "/_fake/stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("fake-entra stats: HTTP %d", resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// admin POSTs an admin call such as "latency?d=100ms".
func (f *fakeEntra) admin(call string) error {
	resp, err := f.http.Post(f.URL+"/_fake/"+call, "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fake-entra %s: HTTP %d", call, resp.StatusCode)
	}
	return nil
}

func (f *fakeEntra) stop() {
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.exited:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.exited
	}
}

// env is one user's world: a HOME, a config, a file store and a daemon.
type env struct {
	dir     string
	bin     string // directory of entra-helper and entra-helperd
	environ []string
	socket  string
	logPath string
	daemon  *exec.Cmd
	exited  chan struct{}
	pid     int // the daemon's pid, also when the client started it
	// pprofFile is where a daemon built with -tags benchprofile writes its
	// pprof address (-profile); "" otherwise.
	pprofFile string
}

// newEnv lays out a throwaway HOME under dir with the config cfg, in which
// {authority}, {tenant}, {key} and {state} are replaced. The store is the
// encrypted file store with a fresh 32-byte key.
func newEnv(dir, bin, cfg string, fake *fakeEntra) (*env, error) {
	e := &env{dir: dir, bin: bin, logPath: filepath.Join(dir, "daemon.log")}
	home, run, state := filepath.Join(dir, "home"), filepath.Join(dir, "run"), filepath.Join(dir, "state")
	for _, d := range []string{home, run, state, filepath.Join(home, ".config", "entra-helper")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "store.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return nil, err
	}
	cfg = strings.NewReplacer("{authority}", fake.URL, "{tenant}", fake.Tenant, "{key}", keyFile, "{state}", state).Replace(cfg)
	cfgPath := filepath.Join(home, ".config", "entra-helper", "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ENTRA_HELPER_") || strings.HasPrefix(name, "XDG_") ||
			name == "HOME" || name == "SSL_CERT_FILE" || strings.HasSuffix(strings.ToUpper(name), "_PROXY") {
			continue
		}
		e.environ = append(e.environ, kv)
	}
	e.environ = append(e.environ, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "XDG_RUNTIME_DIR="+run,
		"ENTRA_HELPER_CONFIG="+cfgPath, "SSL_CERT_FILE="+fake.CAFile)
	e.socket = filepath.Join(run, "entra-helper", "daemon.sock")
	return e, nil
}

// clientEnv is the environment of client processes; autostart is off
// unless asked for.
func (e *env) clientEnv(autostart bool) []string {
	if autostart {
		return e.environ
	}
	return append(e.environ[:len(e.environ):len(e.environ)], "ENTRA_HELPER_NO_AUTOSTART=1")
}

// launch starts entra-helperd without waiting for it.
func (e *env) launch() error {
	log, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(e.bin, "entra-helperd"))
	cmd.Env = e.environ
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return err
	}
	e.daemon, e.exited, e.pid = cmd, make(chan struct{}), cmd.Process.Pid
	go func(c chan struct{}) { _ = cmd.Wait(); close(c) }(e.exited)
	return nil
}

// until calls req every millisecond from now on until it succeeds, the
// daemon exits, or 20 s pass.
func (e *env) until(req *ipc.Request) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := ipc.Call(ctx, e.socket, req, nil)
		cancel()
		if err == nil {
			return nil
		}
		if e.exited != nil {
			select {
			case <-e.exited:
				return fmt.Errorf("entra-helperd exited: %s", e.logTail())
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer in 20 s (last: %v): %s", err, e.logTail())
		}
		time.Sleep(time.Millisecond)
	}
}

// start launches the daemon and returns the time until it answers status.
func (e *env) start() (time.Duration, error) {
	t0 := time.Now()
	if err := e.launch(); err != nil {
		return 0, err
	}
	if err := e.until(&ipc.Request{Op: ipc.OpStatus}); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// stop ends the daemon with sig and waits for it; SIGKILL after 5 s.
func (e *env) stop(sig syscall.Signal) {
	if e.daemon == nil {
		if e.pid > 0 { // started by the client: not our child
			_ = syscall.Kill(e.pid, sig)
			for i := 0; i < 500 && syscall.Kill(e.pid, 0) == nil; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			e.pid = 0
		}
		return
	}
	_ = e.daemon.Process.Signal(sig)
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
		_ = e.daemon.Process.Kill()
		<-e.exited
	}
	e.daemon, e.exited, e.pid = nil, nil, 0
}

// call sends one request with a 30 s budget.
func (e *env) call(req *ipc.Request) (*ipc.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ipc.Call(ctx, e.socket, req, nil)
}

// client runs entra-helper with stdin and returns its stdout.
func (e *env) client(autostart bool, stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(e.bin, "entra-helper"), args...)
	cmd.Env = e.clientEnv(autostart)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("entra-helper %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// logTail is the end of the daemon's log, for error messages. The daemon
// never logs a token or secret.
func (e *env) logTail() string {
	b, _ := os.ReadFile(e.logPath)
	if len(b) > 800 {
		b = b[len(b)-800:]
	}
	return "daemon log: " + strings.TrimSpace(string(b))
}

// randomSecret returns a printable random secret.
func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// floorProc is a running floor process (internal/bench/cmd/floor).
type floorProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	pid    int
	Socket string `json:"socket"`
	HTTP   string `json:"http"`
}

// startFloor runs the floor with its socket under dir and waits for its
// addresses.
func startFloor(bin, dir string) (*floorProc, error) {
	sockDir := filepath.Join(dir, "floor")
	if err := os.MkdirAll(sockDir, 0o700); err != nil {
		return nil, err
	}
	f := &floorProc{cmd: exec.Command(bin, "-socket", filepath.Join(sockDir, "ipc.sock"))}
	f.cmd.Stderr = os.Stderr
	var err error
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := f.cmd.Start(); err != nil {
		return nil, err
	}
	f.pid = f.cmd.Process.Pid
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, f)
	}
	if err != nil || f.Socket == "" || f.HTTP == "" {
		f.stop()
		return nil, fmt.Errorf("the floor did not start: %v", err)
	}
	return f, nil
}

// stop closes the floor's stdin, which ends it, and waits.
func (f *floorProc) stop() {
	_ = f.stdin.Close()
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}
