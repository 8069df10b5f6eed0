//go:build !windows

package private

import (
	"fmt"
	"os"
)

// Check returns a *NotPrivateError when the file at path may be read by
// group or others (its mode has any 0077 bit).
func Check(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		fix := "chmod 600 "
		if st.IsDir() {
			fix = "chmod 700 "
		}
		return &NotPrivateError{Path: path, Problem: fmt.Sprintf("is accessible by group or others (mode %04o)", perm), Fix: "run " + fix + path}
	}
	return nil
}

// Dir creates dir (and its parents) with mode 0700, or makes an existing
// dir 0700.
func Dir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("cannot make %s private (chmod 700 %s): %w", dir, dir, err)
		}
	}
	return nil
}

// Create creates the file path for writing, which must not exist, with
// mode 0600.
func Create(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}
