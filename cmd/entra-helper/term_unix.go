//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}

// readSecretTerminal prints prompt to out and reads one line from the
// terminal in with echo off. The terminal's state is restored afterwards,
// and on an interrupt before the process exits.
func readSecretTerminal(in *os.File, out io.Writer, prompt string) (string, error) {
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return "", fmt.Errorf("reading the terminal's settings: %w", err)
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	noEcho.Iflag |= unix.ICRNL

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	defer func() {
		signal.Stop(sigs)
		close(done)
	}()
	go func() {
		select {
		case <-sigs:
			unix.IoctlSetTermios(fd, ioctlSetTermios, old)
			fmt.Fprintln(out)
			os.Exit(130)
		case <-done:
		}
	}()

	fmt.Fprint(out, prompt)
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &noEcho); err != nil {
		return "", fmt.Errorf("turning the terminal's echo off: %w", err)
	}
	line, rerr := readLine(in)
	unix.IoctlSetTermios(fd, ioctlSetTermios, old)
	fmt.Fprintln(out)
	return line, rerr
}
