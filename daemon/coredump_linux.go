package daemon

import (
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
