package testsock

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
)

// Path returns a fresh pipe name.
func Path(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	return `\\.\pipe\entra-helper-test-` + hex.EncodeToString(b)
}
