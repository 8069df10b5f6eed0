// Package private keeps files and directories to their owner: 0600 files
// and 0700 directories on Unix, an owner-only access list (DACL) on
// Windows, where permission bits mean nothing. The file store uses it for
// its key file and directory, and so can whatever creates a key file (the
// client's set-up). It imports only the standard library and
// golang.org/x/sys, so the client may link it.
package private

import (
	"errors"
	"os"
)

// NotPrivateError says that a file or directory can be opened by someone
// other than its owner (or is owned by someone else), and what fixes it.
type NotPrivateError struct {
	Path    string
	Problem string // "is accessible by group or others (mode 0644)"
	Fix     string // "run chmod 600 /path"
}

func (e *NotPrivateError) Error() string { return e.Path + " " + e.Problem + ": " + e.Fix }

// WriteNew creates the file path, which must not exist, private to the
// current user (see Create), and writes data to it.
func WriteNew(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	return finish(f, data)
}

// finish writes data to the new file f, syncs and closes it, and removes
// it if any of that fails.
func finish(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	return nil
}
