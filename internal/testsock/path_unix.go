//go:build unix

package testsock

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns a socket path in a fresh private directory (not yet
// created: Listen creates it), short enough for sun_path.
func Path(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ipc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "d", "daemon.sock")
}
