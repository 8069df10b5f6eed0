package access

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/entra-helper/entra-helper/ipc"
)

// processGroups reads the supplementary groups of the peer's process from
// /proc/PID/status: the groups the kernel checks for it. It reports false
// when the process is gone or no longer runs as the peer's uid (its pid
// was reused), so the caller falls back to the user database.
func processGroups(peer ipc.Peer) ([]uint32, bool) {
	if peer.PID <= 0 {
		return nil, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(peer.PID)) + "/status")
	if err != nil {
		return nil, false
	}
	var groups []uint32
	uidOK, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Uid:"):
			f := strings.Fields(line[4:])
			uidOK = len(f) >= 2 && f[1] == strconv.FormatUint(uint64(peer.UID), 10) // the effective uid
		case strings.HasPrefix(line, "Groups:"):
			found = true
			for _, s := range strings.Fields(line[7:]) {
				if n, err := strconv.ParseUint(s, 10, 32); err == nil {
					groups = append(groups, uint32(n))
				}
			}
		}
	}
	return groups, uidOK && found
}

// executable is the executable of process pid, "" if unknown.
func executable(pid int32) string {
	if pid <= 0 {
		return ""
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(int(pid)) + "/exe")
	if err != nil {
		return ""
	}
	return exe
}
