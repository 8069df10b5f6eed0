//go:build unix

package main

import "syscall"

// detachedAttr puts a started daemon in a new session, away from the
// client's terminal and its signals.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
