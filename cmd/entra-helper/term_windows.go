//go:build windows

package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// isTerminal reports whether f is a console.
func isTerminal(f *os.File) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(f.Fd()), &mode) == nil
}

// readSecretTerminal prints prompt to out and reads one line from the
// console in with echo off, restoring the console mode afterwards.
func readSecretTerminal(in *os.File, out io.Writer, prompt string) (string, error) {
	h := windows.Handle(in.Fd())
	var old uint32
	if err := windows.GetConsoleMode(h, &old); err != nil {
		return "", fmt.Errorf("reading the console mode: %w", err)
	}
	mode := old&^windows.ENABLE_ECHO_INPUT | windows.ENABLE_PROCESSED_INPUT | windows.ENABLE_LINE_INPUT
	fmt.Fprint(out, prompt)
	if err := windows.SetConsoleMode(h, mode); err != nil {
		return "", fmt.Errorf("turning the console's echo off: %w", err)
	}
	defer func() {
		windows.SetConsoleMode(h, old)
		fmt.Fprintln(out)
	}()
	return readLine(in)
}
