//go:build unix

package ipcserver

import (
	"os"
	"path/filepath"
	"testing"
)

// testPath returns a socket path in a fresh private directory, short enough
// for sun_path.
func testPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ipc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "d", "daemon.sock")
}
