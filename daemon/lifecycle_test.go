package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/daemon/broker"
	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/internal/private"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

// blockedProfile is a profile whose source is busy: a sign-in or a slow
// call to Entra holds it, so Account waits until release is closed.
type blockedProfile struct {
	release chan struct{}
}

func (p *blockedProfile) Acquire(ctx context.Context, _ []string) (tokensource.Token, error) {
	return tokensource.Token{}, errors.New("unused")
}
func (p *blockedProfile) Login(context.Context, tokensource.LoginInput, func(tokensource.Prompt)) (tokensource.Account, error) {
	return tokensource.Account{}, errors.New("unused")
}
func (p *blockedProfile) Logout(context.Context) error { return nil }
func (p *blockedProfile) Account(ctx context.Context) (tokensource.Account, bool) {
	<-p.release
	return tokensource.Account{Username: "alice@contoso.example"}, true
}

// TestStatusDoesNotWaitForTheProfile: status answers from the daemon's
// snapshot of each profile's account while the profile's source is held
// (a device-code sign-in waiting for the user, a slow Entra call).
func TestStatusDoesNotWaitForTheProfile(t *testing.T) {
	prof := &blockedProfile{release: make(chan struct{})}
	defer close(prof.release)
	pol, err := access.New(access.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := broker.New(clock.Real{}, broker.Policy{})
	defer b.Close()
	d := &Daemon{
		opts:     Options{Clock: clock.Real{}},
		log:      zap.NewNop(),
		cfg:      &config.Config{Path: "c.toml", Profiles: map[string]*config.Profile{"dev": {Name: "dev", Flow: config.FlowDeviceCode}}},
		profiles: map[string]tokensource.Profile{"dev": prof},
		accounts: map[string]accountState{"dev": {account: tokensource.Account{Username: "alice@contoso.example"}, signedIn: true}},
		store:    store.NewMemory(),
		broker:   b,
		access:   pol,
	}
	done := make(chan *ipc.Status, 1)
	go func() { done <- d.status(context.Background(), ipc.Self()) }()
	select {
	case st := <-done:
		if len(st.Profiles) != 1 || st.Profiles[0].Account != "alice@contoso.example" || st.Profiles[0].State != ipc.StateReady {
			t.Fatalf("status %+v", st.Profiles)
		}
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("status waited for a profile whose source is busy")
	}
}

// runFixture is entra-helperd run in this process, with the file store,
// against a fake Entra.
type runFixture struct {
	entra *entratest.Server
	sock  string
	log   *syncBuffer
	stop  context.CancelFunc
	done  chan error
	clock clock.Clock   // nil: the real clock
	ready chan struct{} // closed once the daemon serves its socket
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// ignoreWinio: go-winio's I/O completion goroutine (Windows) starts with
// the first pipe and lives as long as the process.
var ignoreWinio = goleak.IgnoreAnyFunction("github.com/Microsoft/go-winio.ioCompletionProcessor")

const (
	testSPClientID = "12a34b56-789c-0d12-e3fa-b456789c0123"
	testSPSecret   = "lifecycle~Secret.value-0123456789"
)

// newRunFixture writes a config with one client-secret profile "sp" and
// the metadata endpoint on a free port; start runs the daemon.
func newRunFixture(t *testing.T) (*runFixture, string) {
	t.Helper()
	f := &runFixture{entra: entratest.NewTB(t, entratest.Options{}), log: &syncBuffer{}}
	f.entra.AddApp(entratest.App{ClientID: testSPClientID, Secret: testSPSecret})
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := f.entra.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", ca)
	key := make([]byte, 32)
	rand.Read(key)
	if err := private.WriteNew(filepath.Join(dir, "store.key"), key); err != nil { // 0600; owner-only on Windows
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`[daemon]
store = "file"
state_dir = %q
store_key_file = %q
metadata_listen = "127.0.0.1:0"
log_level = "debug"

[profiles.sp]
flow = "client-secret"
tenant = %q
client_id = %q
authority_host = %q
`, filepath.Join(dir, "state"), filepath.Join(dir, "store.key"), f.entra.Tenant(), testSPClientID, f.entra.URL())
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "eh") // short: sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	f.sock = filepath.Join(sockDir, "d", "daemon.sock")
	if runtime.GOOS == "windows" {
		f.sock = `\\.\pipe\entra-helper-test-` + filepath.Base(sockDir) // a pipe, not a file
	}
	return f, cfgPath
}

func (f *runFixture) start(cfgPath string) {
	ctx, cancel := context.WithCancel(context.Background())
	f.stop, f.done, f.ready = cancel, make(chan error, 1), make(chan struct{})
	go func() {
		f.done <- Run(ctx, Options{ConfigPath: cfgPath, SocketPath: f.sock, Version: "test", Stderr: f.log,
			Clock: f.clock, Ready: func() { close(f.ready) }})
	}()
}

// waitReady waits until the daemon serves its socket; a daemon that exits
// or hangs instead fails the test. Tests wait for this rather than dial
// in a loop: under Wine a client dialling while the daemon starts can take
// go-winio's first pipe instance, which is never accepted.
func (f *runFixture) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-f.ready:
	case err := <-f.done:
		t.Fatalf("the daemon did not start: %v\n%s", err, f.log.String())
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatalf("the daemon did not start; its log:\n%s", f.log.String())
	}
}

