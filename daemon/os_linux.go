package daemon

import (
	"os"
	"strconv"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// disableCoreDumps keeps secrets out of core files and stops other
// processes of the same user from ptrace-attaching or reading /proc/PID/mem.
func disableCoreDumps(log *zap.Logger) {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		log.Warn("cannot disable core dumps", zap.Error(err))
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		log.Warn("cannot mark the process non-dumpable", zap.Error(err))
	}
}

// peerExecutable is the executable of process pid, "" if unknown.
func peerExecutable(pid int32) string {
	if pid <= 0 {
		return ""
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(int(pid)) + "/exe")
	if err != nil {
		return ""
	}
	return exe
}

func platformOpener(url string) (string, []string) { return "xdg-open", []string{url} }
