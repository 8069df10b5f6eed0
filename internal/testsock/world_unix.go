//go:build unix

package testsock

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// NobodyUID is the uid and gid AsNobody runs a child as.
const NobodyUID = 65534

// World makes a directory every user may enter and write, holding a copy
// of the running test binary that another user can run; both are removed
// when the test ends. It skips the test unless it runs as root, the only
// user that may start a process as another (AsNobody).
func World(t testing.TB) (dir, bin string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
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

// AsNobody returns a command that runs bin (from World) as uid and gid
// NobodyUID, with env as its whole environment and no test selected: the
// test binary's TestMain acts as the child when it sees its variable.
func AsNobody(bin string, env ...string) *exec.Cmd {
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: NobodyUID, Gid: NobodyUID}}
	return cmd
}
