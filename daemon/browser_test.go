package daemon

import (
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/ipc"
)

func TestBrowserCommand(t *testing.T) {
	for _, tc := range []struct{ browser, wantName, wantArgs string }{
		{"firefox", "firefox", "firefox|https://x"},
		{"firefox --new-window", "firefox", "firefox|--new-window|https://x"},
		{"  /opt/b/run  ", "/opt/b/run", "/opt/b/run|https://x"},
	} {
		name, args := browserCommand(tc.browser, "https://x")
		if got := strings.Join(append([]string{name}, args...), "|"); name != tc.wantName || got != tc.wantArgs {
			t.Errorf("browserCommand(%q) = %q, want %q", tc.browser, got, tc.wantArgs)
		}
	}
}

// TestSystemModeSocket: --system listens on the system socket that clients
// dial, unless ENTRA_HELPER_SOCKET says otherwise (tests, unusual layouts).
func TestSystemModeSocket(t *testing.T) {
	t.Setenv(ipc.SocketEnv, "")
	if got, err := socketPath(true); err != nil || got != ipc.SystemSocketPath() {
		t.Fatalf("socketPath(system) = %q, %v; want %q", got, err, ipc.SystemSocketPath())
	}
	if got, _ := socketPath(false); got == ipc.SystemSocketPath() {
		t.Fatal("a per-user daemon took the system socket")
	}
	t.Setenv(ipc.SocketEnv, "/tmp/x/d.sock")
	if got, _ := socketPath(true); got != "/tmp/x/d.sock" {
		t.Fatalf("socketPath(system) = %q, want the %s override", got, ipc.SocketEnv)
	}
}
