//go:build windows

package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"github.com/entra-helper/entra-helper/internal/private"
)

func defaultSocketPath() (string, error) {
	// USERNAME is set by Windows for every logon; user.Current may ask a
	// domain controller, which the client must not wait for. A wrong
	// name is harmless: Dial checks who owns the pipe.
	name := os.Getenv("USERNAME")
	if name == "" {
		u, err := user.Current()
		if err != nil {
			return "", fmt.Errorf("ipc: finding the current user for the pipe name: %w", err)
		}
		name = u.Username
	}
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:] // DOMAIN\user: a pipe name may not hold a backslash
	}
	if name == "" {
		sid, err := currentSID()
		if err != nil {
			return "", err
		}
		name = sid
	}
	return `\\.\pipe\entra-helper-` + name, nil
}

// currentSID returns the string SID of the process's user (looked up once,
// by internal/private).
var currentSID = sync.OnceValues(func() (string, error) {
	sid, err := private.UserSID()
	if err != nil {
		return "", fmt.Errorf("ipc: %w", err)
	}
	return sid.String(), nil
})

// Listen creates the per-user daemon's named pipe at path, with a security
// descriptor that lets only the current user (and SYSTEM) open it. If the
// pipe exists and a daemon of this user answers, it returns an error
// matching ErrDaemonRunning; if another user holds it, ErrNotOwner.
func Listen(path string) (net.Listener, error) {
	sid, err := currentSID()
	if err != nil {
		return nil, err
	}
	return listenPipe(path, userPipeSDDL(sid))
}

// userPipeSDDL is the security descriptor of the per-user pipe of the user
// sid: owned by that user (named, not left to the token's default owner,
// which may be a group: Wine, for one, makes it the primary group, and the
// client refuses a pipe not owned by its user); a protected DACL denying
// network logons and granting full access to the user and SYSTEM only.
func userPipeSDDL(sid string) string {
	return "O:" + sid + "D:P(D;;GA;;;NU)(A;;GA;;;" + sid + ")(A;;GA;;;SY)"
}

// ListenShared is Listen for the system-wide service: every local
// authenticated user may open the pipe, and access control is entirely the Server's
// Authorize, which must be set. The owner is the token's default owner:
// for LocalSystem that is SYSTEM or BUILTIN\Administrators, both of which
// the client accepts for any pipe.
func ListenShared(path string) (net.Listener, error) {
	// 0x12019b is read and write without FILE_CREATE_PIPE_INSTANCE, so
	// other users cannot add server instances of the pipe.
	return listenPipe(path, "D:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;AU)")
}

func listenPipe(path, sddl string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("ipc: empty pipe name")
	}
	l, err := winio.ListenPipe(path, &winio.PipeConfig{
		SecurityDescriptor: sddl,
		InputBufferSize:    MaxMessageSize + headerSize,
		OutputBufferSize:   MaxMessageSize + headerSize,
	})
	if err == nil {
		if err := afterListen(path); err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	}
	// The pipe exists (ListenPipe insists on creating its first instance).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if conn, derr := Dial(ctx, path); derr == nil {
		conn.Close()
		return nil, fmt.Errorf("%w on %s: stop it first (or set %s to use another pipe)", ErrDaemonRunning, path, SocketEnv)
	} else if errors.Is(derr, ErrNotOwner) {
		return nil, derr
	}
	return nil, fmt.Errorf("ipc: creating the pipe %s: %w", path, err)
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	// Identification level lets the server read who we are, and nothing
	// more.
	return winio.DialPipeAccessImpLevel(ctx, path, windows.GENERIC_READ|windows.GENERIC_WRITE, winio.PipeImpLevelIdentification)
}

func isNoDaemon(err error) bool {
	return errors.Is(err, windows.ERROR_FILE_NOT_FOUND) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND)
}

func pipeHandle(conn net.Conn) (windows.Handle, error) {
	f, ok := conn.(interface{ Fd() uintptr })
	if !ok {
		return 0, fmt.Errorf("%w: %T is not a named pipe", ErrPeerUnsupported, conn)
	}
	return windows.Handle(f.Fd()), nil
}

