package access

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/testsock"
)

func TestMain(m *testing.M) {
	if u := os.Getenv("ACCESS_TEST_CHILD_URL"); u != "" {
		os.Exit(childGet(u))
	}
	os.Exit(m.Run())
}

// childGet is the child of TestLoopbackPeerGroupIsNotRoot: it asks url and
// prints the status it got.
func childGet(url string) int {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Printf("err=%v\n", err)
		return 1
	}
	resp.Body.Close()
	fmt.Printf("status=%d\n", resp.StatusCode)
	return 0
}

// TestLoopbackPeerGroupIsNotRoot: a loopback endpoint knows the uid that
// owns a connection but not its process's group; a profile that allows
// group 0 must not be open to every user through it (the peer's GID
// defaulted to 0, root's group).
func TestLoopbackPeerGroupIsNotRoot(t *testing.T) {
	_, bin := testsock.World(t)
	pol, err := New(Options{System: true}, map[string]Rule{"p": {Groups: []string{"0"}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := pol.CheckRequest(r, Metadata, "p"); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	out, err := testsock.AsNobody(bin, "ACCESS_TEST_CHILD_URL=http://"+ln.Addr().String()+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "status=403" {
		t.Fatalf("uid 65534, in no group 0, got %q from a profile that allows group 0 only, want status=403", got)
	}
}
