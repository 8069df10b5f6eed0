package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
	ss "github.com/zalando/go-keyring/secret_service"
)

// fakeBackend is an in-memory keyringBackend. before, when set, runs
// before each operation (outside the lock) and may block or fail it.
type fakeBackend struct {
	mu     sync.Mutex
	m      map[string]string
	before func(op, user, value string) error
}

func newFakeBackend() *fakeBackend { return &fakeBackend{m: map[string]string{}} }

func (f *fakeBackend) hook(op, user, value string) error {
	f.mu.Lock()
	h := f.before
	f.mu.Unlock()
	if h != nil {
		return h(op, user, value)
	}
	return nil
}

func (f *fakeBackend) setHook(h func(op, user, value string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = h
}

func (f *fakeBackend) Get(service, user string) (string, error) {
	if err := f.hook("get", user, ""); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[service+"\x00"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeBackend) Set(service, user, value string) error {
	if err := f.hook("set", user, value); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[service+"\x00"+user] = value
	return nil
}

func (f *fakeBackend) Delete(service, user string) error {
	if err := f.hook("delete", user, ""); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[service+"\x00"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.m, service+"\x00"+user)
	return nil
}

// hookBackend wraps a backend (the real one, or a fake) with a hook that
// runs before each operation: tests use it to simulate a crash.
type hookBackend struct {
	inner  keyringBackend
	before func(op, user, value string) error
}

func (h *hookBackend) Get(service, user string) (string, error) {
	if err := h.before("get", user, ""); err != nil {
		return "", err
	}
	return h.inner.Get(service, user)
}

func (h *hookBackend) Set(service, user, value string) error {
	if err := h.before("set", user, value); err != nil {
		return err
	}
	return h.inner.Set(service, user, value)
}

func (h *hookBackend) Delete(service, user string) error {
	if err := h.before("delete", user, ""); err != nil {
		return err
	}
	return h.inner.Delete(service, user)
}

// keyringEnv says how to build Keyrings for the contract tests: over a
// fake backend (always) or the real Secret Service (under with-keyring.sh).
type keyringEnv struct {
	name    string
	service string
	backend keyringBackend // shared by every Keyring of one test
}

func (e keyringEnv) newKeyring(limit int) *Keyring {
	k := NewKeyring(KeyringOptions{Service: e.service, ItemLimit: limit, Timeout: 10 * time.Second})
	k.backend = e.backend
	return k
}

// exists reports whether a raw keyring item exists.
func (e keyringEnv) exists(t *testing.T, user string) bool {
	t.Helper()
	_, err := e.backend.Get(e.service, user)
	if errors.Is(err, keyring.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("raw get %q: %v", user, err)
	}
	return true
}

// count returns how many items the test's service holds.
func (e keyringEnv) count(t *testing.T) int {
	t.Helper()
	switch b := e.backend.(type) {
	case *fakeBackend:
		b.mu.Lock()
		defer b.mu.Unlock()
		n := 0
		for name := range b.m {
			if strings.HasPrefix(name, e.service+"\x00") {
				n++
			}
		}
		return n
	case goKeyring:
		svc, err := ss.NewSecretService()
		if err != nil {
			t.Fatal(err)
		}
		items, err := svc.SearchItems(svc.GetLoginCollection(), map[string]string{"service": e.service})
		if err != nil {
			t.Fatal(err)
		}
		return len(items)
	}
	t.Fatalf("count: unknown backend %T", e.backend)
	return 0
}

// haveRealKeyring skips (or, with ENTRA_HELPER_REQUIRE_KEYRING=1, fails)
// unless a real Secret Service is available.
func haveRealKeyring(t *testing.T) {
	t.Helper()
	if os.Getenv("ENTRA_HELPER_KEYRING") == "1" {
		return
	}
	const msg = "no real Secret Service: run under scripts/with-keyring.sh (it sets ENTRA_HELPER_KEYRING=1)"
	if os.Getenv("ENTRA_HELPER_REQUIRE_KEYRING") == "1" {
		t.Fatal(msg + ", and ENTRA_HELPER_REQUIRE_KEYRING=1 forbids skipping")
	}
	t.Skip(msg)
}

// keyringEnvs returns the environments to run a keyring test in.
func keyringEnvs(t *testing.T) []keyringEnv {
	envs := []keyringEnv{{name: "fake", service: "entra-helper-test", backend: newFakeBackend()}}
	if os.Getenv("ENTRA_HELPER_KEYRING") == "1" {
		envs = append(envs, keyringEnv{name: "secret-service", service: "entra-helper-test-" + randHex(t), backend: goKeyring{}})
	}
	return envs
}

func randHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// forEachKeyring runs f in every environment, removing the test service's
// items from the real keyring afterwards.
func forEachKeyring(t *testing.T, f func(t *testing.T, e keyringEnv)) {
	for _, e := range keyringEnvs(t) {
		t.Run(e.name, func(t *testing.T) {
			if _, real := e.backend.(goKeyring); real {
				t.Cleanup(func() { _ = keyring.DeleteAll(e.service) })
			}
			f(t, e)
		})
	}
}

func TestKeyringRealSecretServiceAvailable(t *testing.T) {
	haveRealKeyring(t)
	k := NewKeyring(KeyringOptions{Service: "entra-helper-test-" + randHex(t)})
	t.Cleanup(func() { _ = keyring.DeleteAll(k.service) })
	ctx := context.Background()
	if err := k.Set(ctx, "probe", []byte("x")); err != nil {
		t.Fatalf("Set on the real Secret Service: %v", err)
	}
	got, err := k.Get(ctx, "probe")
	if err != nil || string(got) != "x" {
		t.Fatalf("Get = %q, %v; want \"x\"", got, err)
	}
}

func TestKeyringRoundTrip(t *testing.T) {
	const limit = 128 // 96 raw bytes per chunk
	tests := []struct {
		name   string
		values [][]byte // written in turn; the last one must read back
		chunks int      // chunk items of the last value (0: inline)
	}{
		{"empty", [][]byte{{}}, 0},
		{"small", [][]byte{[]byte("s3cr3t")}, 0},
		{"binary", [][]byte{{0, 1, 2, 0xff, '\n', 0}}, 0},
		{"largest inline", [][]byte{bytes.Repeat([]byte{'a'}, (limit-len(inlinePrefix))/4*3)}, 0},
		{"smallest chunked", [][]byte{bytes.Repeat([]byte{'a'}, (limit-len(inlinePrefix))/4*3+1)}, 1},
		{"many chunks", [][]byte{randBytes(t, 1000)}, 11},
		{"exact chunk multiple", [][]byte{randBytes(t, 96*3)}, 3},
		{"inline then chunked", [][]byte{[]byte("a"), randBytes(t, 500)}, 6},
		{"chunked then inline", [][]byte{randBytes(t, 500), []byte("b")}, 0},
		{"chunked then fewer chunks", [][]byte{randBytes(t, 900), randBytes(t, 200)}, 3},
		{"chunked then more chunks", [][]byte{randBytes(t, 200), randBytes(t, 900)}, 10},
	}
	forEachKeyring(t, func(t *testing.T, e keyringEnv) {
		ctx := context.Background()
		k := e.newKeyring(limit)
		for i, tc := range tests {
			key := fmt.Sprintf("profile/t%d/value", i)
			for _, v := range tc.values {
				if err := k.Set(ctx, key, v); err != nil {
					t.Fatalf("%s: Set: %v", tc.name, err)
				}
			}
			want := tc.values[len(tc.values)-1]
			got, err := k.Get(ctx, key)
			if err != nil {
				t.Fatalf("%s: Get: %v", tc.name, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: Get returned %d bytes that differ from the %d written", tc.name, len(got), len(want))
			}
			// A fresh Keyring (a restarted daemon) reads it too.
			if got, err := e.newKeyring(limit).Get(ctx, key); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: Get from a new Keyring: %v", tc.name, err)
			}
			// Exactly the current generation's chunks exist: older ones were removed.
			raw, err := e.backend.Get(e.service, key)
			if err != nil {
				t.Fatal(err)
			}
			h, err := parseHead(raw)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if h.manifest != nil {
				n = h.manifest.count
			}
			if n != tc.chunks {
				t.Errorf("%s: %d chunks, want %d", tc.name, n, tc.chunks)
			}
			for i := 0; i < n; i++ {
				if !e.exists(t, chunkUser(key, h.manifest.gen, i)) {
					t.Errorf("%s: chunk %d is missing", tc.name, i)
				}
			}
			if c := e.count(t); c != 1+n {
				t.Errorf("%s: %d items in the keyring, want %d (the value and its chunks)", tc.name, c, 1+n)
			}
			if err := k.Delete(ctx, key); err != nil {
				t.Fatalf("%s: Delete: %v", tc.name, err)
			}
			if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: Get after Delete: %v, want ErrNotFound", tc.name, err)
			}
			if c := e.count(t); c != 0 {
				t.Errorf("%s: %d items survived Delete", tc.name, c)
			}
		}
		if err := k.Delete(ctx, "profile/never/written"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		if _, err := k.Get(ctx, "profile/never/written"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
	})
}

func TestKeyringRefusesBadInput(t *testing.T) {
	forEachKeyring(t, func(t *testing.T, e keyringEnv) {
		ctx := context.Background()
		k := e.newKeyring(0)
		err := k.Set(ctx, "big", make([]byte, MaxValueSize+1))
		if err == nil || !strings.Contains(err.Error(), "over the 1048576-byte limit") {
			t.Fatalf("Set of MaxValueSize+1 bytes: %v, want a size error", err)
		}
		if e.exists(t, "big") || e.exists(t, chunkUser("big", 1, 0)) {
			t.Fatal("an oversize value left items behind")
		}
		for _, key := range []string{"", "a#b", "tab\there", "é", strings.Repeat("k", 257)} {
			if err := k.Set(ctx, key, []byte("v")); err == nil || !strings.Contains(err.Error(), "invalid key") {
				t.Errorf("Set(%q): %v, want an invalid key error", key, err)
			}
			if _, err := k.Get(ctx, key); err == nil || !strings.Contains(err.Error(), "invalid key") {
				t.Errorf("Get(%q): %v, want an invalid key error", key, err)
			}
		}
	})
}

var errCrash = errors.New("simulated crash")

func TestKeyringCrashMidWrite(t *testing.T) {
	const limit = 128
	oldInline := []byte("old value")
	oldChunked := bytes.Repeat([]byte("old chunked value "), 30) // 540 bytes, 6 chunks
	newValue := bytes.Repeat([]byte("NEW "), 200)                // 800 bytes, 9 chunks
	isManifest := func(op, value string) bool { return op == "set" && strings.HasPrefix(value, manifestPrefix) }
	tests := []struct {
		name  string
		old   []byte
		crash func(n *int) func(op, user, value string) error
		want  []byte // what Get returns after the crash
	}{
		{"before manifest, old inline", oldInline, func(*int) func(op, user, value string) error {
			return func(op, _, value string) error {
				if isManifest(op, value) {
					return errCrash
				}
				return nil
			}
		}, oldInline},
		{"before manifest, old chunked", oldChunked, func(*int) func(op, user, value string) error {
			return func(op, _, value string) error {
				if isManifest(op, value) {
					return errCrash
				}
				return nil
			}
		}, oldChunked},
		{"between chunks, old chunked", oldChunked, func(n *int) func(op, user, value string) error {
			return func(op, user, _ string) error {
				if op == "set" && strings.Contains(user, chunkSep) {
					if *n++; *n == 4 {
						return errCrash
					}
				}
				return nil
			}
		}, oldChunked},
		{"after manifest, before cleanup", oldChunked, func(n *int) func(op, user, value string) error {
			return func(op, _, _ string) error {
				if op == "delete" {
					return errCrash
				}
				return nil
			}
		}, newValue},
	}
	forEachKeyring(t, func(t *testing.T, e keyringEnv) {
		ctx := context.Background()
		for i, tc := range tests {
			key := fmt.Sprintf("profile/crash%d/refresh-token", i)
			good := e.newKeyring(limit)
			if err := good.Set(ctx, key, tc.old); err != nil {
				t.Fatal(err)
			}
			crashing := e.newKeyring(limit)
			n := 0
			crashing.backend = &hookBackend{inner: e.backend, before: tc.crash(&n)}
			_ = crashing.Set(ctx, key, newValue) // the process "dies" here

			got, err := good.Get(ctx, key)
			if err != nil {
				t.Fatalf("%s: Get after the crash: %v", tc.name, err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("%s: Get after the crash returned %q..., want %q...", tc.name, got[:min(len(got), 12)], tc.want[:12])
			}
			// The next write succeeds, reads back, and leaves only its own chunks.
			next := randBytes(t, 300) // 4 chunks
			if err := good.Set(ctx, key, next); err != nil {
				t.Fatalf("%s: Set after the crash: %v", tc.name, err)
			}
			if got, err := good.Get(ctx, key); err != nil || !bytes.Equal(got, next) {
				t.Fatalf("%s: Get after recovery: %v", tc.name, err)
			}
			raw, _ := e.backend.Get(e.service, key)
			h, err := parseHead(raw)
			if err != nil || h.manifest == nil {
				t.Fatalf("%s: head after recovery: %q, %v", tc.name, raw, err)
			}
			if c := e.count(t); c != 1+h.manifest.count {
				t.Errorf("%s: %d items in the keyring, want %d: chunks of the crashed write survived", tc.name, c, 1+h.manifest.count)
			}
			if err := good.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestKeyringCorruptItems(t *testing.T) {
	fb := newFakeBackend()
	k := NewKeyring(KeyringOptions{Service: "s", ItemLimit: 128})
	k.backend = fb
	ctx := context.Background()
	value := randBytes(t, 300)
	if err := k.Set(ctx, "key", value); err != nil {
		t.Fatal(err)
	}
	raw, _ := fb.Get("s", "key")
	h, _ := parseHead(raw)
	gen := h.manifest.gen
	tests := []struct {
		name   string
		mutate func()
		want   string
	}{
		{"missing chunk", func() { _ = fb.Delete("s", chunkUser("key", gen, 2)) }, "chunk 3 of 4 is missing"},
		{"swapped chunk", func() {
			_ = fb.Set("s", chunkUser("key", gen, 1), "AAAA")
		}, "checksum mismatch"},
		{"not base64", func() { _ = fb.Set("s", chunkUser("key", gen, 0), "!!!") }, "not base64"},
		{"garbage head", func() { _ = fb.Set("s", "key", "plain text") }, "unknown item format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := k.Set(ctx, "key", value); err != nil {
				t.Fatal(err)
			}
			raw, _ := fb.Get("s", "key")
			h, _ := parseHead(raw)
			gen = h.manifest.gen
			tc.mutate()
			_, err := k.Get(ctx, "key")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "delete it and store it again") {
				t.Fatalf("Get: %v, want a corrupt item error with %q", err, tc.want)
			}
			// A corrupt item can be overwritten and deleted.
			if err := k.Set(ctx, "key", value); err != nil {
				t.Fatalf("Set over a corrupt item: %v", err)
			}
			if got, err := k.Get(ctx, "key"); err != nil || !bytes.Equal(got, value) {
				t.Fatalf("Get after rewrite: %v", err)
			}
		})
	}
}

// blockingBackend returns a fake whose operations matching match block
// until release is closed.
func blockingBackend(match func(op, user, value string) bool) (*fakeBackend, chan struct{}) {
	fb := newFakeBackend()
	release := make(chan struct{})
	fb.setHook(func(op, user, value string) error {
		if match(op, user, value) {
			<-release
		}
		return nil
	})
	return fb, release
}

func TestKeyringTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	fb, release := blockingBackend(func(op, _, _ string) bool { return op == "get" })
	k := NewKeyring(KeyringOptions{Service: "s", Timeout: timeout})
	k.backend = fb
	ctx := context.Background()

	_, err := k.Get(ctx, "key")
	te, ok := AsUnavailable(err)
	if !ok || te.Reason != KeychainTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on a stuck keychain: %v, want a timeout error", err)
	}
	want := "did not answer in 50ms"
	if runtime.GOOS == "linux" {
		want = "keyring: the Secret Service did not answer in 50ms; restart the Secret Service (`gnome-keyring-daemon --replace --components=secrets`, or restart KeePassXC) and unlock it, or switch to the encrypted file store with `entra-helper setup --store file`"
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	// While the first worker is stuck, later calls queue behind it and say so.
	err = k.Set(ctx, "key", []byte("v"))
	if te, ok := AsUnavailable(err); !ok || te.Reason != KeychainTimeout || !strings.Contains(err.Error(), "an earlier request is still waiting") {
		t.Fatalf("Set behind a stuck call: %v", err)
	}
	// A cancelled ctx ends the wait at once with ctx's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := k.Get(cctx, "key"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled ctx: %v", err)
	}
	// Once the keychain answers, the store works again.
	close(release)
	k.timeout = 10 * time.Second
	if err := k.Set(ctx, "key", []byte("v")); err != nil {
		t.Fatalf("Set after the keychain recovered: %v", err)
	}
}

func TestKeyringAbandonedWriteNeverLands(t *testing.T) {
	// A Set stuck on its first chunk is abandoned; when the keychain wakes
	// up, the worker must not go on to write the manifest.
	fb, release := blockingBackend(func(op, user, _ string) bool {
		return op == "set" && strings.HasSuffix(user, ".0")
	})
	k := NewKeyring(KeyringOptions{Service: "s", ItemLimit: 128, Timeout: 50 * time.Millisecond})
	k.backend = fb
	ctx := context.Background()
	fb.mu.Lock()
	fb.m["s\x00key"] = inlinePrefix + "b2xk" // "old"
	fb.mu.Unlock()

	if err := k.Set(ctx, "key", bytes.Repeat([]byte("n"), 500)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set: %v, want a timeout", err)
	}
	close(release)
	k.timeout = 10 * time.Second
	// This Get runs only after the abandoned worker has returned.
	got, err := k.Get(ctx, "key")
	if err != nil || string(got) != "old" {
		t.Fatalf("Get after the abandoned Set: %q, %v; want \"old\"", got, err)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	for name := range fb.m {
		if strings.Contains(name, chunkSep+"1.1") {
			t.Fatalf("the abandoned worker kept writing chunks (%q)", name)
		}
	}
}

func TestKeyringContextCancelled(t *testing.T) {
	k := NewKeyring(KeyringOptions{Service: "s"})
	k.backend = newFakeBackend()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := k.Set(ctx, "key", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set: %v", err)
	}
	if _, err := k.Get(ctx, "key"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get: %v", err)
	}
	if err := k.Delete(ctx, "key"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete: %v", err)
	}
}

func TestKeyringPanicInBackend(t *testing.T) {
	fb := newFakeBackend()
	fb.setHook(func(string, string, string) error { panic("boom") })
	k := NewKeyring(KeyringOptions{Service: "s"})
	k.backend = fb
	if _, err := k.Get(context.Background(), "key"); err == nil || !strings.Contains(err.Error(), "failed unexpectedly") {
		t.Fatalf("Get: %v", err)
	}
	fb.setHook(nil)
	if _, err := k.Get(context.Background(), "key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after a panic: %v (the worker slot must be released)", err)
	}
}

func TestKeyringDefaults(t *testing.T) {
	k := NewKeyring(KeyringOptions{})
	if k.service != "entra-helper" || k.timeout != 5*time.Second || k.limit != defaultItemLimit() || k.Name() != "keyring" {
		t.Fatalf("defaults: service %q timeout %v limit %d", k.service, k.timeout, k.limit)
	}
	if k := NewKeyring(KeyringOptions{ItemLimit: 10}); k.limit != MinKeyringItemLimit {
		t.Fatalf("ItemLimit 10 became %d, want %d", k.limit, MinKeyringItemLimit)
	}
}

// The unresponsive Secret Service test runs the real go-keyring in a child
// process: godbus keeps one shared session bus connection per process, and
// a connection stuck in its handshake holds godbus's lock for good, so it
// must not share a process with the other tests.
const unresponsiveChildEnv = "ENTRA_HELPER_TEST_UNRESPONSIVE_CHILD"

func TestKeyringUnresponsiveSecretService(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("the Secret Service is a Linux/BSD keychain")
	}
	// A "session bus" that accepts connections and never says a word.
	sock := filepath.Join(t.TempDir(), "bus")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyringUnresponsiveChild$", "-test.v", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), unresponsiveChildEnv+"=1", "DBUS_SESSION_BUS_ADDRESS=unix:path="+sock)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestKeyringUnresponsiveChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n == 0 {
		t.Fatal("the child never connected to the unresponsive bus")
	}
}

// TestKeyringUnresponsiveChild is the child of TestKeyringUnresponsiveSecretService.
func TestKeyringUnresponsiveChild(t *testing.T) {
	if os.Getenv(unresponsiveChildEnv) != "1" {
		t.Skip("run by TestKeyringUnresponsiveSecretService")
	}
	k := NewKeyring(KeyringOptions{Service: "entra-helper-test", Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	_, err := k.Get(ctx, "profile/x/secret")
	want := "keyring: the Secret Service did not answer in 300ms; restart the Secret Service"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Get: %v, want an error with %q", err, want)
	}
	// The probe's connection is closed when it times out, so the worker is
	// not left stuck: the next call times out on its own.
	err = k.Set(ctx, "profile/x/secret", []byte("v"))
	if u, ok := AsUnavailable(err); !ok || u.Reason != KeychainTimeout || strings.Contains(err.Error(), "earlier request") {
		t.Fatalf("Set: %v", err)
	}
	t.Log("timed out as expected:", err)

	// The caller's own deadline, shorter than Timeout (the daemon's
	// start-up check): the same classified sentence, never the bare
	// "context deadline exceeded".
	k = NewKeyring(KeyringOptions{Service: "entra-helper-test", Timeout: 5 * time.Second})
	for i := 0; i < 3; i++ {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err = k.Get(cctx, "profile/x/secret")
		cancel()
		if u, ok := AsUnavailable(err); !ok || u.Reason != KeychainTimeout || !strings.Contains(err.Error(), "did not answer in") {
			t.Fatalf("Get with the caller's deadline: %v, want the classified timeout", err)
		}
	}
}

func TestKeyringClassifiesBackendFailures(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Reason
	}{
		{keyring.ErrSetDataTooBig, ItemTooLarge},
		{errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), KeychainLocked},
		{errors.New("Access is denied."), AccessDenied},
	} {
		fb := newFakeBackend()
		fb.setHook(func(op, _, _ string) error {
			if op == "set" {
				return c.err
			}
			return nil
		})
		k := NewKeyring(KeyringOptions{Service: "s", ConfigPath: "/etc/cfg.toml"})
		k.backend = fb
		err := k.Set(context.Background(), "profile/p/secret", []byte("v"))
		u, ok := AsUnavailable(err)
		if !ok || u.Reason != c.want {
			t.Errorf("backend error %q: %v, want %v", c.err, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), `store = "file"`) || !strings.Contains(err.Error(), "/etc/cfg.toml") {
			t.Errorf("%v: the fix names neither the file store nor the config file", err)
		}
	}
}

// deadlineProber is a backend whose probe waits for its context and
// returns the context's error, as the Secret Service probe does on a bus
// that never answers.
type deadlineProber struct{ *fakeBackend }

func (deadlineProber) probe(ctx context.Context, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

// The caller's deadline ends a stuck probe (the daemon's start-up check is
// shorter than Timeout): the answer is the classified timeout every time,
// whichever of the worker and the caller sees the deadline first.
func TestKeyringCallerDeadlineIsClassified(t *testing.T) {
	k := NewKeyring(KeyringOptions{Service: "s", Timeout: 5 * time.Second, ConfigPath: "/cfg/config.toml"})
	k.backend = deadlineProber{newFakeBackend()}
	for i := 0; i < 30; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, err := k.Get(ctx, "profile/x/secret")
		cancel()
		if u, ok := AsUnavailable(err); !ok || u.Reason != KeychainTimeout || !strings.Contains(err.Error(), `store = "file"`) {
			t.Fatalf("attempt %d: %v, want the classified timeout", i, err)
		}
	}
}