// verifyServer checks that the pipe is owned by the current user, SYSTEM or
// the Administrators group, so that a pipe squatted by another user never
// receives a request.
func verifyServer(conn net.Conn, path string) error {
	h, err := pipeHandle(conn)
	if err != nil {
		return err
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("ipc: reading the owner of %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("ipc: reading the owner of %s: %v", path, err)
	}
	if !(Peer{SID: owner.String()}).IsSelfOrAdmin() {
		sid, _ := currentSID()
		return fmt.Errorf("%w: %s is owned by %s, not %s", ErrNotOwner, path, owner.String(), sid)
	}
	return nil
}

var procImpersonateNamedPipeClient = windows.NewLazySystemDLL("advapi32.dll").NewProc("ImpersonateNamedPipeClient")

// PeerOf returns the credentials of the process at the other end of conn,
// a named pipe connection: the pipe client's user and groups from its token
// (read by impersonating the client at identification level, which Windows
// allows only after data was read from the pipe) and its process id.
func PeerOf(conn net.Conn) (Peer, error) {
	h, err := pipeHandle(conn)
	if err != nil {
		return Peer{}, err
	}
	var p Peer
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(h, &pid); err == nil {
		p.PID = int32(pid)
	}
	sid, groups, err := clientSID(h)
	if err != nil {
		return Peer{}, fmt.Errorf("ipc: reading the pipe client's identity: %w", err)
	}
	p.SID, p.GroupSIDs = sid, groups
	return p, nil
}

// clientSID impersonates the pipe's client on a locked OS thread and reads
// the user SID and the enabled group SIDs of the thread's token.
func clientSID(h windows.Handle) (string, []string, error) {
	runtime.LockOSThread()
	r, _, e := procImpersonateNamedPipeClient.Call(uintptr(h))
	if r == 0 {
		runtime.UnlockOSThread()
		return "", nil, e
	}
	var tok windows.Token
	err := windows.OpenThreadToken(windows.CurrentThread(), windows.TOKEN_QUERY, true, &tok)
	if rerr := windows.RevertToSelf(); rerr != nil {
		// Leave the thread locked: the runtime discards it when this
		// goroutine ends, rather than reuse an impersonating thread.
		if err == nil {
			tok.Close()
		}
		return "", nil, rerr
	}
	runtime.UnlockOSThread()
	if err != nil {
		return "", nil, err
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return "", nil, err
	}
	var groups []string
	if tg, err := tok.GetTokenGroups(); err == nil {
		for _, g := range tg.AllGroups() {
			if g.Attributes&windows.SE_GROUP_ENABLED != 0 && g.Attributes&windows.SE_GROUP_USE_FOR_DENY_ONLY == 0 {
				groups = append(groups, g.Sid.String())
			}
		}
	}
	return tu.User.Sid.String(), groups, nil
}

// PeerKnownAfterRead tells whether PeerOf works only once the client has
// sent something: Windows impersonates a pipe client only after reading
// from the pipe. The pipe's DACL keeps other users out of the per-user pipe
// meanwhile.
const PeerKnownAfterRead = true

// IsSelfOrAdmin reports whether p is the current process's user (by SID),
// SYSTEM or the Administrators group. It is the one owner check of the
// project: the client applies it to the pipe it dials, the daemon to its
// peers.
func (p Peer) IsSelfOrAdmin() bool {
	switch p.SID {
	case "":
		return false
	case localSystemSID, administratorsSID:
		return true
	}
	sid, err := currentSID()
	return err == nil && p.SID == sid
}

// Well-known SIDs of SYSTEM and the Administrators group.
const (
	localSystemSID    = "S-1-5-18"
	administratorsSID = "S-1-5-32-544"
)

// Self returns the current process as a Peer: its user's SID and its pid
// (the SID is empty if it cannot be read).
func Self() Peer {
	sid, _ := currentSID()
	return Peer{SID: sid, PID: int32(os.Getpid())}
}
