//go:build !windows

package daemon

import "syscall"

// addrInUse is the error a listen on a taken port fails with.
const addrInUse = syscall.EADDRINUSE
