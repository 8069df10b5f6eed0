//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// detachedAttr puts a started daemon in a new session, away from the
// client's terminal and its signals.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// passNotify hands w to the child as its descriptor 3 and returns that
// number for ipc.NotifyFDEnv.
func passNotify(cmd *exec.Cmd, w *os.File) (string, error) {
	cmd.ExtraFiles = []*os.File{w}
	return "3", nil
}