// shutdown stops the daemon and returns Run's error; a daemon that does
// not stop fails the test.
func (f *runFixture) shutdown(t *testing.T) error {
	t.Helper()
	f.stop()
	select {
	case err := <-f.done:
		return err
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatalf("the daemon did not stop; its log:\n%s", f.log.String())
		return nil
	}
}

func call(t *testing.T, sock string, req *ipc.Request) (*ipc.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ipc.Call(ctx, sock, req, nil)
}

// TestStartupWhileClientsConnect: clients ask for the profile (with its
// metadata URL) and the status from the moment the daemon starts: every
// answer is complete, and -race sees no unsynchronised start-up state.
// After the stop no goroutine is left.
func TestStartupWhileClientsConnect(t *testing.T) {
	if underWine {
		t.Skip("Wine lets a client connect to go-winio's first pipe instance, which is never accepted: clients dialling while the daemon starts can take it (Windows keeps it closed)")
	}
	f, cfgPath := newRunFixture(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), ignoreWinio)
	var wg sync.WaitGroup
	answered := make(chan struct{})
	var once sync.Once
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := 0
			for deadline := time.Now().Add(30 * time.Second); ok < 5 && time.Now().Before(deadline); {
				op := ipc.OpProfile
				if i%2 == 1 {
					op = ipc.OpStatus
				}
				resp, err := call(t, f.sock, &ipc.Request{Op: op, Profile: "sp"})
				if errors.Is(err, ipc.ErrNoDaemon) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				switch {
				case op == ipc.OpProfile && (resp.Profile == nil || !strings.HasPrefix(resp.Profile.MetadataURL, "http://127.0.0.1:")):
					errs <- fmt.Errorf("profile answer without the metadata URL: %+v", resp.Profile)
					return
				case op == ipc.OpStatus && (resp.Status == nil || !strings.HasPrefix(resp.Status.MetadataURL, "127.0.0.1:")):
					errs <- fmt.Errorf("status without the metadata address: %+v", resp.Status)
					return
				}
				ok++
			}
			once.Do(func() { close(answered) })
		}()
	}
	f.start(cfgPath)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	<-answered
	if err := f.shutdown(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestShutdownCancelsInFlight: a stop while a call to Entra hangs cancels
// it, answers the client waiting on it, and leaves no goroutine behind.
func TestShutdownCancelsInFlight(t *testing.T) {
	f, cfgPath := newRunFixture(t)
	// The fake Entra's handler may still sit out its latency for a moment
	// after the daemon hung up: that is the far end, not the daemon.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), ignoreWinio,
		goleak.IgnoreAnyFunction("github.com/entra-helper/entra-helper/internal/entratest.waitLatency"))
	f.start(cfgPath)
	f.waitReady(t)
	if _, err := call(t, f.sock, &ipc.Request{Op: ipc.OpLogin, Profile: "sp", Login: &ipc.LoginRequest{ClientSecret: testSPSecret}}); err != nil {
		t.Fatalf("login: %v", err)
	}
	f.entra.SetLatency(10 * time.Minute) // Entra hangs
	calls := func() uint64 {
		resp, err := call(t, f.sock, &ipc.Request{Op: ipc.OpStatus})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status.IdPCalls
	}
	before := calls()
	waiting := make(chan error, 1)
	go func() {
		_, err := call(t, f.sock, &ipc.Request{Op: ipc.OpToken, Profile: "sp", Scopes: []string{"https://management.core.windows.net//.default"}})
		waiting <- err
	}()
	for calls() == before { // the call to Entra has started
		time.Sleep(5 * time.Millisecond)
	}
	if err := f.shutdown(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := <-waiting; err == nil {
		t.Fatal("the request waiting on the cancelled call got a token")
	}
	f.entra.SetLatency(0)
}
