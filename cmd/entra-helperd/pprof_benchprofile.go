//go:build benchprofile

package main

// Only in a daemon built with -tags benchprofile (scripts/bench.sh with
// BENCH_PROFILE set; never `make build`): net/http/pprof on a loopback port
// chosen by the kernel, written to the file ENTRA_HELPERD_PPROF_FILE names,
// so that `make bench` can take CPU profiles of the daemon under load.

import (
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

func init() {
	file := os.Getenv("ENTRA_HELPERD_PPROF_FILE")
	if file == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(ln, mux) }()
	_ = os.WriteFile(file, []byte("http://"+ln.Addr().String()), 0o600)
}
