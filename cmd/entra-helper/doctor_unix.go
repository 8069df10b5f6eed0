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
	dir := filepath.Dir(path)
	uid := uint32(os.Geteuid())
	owner := func(fi fs.FileInfo) (uint32, bool) {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return 0, false
		}
		return uint32(st.Uid), true
	}
	ownerOK := func(u uint32) bool { return u == uid || shared && u == 0 }
	bad := fs.FileMode(0o077)
	want := "0700"
	if shared {
		bad, want = 0o022, "0755"
	}

	dfi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Message = fmt.Sprintf("%s: the directory %s does not exist (no daemon has run with this socket path)", path, dir)
		c.Fix = "start entra-helperd: it creates the directory with mode 0700"
		return c
	case err != nil:
		c.Message = fmt.Sprintf("%s: cannot check the directory: %v", path, err)
		return c
	case dfi.Mode()&fs.ModeSymlink != 0 || !dfi.IsDir():
		c.Message = fmt.Sprintf("%s is not a directory (%s): the daemon refuses it", dir, dfi.Mode().Type())
		c.Fix = "remove it, or set " + ipc.SocketEnv + " to a path in a private directory"
		return c
	}
	if u, ok := owner(dfi); ok && !ownerOK(u) {
		c.Message = fmt.Sprintf("the directory %s is owned by uid %d, not you (uid %d): the daemon refuses it", dir, u, uid)
		c.Fix = "remove it (entra-helperd recreates it), or set " + ipc.SocketEnv + " to a path in your own directory"
		return c
	}
	if m := dfi.Mode().Perm(); m&bad != 0 {
		c.Message = fmt.Sprintf("the directory %s has mode %04o: other users may reach the socket, and the daemon refuses to start there", dir, uint32(m))
		c.Fix = fmt.Sprintf("chmod %s %s", want[1:], dir)
		return c
	}

	sfi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Message = fmt.Sprintf("%s: no socket (directory %04o, yours): no daemon is running", path, uint32(dfi.Mode().Perm()))
		c.Fix = "start entra-helperd (or `entra-helperd service start`)"
		return c
	case err != nil:
		c.Message = fmt.Sprintf("%s: cannot check the socket: %v", path, err)
		return c
	case sfi.Mode().Type() != fs.ModeSocket:
		c.Message = fmt.Sprintf("%s is not a socket (%s): the daemon cannot listen there", path, sfi.Mode().Type())
		c.Fix = "remove it, or set " + ipc.SocketEnv + " to another path"
		return c
	}
	if u, ok := owner(sfi); ok && !ownerOK(u) {
		c.Message = fmt.Sprintf("the socket %s is owned by uid %d, not you (uid %d)", path, u, uid)
		c.Fix = "stop the other user's daemon, or set " + ipc.SocketEnv + " to your own socket"
		return c
	}
	c.Level = ipc.CheckOK
	c.Message = fmt.Sprintf("%s (directory %04o, socket %04o, owned by uid %d)", path,
		uint32(dfi.Mode().Perm()), uint32(sfi.Mode().Perm()), uid)
	if shared {
		c.Message = fmt.Sprintf("%s (the system service's shared socket; directory %04o, socket %04o)", path,
			uint32(dfi.Mode().Perm()), uint32(sfi.Mode().Perm()))
	} else if m := sfi.Mode().Perm(); m&0o077 != 0 {
		c.Level = ipc.CheckWarn
		c.Message = fmt.Sprintf("%s has mode %04o: only its private directory keeps other users out", path, uint32(m))
		c.Fix = "restart entra-helperd (it creates the socket 0600)"
	}
	return c
}
