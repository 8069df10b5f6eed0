// Package testsock gives tests of the socket code what they share: a fresh
// socket path (a pipe name on Windows) and, for tests that run a child as
// another user, a directory anyone may use holding a copy of the test
// binary.
package testsock

import (
	"os"
	"path/filepath"
	"testing"
)

// World makes a directory every user may enter and write, holding a copy
// of the running test binary that another user can run; both are removed
// when the test ends.
func World(t testing.TB) (dir, bin string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "testsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, filepath.Base(exe))
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}
