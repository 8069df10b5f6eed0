//go:build unix

package ipcserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/testsock"
	"github.com/entra-helper/entra-helper/ipc"
)

func TestMain(m *testing.M) {
	if p := os.Getenv("IPCSERVER_TEST_CHILD_SOCKET"); p != "" {
		os.Exit(childCall(p))
	}
	os.Exit(m.Run())
}

// childCall is the child process of TestOtherUserRefused: it calls the
// socket at path and prints the error code it got.
func childCall(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ipc.Call(ctx, path, &ipc.Request{Op: ipc.OpStatus}, nil)
	var ierr *ipc.Error
	if errors.As(err, &ierr) {
		fmt.Println("code=" + ierr.Code)
		return 0
	}
	fmt.Printf("err=%v\n", err)
	return 1
}

// TestOtherUserRefused runs a child as uid 65534 against a socket anyone
// may open, and checks the peer check refuses it.
func TestOtherUserRefused(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("peer credentials are read on Linux and macOS")
	}
	dir, bin := testsock.World(t)
	path := filepath.Join(dir, "open.sock")
	l, err := net.Listen("unix", path)
	must(t, err)
	must(t, os.Chmod(path, 0o777))

	var errs errorCollector
	handled := false
	s := &Server{Handler: func(context.Context, ipc.Peer, *ipc.Request, func(*ipc.Response) error) { handled = true }, OnError: errs.add}
	go s.Serve(l)
	defer s.Close()

	out, err := testsock.AsNobody(bin, "IPCSERVER_TEST_CHILD_SOCKET="+path).CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "code="+ipc.CodeForbidden {
		t.Fatalf("child got %q, want code=%s", got, ipc.CodeForbidden)
	}
	if handled {
		t.Fatal("the handler ran for another user")
	}
	if !errs.contains("refused uid 65534") {
		t.Fatalf("reports: %v", errs.errs)
	}

}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
