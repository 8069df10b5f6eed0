//go:build !windows

package private

import (
	"os"
	"testing"
)

// expose makes path readable by others.
func expose(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// onWine tells whether the test runs under Wine.
func onWine() bool { return false }
