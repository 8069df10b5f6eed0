//go:build windows && !winetest

package ipc

// afterListen runs right after a pipe's listener is created. Windows needs
// nothing here; the Wine test build (tag winetest) swaps in a work-around.
func afterListen(string) error { return nil }
