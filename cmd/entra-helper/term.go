package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// isTerminal reports whether f is a terminal (a console on Windows).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// readSecretTerminal prints prompt to out and reads one line from the
// terminal in with echo off (x/term). The terminal's state is restored
// afterwards, and on an interrupt before the process exits.
func readSecretTerminal(in *os.File, out io.Writer, prompt string) (string, error) {
	fd := int(in.Fd())
	old, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("cannot read the terminal's settings (%w); pipe the secret to stdin instead", err)
	}
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
			term.Restore(fd, old)
			fmt.Fprintln(out)
			os.Exit(130)
		case <-done:
		}
	}()

	fmt.Fprint(out, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(out)
	if errors.Is(err, io.EOF) {
		return "", nil // an empty line, as at a bare Enter
	}
	if err != nil {
		return "", fmt.Errorf("cannot read from the terminal with echo off (%w); pipe the secret to stdin instead", err)
	}
	if len(b) > maxSecret {
		return "", errors.New("the input is too long")
	}
	return string(b), nil
}
