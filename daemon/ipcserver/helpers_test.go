package ipcserver

import (
	"testing"

	"github.com/entra-helper/entra-helper/internal/testsock"
)

func testPath(t testing.TB) string { t.Helper(); return testsock.Path(t) }
