//go:build unix

package ipc

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

func defaultSocketPath() (string, error) {
	if runtime.GOOS != "darwin" {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
			return filepath.Join(dir, "entra-helper", "daemon.sock"), nil
		}
	} else if dir, err := os.UserCacheDir(); err == nil && filepath.IsAbs(dir) {
		p := filepath.Join(dir, "entra-helper", "daemon.sock")
		if len(p) <= maxSocketPath {
			return p, nil
		}
	}
	dir := filepath.Join(os.TempDir(), "entra-helper-"+strconv.Itoa(os.Getuid()))
	return filepath.Join(dir, "daemon.sock"), nil
}
