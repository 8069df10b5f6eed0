package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/ipcserver"
	"github.com/entra-helper/entra-helper/ipc"
)

func TestRunCountsAnswersAndErrors(t *testing.T) {
	tests := []struct {
		name     string
		clients  int
		failWarm bool
		failEach int // every n-th call in the window fails; 0 never
	}{
		{"one client", 1, false, 0},
		{"several clients", 4, false, 0},
		{"some failures", 2, false, 3},
		{"always failing", 3, true, 0},
		{"zero clients means one", 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			boom := errors.New("boom")
			res := Run(context.Background(), tt.clients, 20*time.Millisecond, func(context.Context) error {
				n := calls.Add(1)
				if tt.failWarm {
					return boom
				}
				if tt.failEach > 0 && n%int64(tt.failEach) == 0 {
					return boom
				}
				return nil
			})
			wantClients := max(tt.clients, 1)
			if res.Clients != wantClients {
				t.Errorf("Clients = %d, want %d", res.Clients, wantClients)
			}
			if tt.failWarm {
				if res.Answers != 0 || res.Errors == 0 || !errors.Is(res.FirstErr, boom) {
					t.Errorf("always failing: %+v", res)
				}
				return
			}
			if res.Answers == 0 || res.Latency.N != res.Answers || res.Rate() <= 0 {
				t.Errorf("no answers measured: %+v", res)
			}
			if (tt.failEach > 0) != (res.Errors > 0) || (res.Errors > 0) != (res.FirstErr != nil) {
				t.Errorf("errors = %d, first %v, want failures %v", res.Errors, res.FirstErr, tt.failEach > 0)
			}
			if res.Elapsed < 20*time.Millisecond {
				t.Errorf("Elapsed = %v, shorter than the window", res.Elapsed)
			}
		})
	}
}

func TestSocket(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets")
	}
	dir, err := os.MkdirTemp("", "lg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := ipc.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ipcserver.Server{Handler: func(_ context.Context, _ ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		if req.Profile == "missing" {
			_ = send(&ipc.Response{Error: &ipc.Error{Code: ipc.CodeUsage, Message: "no such profile"}})
			return
		}
		_ = send(&ipc.Response{Token: &ipc.Token{AccessToken: "x", TokenType: "Bearer", Profile: req.Profile}})
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ok := Socket(context.Background(), path, &ipc.Request{Op: ipc.OpToken, Profile: "p"}, 2, 20*time.Millisecond)
	if ok.Answers == 0 || ok.Errors != 0 {
		t.Errorf("good profile: %+v", ok)
	}
	bad := Socket(context.Background(), path, &ipc.Request{Op: ipc.OpToken, Profile: "missing"}, 2, 20*time.Millisecond)
	if bad.Answers != 0 || bad.Errors == 0 || bad.FirstErr == nil {
		t.Errorf("missing profile: %+v", bad)
	}
}

func TestHTTP(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Databricks-Metadata-Version") != "1" {
			http.Error(w, "version", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"access_token":"x"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	h := http.Header{"X-Databricks-Metadata-Version": {"1"}}
	ok := HTTP(context.Background(), srv.URL, h, 3, 30*time.Millisecond)
	if ok.Answers == 0 || ok.Errors != 0 {
		t.Errorf("good header: %+v", ok)
	}
	if n := conns.Load(); n > 3 {
		t.Errorf("%d connections for 3 clients: keep-alive not used", n)
	}
	bad := HTTP(context.Background(), srv.URL, http.Header{}, 1, 10*time.Millisecond)
	if bad.Answers != 0 || bad.Errors == 0 || bad.FirstErr == nil {
		t.Errorf("missing header: %+v", bad)
	}
}

func TestMerge(t *testing.T) {
	a := Result{Clients: 8, Answers: 2, Errors: 1, Elapsed: time.Second, Samples: []time.Duration{1, 3}}
	b := Result{Clients: 8, Answers: 1, Elapsed: time.Second, Samples: []time.Duration{2}, FirstErr: io.EOF}
	m := Merge(a, b)
	if m.Answers != 3 || m.Errors != 1 || m.Elapsed != 2*time.Second || m.Rate() != 1.5 || m.FirstErr != io.EOF {
		t.Fatalf("merged %+v", m)
	}
	if m.Latency.N != 3 || m.Latency.Median != 2 || m.Latency.Max != 3 {
		t.Fatalf("latency %+v", m.Latency)
	}
}
