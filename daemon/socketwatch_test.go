//go:build !windows

package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/clock"
)

// TestDaemonStopsWhenItsSocketIsLost: a daemon whose socket directory is
// deleted, or whose socket is replaced by another daemon's, notices at
// its next check, says why and stops without error, leaving the other
// daemon's socket in place.
func TestDaemonStopsWhenItsSocketIsLost(t *testing.T) {
	for _, c := range []struct {
		name string
		lose func(t *testing.T, sock string)
		want string
	}{
		{"directory deleted", func(t *testing.T, sock string) {
			if err := os.RemoveAll(filepath.Dir(sock)); err != nil {
				t.Fatal(err)
			}
		}, "is gone"},
		{"socket replaced", func(t *testing.T, sock string) {
			if err := os.Remove(sock); err != nil {
				t.Fatal(err)
			}
			other, err := net.Listen("unix", sock) // another daemon's
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
		}, "another file now"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, cfgPath := newRunFixture(t)
			clk := clock.NewFake(time.Now())
			f.clock = clk
			f.start(cfgPath)
			f.waitReady(t)
			clk.Advance(socketCheckEvery) // the socket is its own: it keeps serving
			select {
			case err := <-f.done:
				t.Fatalf("the daemon stopped with its socket in place: %v\n%s", err, f.log.String())
			default:
			}
			c.lose(t, f.sock)
			clk.Advance(socketCheckEvery)
			select {
			case err := <-f.done:
				if err != nil {
					t.Fatalf("Run = %v, want nil (a clean stop)", err)
				}
			case <-time.After(30 * time.Second): // a hang guard
				f.stop()
				t.Fatalf("the daemon did not stop after losing its socket; its log:\n%s", f.log.String())
			}
			if log := f.log.String(); !strings.Contains(log, "its socket is not its own any more") || !strings.Contains(log, c.want) {
				t.Errorf("the log does not say why the daemon stopped:\n%s", log)
			}
			if c.name == "socket replaced" {
				if _, err := os.Lstat(f.sock); err != nil {
					t.Errorf("the stopping daemon removed the other daemon's socket: %v", err)
				}
			}
		})
	}
}
