//go:build windows

package ipcserver

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// testPath returns a fresh pipe name.
func testPath(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	return `\\.\pipe\entra-helper-test-` + hex.EncodeToString(b)
}
