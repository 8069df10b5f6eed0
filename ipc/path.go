package ipc

import "os"

// SocketEnv names the environment variable that overrides the socket path
// (the pipe name on Windows).
const SocketEnv = "ENTRA_HELPER_SOCKET"

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
