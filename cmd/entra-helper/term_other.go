//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package main

import (
	"errors"
	"io"
	"os"
)

// isTerminal reports false: this system has no terminal support here, so
// secrets are read from stdin as piped input.
func isTerminal(f *os.File) bool { return false }

func readSecretTerminal(in *os.File, out io.Writer, prompt string) (string, error) {
	return "", errors.New("no-echo prompts are not supported on this system; pipe the secret to stdin")
}
