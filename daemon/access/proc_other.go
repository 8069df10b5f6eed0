//go:build !linux && !windows

package access

import "github.com/entra-helper/entra-helper/ipc"

// processGroups is unknown here: the caller uses the peer's reported
// groups and the user database.
func processGroups(ipc.Peer) ([]uint32, bool) { return nil, false }

// executable is unknown on this OS.
func executable(int32) string { return "" }
