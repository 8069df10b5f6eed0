//go:build unix

package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/testsock"
)

func TestMain(m *testing.M) {
	if p := os.Getenv("IPC_TEST_CHILD_LISTEN"); p != "" {
		os.Exit(childListen(p))
	}
	os.Exit(m.Run())
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestListenCreatesPrivateDirAndSocket(t *testing.T) {
	path := testPath(t)
	old := syscall.Umask(0) // the modes must not depend on the umask
	defer syscall.Umask(old)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Dir(path)); m != fs.ModeDir|0o700 {
		t.Errorf("directory mode %v, want drwx------", m)
	}
	if m := mode(t, path); m != fs.ModeSocket|0o600 {
		t.Errorf("socket mode %v, want Srw-------", m)
	}
	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after Close: %v", err)
	}
	// The lock is released: listening again works.
	l, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	l.Close()
}

func TestListenSharedModes(t *testing.T) {
	path := testPath(t)
	l, err := ListenShared(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if m := mode(t, path); m != fs.ModeSocket|0o666 {
		t.Errorf("socket mode %v, want Srw-rw-rw-", m)
	}
	if m := mode(t, filepath.Dir(path)).Perm(); m&0o022 != 0 {
		t.Errorf("directory mode %v is writable by others", m)
	}
}

func TestListenRefusesUnsafeDirectory(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"group readable", func(t *testing.T, dir string) { must(t, os.Mkdir(dir, 0o750)); must(t, os.Chmod(dir, 0o750)) }, "has mode 0750"},
		{"world writable", func(t *testing.T, dir string) { must(t, os.Mkdir(dir, 0o777)); must(t, os.Chmod(dir, 0o777)) }, "has mode 0777"},
		{"a file", func(t *testing.T, dir string) { must(t, os.WriteFile(dir, nil, 0o600)) }, "not a directory"},
		{"a symlink", func(t *testing.T, dir string) {
			target := dir + "-target"
			must(t, os.Mkdir(target, 0o700))
			must(t, os.Symlink(target, dir))
		}, "not a directory"},
		{"other owner", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give a directory away")
			}
			must(t, os.Mkdir(dir, 0o700))
			must(t, os.Chown(dir, 65534, 65534))
		}, "owned by uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testPath(t)
			tt.setup(t, filepath.Dir(path))
			l, err := Listen(path)
			if err == nil {
				l.Close()
				t.Fatal("Listen accepted the directory")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "refusing") {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := testPath(t)
	must(t, os.Mkdir(filepath.Dir(path), 0o700))
	// A daemon that died without removing its socket.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	must(t, err)
	old.SetUnlinkOnClose(false)
	old.Close()
	if mode(t, path).Type() != fs.ModeSocket {
		t.Fatal("setup: no stale socket")
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	go answerOne(l, &Response{Token: &Token{AccessToken: "tok"}})
	if _, err := Call(testCtx(t), path, &Request{Op: OpToken}, nil); err != nil {
		t.Fatalf("calling the new listener: %v", err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := testPath(t)
	must(t, os.Mkdir(filepath.Dir(path), 0o700))
	must(t, os.WriteFile(path, []byte("precious"), 0o600))
	if l, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("err = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("the file was replaced")
	}
}

func TestListenLiveSocket(t *testing.T) {
	t.Run("our daemon", func(t *testing.T) {
		path := testPath(t)
		l, err := Listen(path)
		must(t, err)
		defer l.Close()
		l2, err := Listen(path)
		if !errors.Is(err, ErrDaemonRunning) {
			if l2 != nil {
				l2.Close()
			}
			t.Fatalf("second Listen: %v, want ErrDaemonRunning", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("message %q does not name the socket", err)
		}
	})
	t.Run("a daemon without the lock", func(t *testing.T) {
		path := testPath(t)
		must(t, os.Mkdir(filepath.Dir(path), 0o700))
		other, err := net.Listen("unix", path)
		must(t, err)
		defer other.Close()
		if l, err := Listen(path); !errors.Is(err, ErrDaemonRunning) {
			if l != nil {
				l.Close()
			}
			t.Fatalf("Listen on a live socket: %v, want ErrDaemonRunning", err)
		}
	})
}

func TestListenPathTooLong(t *testing.T) {
	path := "/tmp/" + strings.Repeat("x", 120) + "/daemon.sock"
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("err = %v", err)
	}
}

func TestPeerOfRealConnection(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("peer credentials are read on Linux and macOS")
	}
	path := testPath(t)
	l, err := Listen(path)
	must(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err := Dial(testCtx(t), path)
	must(t, err)
	defer client.Close()
	server := <-accepted
	defer server.Close()
	for name, c := range map[string]net.Conn{"server side": server, "client side": client} {
		p, err := PeerOf(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.UID != uint32(os.Getuid()) || p.PID != int32(os.Getpid()) || p.GID != uint32(os.Getegid()) {
			t.Errorf("%s: peer %+v, want uid %d gid %d pid %d", name, p, os.Getuid(), os.Getegid(), os.Getpid())
		}
	}
}

func TestPeerOfNonSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := PeerOf(a); !errors.Is(err, ErrPeerUnsupported) {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaultSocketPath(t *testing.T) {
	t.Setenv(SocketEnv, "/x/y.sock")
	if p, err := DefaultSocketPath(); err != nil || p != "/x/y.sock" {
		t.Fatalf("with %s: %q, %v", SocketEnv, p, err)
	}
	t.Setenv(SocketEnv, "")
	if runtime.GOOS == "linux" {
		t.Setenv("XDG_RUNTIME_DIR", "/run/user/1234")
		if p, _ := DefaultSocketPath(); p != "/run/user/1234/entra-helper/daemon.sock" {
			t.Fatalf("with XDG_RUNTIME_DIR: %q", p)
		}
		t.Setenv("XDG_RUNTIME_DIR", "")
		want := filepath.Join(os.TempDir(), fmt.Sprintf("entra-helper-%d", os.Getuid()), "daemon.sock")
		if p, _ := DefaultSocketPath(); p != want {
			t.Fatalf("without XDG_RUNTIME_DIR: %q, want %q", p, want)
		}
	}
	if SystemSocketPath() != "/run/entra-helper/daemon.sock" {
		t.Fatal(SystemSocketPath())
	}
}

// childListen is the child process of TestDialRefusesServerOfOtherUser: it
// serves path until its stdin closes.
func childListen(path string) int {
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	os.Chmod(path, 0o777)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestDialRefusesServerOfOtherUser checks that a client never talks to a
// socket served by another (non-root) user, such as a squatter in /tmp.
func TestDialRefusesServerOfOtherUser(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("peer credentials are read on Linux and macOS")
	}
	dir, bin := testsock.World(t)
	path := filepath.Join(dir, "squat.sock")
	cmd := testsock.AsNobody(bin, "IPC_TEST_CHILD_LISTEN="+path)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	defer cmd.Wait()
	defer stdin.Close()
	line := make([]byte, 6)
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	_, err = Call(testCtx(t), path, &Request{Op: OpLogin, Login: &LoginRequest{ClientSecret: "s"}}, nil)
	if !errors.Is(err, ErrNotOwner) || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("err = %v, want ErrNotOwner", err)
	}
}

// answerOne answers the first request on l with resp.
func answerOne(l net.Listener, resp *Response) {
	c, err := l.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	var req Request
	if ReadMessage(c, &req) == nil {
		r := *resp
		r.V = ProtocolVersion
		WriteMessage(c, &r)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
