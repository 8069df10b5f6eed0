//go:build unix

package ipcserver

import (
	"github.com/entra-helper/entra-helper/ipc"

	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestProtocolDocPythonExample runs the Python example of docs/protocol.md
// against a Server, so the document stays true.
func TestProtocolDocPythonExample(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Skip("docs/protocol.md is not here")
	}
	const start = "```python\n"
	i := strings.Index(string(doc), start)
	if i < 0 {
		t.Fatal("no Python example in docs/protocol.md")
	}
	script := string(doc)[i+len(start):]
	script = script[:strings.Index(script, "```")]

	s := &Server{Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		send(&ipc.Response{Event: &ipc.Event{Kind: ipc.EventInfo, Message: "working"}})
		if req.Op != ipc.OpToken || req.Profile != "prod" {
			send(&ipc.Response{Error: &ipc.Error{Code: ipc.CodeUsage, Message: "unexpected request"}})
			return
		}
		send(&ipc.Response{Token: &ipc.Token{AccessToken: "eyJ.doc.example", TokenType: "Bearer", Profile: "prod"}})
	}}
	path := startServer(t, s)
	cmd := exec.Command(python, "-c", script)
	cmd.Env = append(os.Environ(), ipc.SocketEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v: %s", err, stderr.String())
	}
	if string(out) != "eyJ.doc.example\n" {
		t.Fatalf("python printed %q (stderr %q)", out, stderr.String())
	}
	if strings.TrimSpace(stderr.String()) != "working" {
		t.Fatalf("python's stderr %q, want the event", stderr.String())
	}
}
