//go:build unix

package ipc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// maxSocketPath is the longest socket path every Unix accepts (macOS and
// the BSDs have 104 bytes of sun_path, including the terminating NUL).
const maxSocketPath = 103

// Listen creates the per-user daemon's socket at path. The parent directory
// is created with mode 0700 if missing; an existing one must be a directory
// (not a symlink) owned by the current user with no group or other access,
// else Listen refuses it. Since nobody else can enter that directory, no
// other user can connect in the moment between the socket's creation and its
// chmod to 0600. A lock file next to the socket (path + ".lock") is held while
// the listener is open, so two daemons never race for the path. A leftover
// socket is removed if nothing answers on it; if a daemon answers, Listen
// returns an error matching ErrDaemonRunning. Closing the listener removes the
// socket.
func Listen(path string) (net.Listener, error) {
	return listen(path, false)
}

// ListenShared is Listen for the system-wide service, whose socket every
// local user may connect to: the directory must be owned by the current user
// and not writable by group or others (0755 is created if missing), and the
// socket is 0666. Access control is then entirely the Server's Authorize,
// which must be set.
func ListenShared(path string) (net.Listener, error) {
	return listen(path, true)
}

func listen(path string, shared bool) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("ipc: empty socket path")
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("ipc: socket path %s is too long (%d bytes, the limit is %d): set %s to a shorter path",
			path, len(path), maxSocketPath, SocketEnv)
	}
	dirMode, sockMode := fs.FileMode(0o700), fs.FileMode(0o600)
	if shared {
		dirMode, sockMode = 0o755, 0o666
	}
	dir := filepath.Dir(path)
	if err := prepareDir(dir, dirMode, shared); err != nil {
		return nil, err
	}
	lock, err := lockSocket(path)
	if err != nil {
		if errors.Is(err, errLocked) {
			return nil, daemonRunning(path)
		}
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ipc: listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, sockMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("ipc: setting the mode of %s: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("ipc: checking %s: %w", path, err)
	}
	ok = true
	return &unixListener{UnixListener: l, lock: lock, path: path, fi: fi}, nil
}

func daemonRunning(path string) error {
	return fmt.Errorf("%w on %s: stop it first (or set %s to use another socket)", ErrDaemonRunning, path, SocketEnv)
}

// prepareDir creates dir with mode if it is missing and checks that it is
// private: a real directory owned by the effective uid, without group or
// other access (shared: without group or other write access).
func prepareDir(dir string, mode fs.FileMode, shared bool) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, mode); err != nil {
			return fmt.Errorf("ipc: creating %s: %w", dir, err)
		}
		// The umask may have removed bits we need; never adds any.
		if err := os.Chmod(dir, mode); err != nil {
			return fmt.Errorf("ipc: setting the mode of %s: %w", dir, err)
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("ipc: checking %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("ipc: %s is not a directory (%s): refusing to use it; remove it or set %s to a socket elsewhere", dir, fi.Mode().Type(), SocketEnv)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("ipc: cannot read the owner of %s", dir)
	}
	uid := uint32(os.Geteuid())
	if uint32(st.Uid) != uid {
		return fmt.Errorf("ipc: directory %s is owned by uid %d, not %d: refusing to use it; remove it or set %s to a socket elsewhere", dir, st.Uid, uid, SocketEnv)
	}
	bad := fs.FileMode(0o077)
	if shared {
		bad = 0o022
	}
	if fi.Mode().Perm()&bad != 0 {
		return fmt.Errorf("ipc: directory %s has mode %04o (group or others may use it): refusing to use it; run chmod 700 %s",
			dir, uint32(fi.Mode().Perm()), dir)
	}
	return nil
}

// removeStale removes a socket left at path by a daemon that is gone. It
// refuses to remove anything that is not a socket, and reports
// ErrDaemonRunning if a daemon answers there.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ipc: checking %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("ipc: %s exists and is not a socket: refusing to replace it; move it away or set %s to another path", path, SocketEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := dial(ctx, path)
	if err == nil {
		conn.Close()
		return daemonRunning(path)
	}
	if !isNoDaemon(err) {
		return fmt.Errorf("ipc: checking whether a daemon answers on %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ipc: removing the stale socket %s: %w", path, err)
	}
	return nil
}

// unixListener removes its socket and then releases the lock on Close.
type unixListener struct {
	*net.UnixListener
	lock      *os.File
	path      string
	fi        fs.FileInfo // the socket as created: Lost compares path with it
	mu        sync.Mutex  // orders Lost's SetUnlinkOnClose before Close
	closeOnce sync.Once
	closeErr  error
}

func (l *unixListener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.closeErr = l.UnixListener.Close() // unlinks the socket (unless Lost said it is not ours)
		l.lock.Close()                      // releases the lock
	})
	return l.closeErr
}

// Lost returns why the listener's path no longer names its socket (it
// was deleted, with its directory or alone, or replaced, perhaps by
// another daemon), so that no client can reach it; nil while it does.
// Once lost, Close leaves the path alone.
func (l *unixListener) Lost() error {
	fi, err := os.Lstat(l.path)
	if err == nil && os.SameFile(fi, l.fi) { // same device and inode
		return nil
	}
	l.mu.Lock()
	l.SetUnlinkOnClose(false)
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("ipc: the socket %s is gone: %w", l.path, err)
	}
	return fmt.Errorf("ipc: %s is another file now (another daemon's socket?)", l.path)
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENOTDIR)
}
