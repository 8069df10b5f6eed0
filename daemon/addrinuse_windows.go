package daemon

import "golang.org/x/sys/windows"

// addrInUse is the error a listen on a taken port fails with: Windows's
// bind answers WSAEADDRINUSE, which is not syscall.EADDRINUSE.
const addrInUse = windows.WSAEADDRINUSE
