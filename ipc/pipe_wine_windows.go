//go:build windows && winetest

package ipc

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// afterListen, in the Wine test build only (tag winetest, never in a
// release build): Wine lets a client connect to go-winio's first pipe
// instance, the one created with SYNCHRONIZE access only and never
// accepted on, where real Windows keeps it disconnected. So the first
// client would wait forever. Opening and closing one client handle takes
// that instance out of the way.
func afterListen(path string) error {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, 0, 0)
	if err == windows.ERROR_PIPE_BUSY {
		return nil // a client took it first: that one waits in vain, others are served
	}
	if err != nil {
		return fmt.Errorf("ipc (winetest): taking the first instance of %s: %w", path, err)
	}
	return windows.CloseHandle(h)
}
