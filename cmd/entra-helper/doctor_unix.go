//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/entra-helper/entra-helper/ipc"
)

// checkSocket checks the socket at path and its directory the way the
// daemon's Listen wants them: a real directory owned by the user (root for
// the system service's shared one) without group or other access (shared:
// without their write access), and a socket of the same owner.
func checkSocket(path string, shared bool) ipc.Check {
	c := ipc.Check{Name: "socket", Level: ipc.CheckFail}
	r := newSocketRule(shared)
	dfi, ok := checkSocketDir(&c, path, r)
	if !ok {
		return c
	}
	sfi, ok := checkSocketFile(&c, path, dfi, r)
	if !ok {
		return c
	}
	describeSocket(&c, path, dfi, sfi, r)
	return c
}

// socketRule is who may own the socket and its directory, and the mode
// bits the directory must not have.
type socketRule struct {
	uid    uint32
	shared bool
	bad    fs.FileMode
	want   string // the directory's mode to suggest
}

func newSocketRule(shared bool) socketRule {
	r := socketRule{uid: uint32(os.Geteuid()), shared: shared, bad: 0o077, want: "0700"}
	if shared {
		r.bad, r.want = 0o022, "0755"
	}
	return r
}

// foreignOwner returns fi's owner and whether the rule refuses it (not the
// user; root too for the shared socket).
func (r socketRule) foreignOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	u := uint32(st.Uid)
	return u, !(u == r.uid || r.shared && u == 0)
}

// checkSocketDir checks the socket's directory; false with c filled in
// when it fails.
func checkSocketDir(c *ipc.Check, path string, r socketRule) (fs.FileInfo, bool) {
	dir := filepath.Dir(path)
	dfi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Message = fmt.Sprintf("%s: the directory %s does not exist (no daemon has run with this socket path)", path, dir)
		c.Fix = "start entra-helperd: it creates the directory with mode 0700"
		return nil, false
	case err != nil:
		c.Message = fmt.Sprintf("%s: cannot check the directory: %v", path, err)
		return nil, false
	case dfi.Mode()&fs.ModeSymlink != 0 || !dfi.IsDir():
		c.Message = fmt.Sprintf("%s is not a directory (%s): the daemon refuses it", dir, dfi.Mode().Type())
		c.Fix = "remove it, or set " + ipc.SocketEnv + " to a path in a private directory"
		return nil, false
	}
	if u, foreign := r.foreignOwner(dfi); foreign {
		c.Message = fmt.Sprintf("the directory %s is owned by uid %d, not you (uid %d): the daemon refuses it", dir, u, r.uid)
		c.Fix = "remove it (entra-helperd recreates it), or set " + ipc.SocketEnv + " to a path in your own directory"
		return nil, false
	}
	if m := dfi.Mode().Perm(); m&r.bad != 0 {
		c.Message = fmt.Sprintf("the directory %s has mode %04o: other users may reach the socket, and the daemon refuses to start there", dir, uint32(m))
		c.Fix = fmt.Sprintf("chmod %s %s", r.want[1:], dir)
		return nil, false
	}
	return dfi, true
}

// checkSocketFile checks the socket itself; false with c filled in when it
// fails.
func checkSocketFile(c *ipc.Check, path string, dfi fs.FileInfo, r socketRule) (fs.FileInfo, bool) {
	sfi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Message = fmt.Sprintf("%s: no socket (directory %04o, yours): no daemon is running", path, uint32(dfi.Mode().Perm()))
		c.Fix = "start entra-helperd (or `entra-helperd service start`)"
		return nil, false
	case err != nil:
		c.Message = fmt.Sprintf("%s: cannot check the socket: %v", path, err)
		return nil, false
	case sfi.Mode().Type() != fs.ModeSocket:
		c.Message = fmt.Sprintf("%s is not a socket (%s): the daemon cannot listen there", path, sfi.Mode().Type())
		c.Fix = "remove it, or set " + ipc.SocketEnv + " to another path"
		return nil, false
	}
	if u, foreign := r.foreignOwner(sfi); foreign {
		c.Message = fmt.Sprintf("the socket %s is owned by uid %d, not you (uid %d)", path, u, r.uid)
		c.Fix = "stop the other user's daemon, or set " + ipc.SocketEnv + " to your own socket"
		return nil, false
	}
	return sfi, true
}

// describeSocket fills in c for a socket that passed: OK, or a warning for
// a per-user socket whose own mode lets others in.
func describeSocket(c *ipc.Check, path string, dfi, sfi fs.FileInfo, r socketRule) {
	c.Level = ipc.CheckOK
	c.Message = fmt.Sprintf("%s (directory %04o, socket %04o, owned by uid %d)", path,
		uint32(dfi.Mode().Perm()), uint32(sfi.Mode().Perm()), r.uid)
	if r.shared {
		c.Message = fmt.Sprintf("%s (the system service's shared socket; directory %04o, socket %04o)", path,
			uint32(dfi.Mode().Perm()), uint32(sfi.Mode().Perm()))
	} else if m := sfi.Mode().Perm(); m&0o077 != 0 {
		c.Level = ipc.CheckWarn
		c.Message = fmt.Sprintf("%s has mode %04o: only its private directory keeps other users out", path, uint32(m))
		c.Fix = "restart entra-helperd (it creates the socket 0600)"
	}
}
