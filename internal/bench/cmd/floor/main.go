//go:build linux

// Command floor is the reference of `make bench`'s daemon rows: the same
// work without entra-helperd's, in a process of its own so that its CPU is
// measured the way the daemon's is. It serves, until its stdin closes or it
// gets SIGTERM:
//
//   - a bare ipcserver.Server on -socket (no access policy: no rate limit, the default owner check)
//     whose handler answers every request with one token held in memory;
//   - a bare net/http server on a loopback port whose handler writes one
//     constant JSON body the size of the metadata endpoint's answer.
//
// It prints {"socket":PATH,"http":URL} on stdout once both listen.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/entra-helper/entra-helper/daemon/ipcserver"
	"github.com/entra-helper/entra-helper/ipc"
)

func main() {
	socket := flag.String("socket", "", "socket path of the bare ipcserver.Server")
	tokenLen := flag.Int("token-len", 1500, "length of the token both servers answer with")
	flag.Parse()
	if *socket == "" {
		fmt.Fprintln(os.Stderr, "floor: -socket is required")
		os.Exit(2)
	}
	tok := &ipc.Token{AccessToken: strings.Repeat("x", *tokenLen), TokenType: "Bearer",
		ExpiresOn: time.Now().Add(time.Hour).Unix(), Profile: "sp",
		Scope: "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default", Tenant: "7c1f0e1d-5b3a-4c2e-9f6d-2a8b4e6c0d11"}

	ln, err := ipc.Listen(*socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	srv := &ipcserver.Server{
		Handler: func(_ context.Context, _ ipc.Peer, _ *ipc.Request, send func(*ipc.Response) error) {
			_ = send(&ipc.Response{Token: tok})
		}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	body, _ := json.Marshal(map[string]any{"access_token": tok.AccessToken, "token_type": "Bearer", "expires_on": tok.ExpiresOn})
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { _ = hs.Serve(hl) }()
	defer hs.Close()

	out, _ := json.Marshal(map[string]string{"socket": *socket, "http": "http://" + hl.Addr().String() + "/"})
	fmt.Println(string(out))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop() }()
	<-ctx.Done()
}
