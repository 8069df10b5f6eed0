//go:build windows

package main

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// detachedAttr starts a daemon without a console and in its own process
// group, so closing the client's console does not end it.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP,
		HideWindow:    true,
	}
}
