package ipc

import (
	"os"
	"runtime"
)

// SocketEnv names the environment variable that overrides the socket path
// (the pipe name on Windows).
const SocketEnv = "ENTRA_HELPER_SOCKET"

// The system service's socket (pipe on Windows) per OS: the one place where
// they are written. The service definitions start the daemon with --system,
// which listens here, and the client dials here when no per-user daemon
// answers.
const (
	LinuxSystemSocket   = "/run/entra-helper/daemon.sock"
	DarwinSystemSocket  = "/var/run/entra-helper/daemon.sock" // macOS has no /run
	WindowsSystemSocket = `\\.\pipe\entra-helper`
)

// SystemSocketPathFor returns the system service's socket on goos (a
// runtime.GOOS value); other Unix systems use /var/run like macOS.
func SystemSocketPathFor(goos string) string {
	switch goos {
	case "linux":
		return LinuxSystemSocket
	case "windows":
		return WindowsSystemSocket
	default:
		return DarwinSystemSocket
	}
}

// SystemSocketPath returns the system service's socket on this OS.
func SystemSocketPath() string { return SystemSocketPathFor(runtime.GOOS) }

// DefaultSocketPath returns the per-user daemon's socket path: $ENTRA_HELPER_SOCKET
// if set; else on Linux $XDG_RUNTIME_DIR/entra-helper/daemon.sock; else on
// macOS <os.UserCacheDir>/entra-helper/daemon.sock; else
// <os.TempDir>/entra-helper-<uid>/daemon.sock. On Windows it is the pipe
// \\.\pipe\entra-helper-<user>. The directory is created (0700) by Listen.
func DefaultSocketPath() (string, error) {
	if p := os.Getenv(SocketEnv); p != "" {
		return p, nil
	}
	return defaultSocketPath()
}
