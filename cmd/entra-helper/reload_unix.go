//go:build unix

package main

import "syscall"

// reloadDaemon asks the daemon with pid to reload its config (SIGHUP).
func reloadDaemon(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }
