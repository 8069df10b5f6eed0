package ipcserver

import (
	"encoding/binary"
	"github.com/entra-helper/entra-helper/ipc"

	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServer listens on a fresh path and serves s until the test ends.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	path := testPath(t)
	l, err := ipc.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Shutdown", err)
		}
	})
	return path
}

// errorCollector gathers what a Server reports.
type errorCollector struct {
	mu   sync.Mutex
	errs []error
}

func (c *errorCollector) add(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

func (c *errorCollector) contains(sub string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		if strings.Contains(e.Error(), sub) {
			return true
		}
	}
	return false
}

func echoHandler(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
	send(&ipc.Response{Token: &ipc.Token{AccessToken: "tok-" + req.Profile, Profile: req.Profile}})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCallEventsThenAnswer(t *testing.T) {
	var gotPeer ipc.Peer
	s := &Server{Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		gotPeer = peer
		for _, m := range []string{"one", "two", "three"} {
			if err := send(&ipc.Response{Event: &ipc.Event{Kind: ipc.EventInfo, Message: m}}); err != nil {
				t.Errorf("send event: %v", err)
			}
		}
		if err := send(&ipc.Response{Login: &ipc.LoginResult{Account: "a@b", Tenant: req.Profile}}); err != nil {
			t.Errorf("send answer: %v", err)
		}
		if err := send(&ipc.Response{Login: &ipc.LoginResult{}}); err == nil {
			t.Error("a second final answer was accepted")
		}
	}}
	path := startServer(t, s)

	req := &ipc.Request{Op: ipc.OpLogin, Profile: "prod"}
	var events []string
	resp, err := ipc.Call(testCtx(t), path, req, func(e *ipc.Event) { events = append(events, e.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if req.V != 0 {
		t.Error("ipc.Call modified the caller's request")
	}
	if strings.Join(events, ",") != "one,two,three" {
		t.Fatalf("events %v", events)
	}
	if resp.V != ipc.ProtocolVersion || resp.Login == nil || resp.Login.Tenant != "prod" {
		t.Fatalf("response %+v", resp)
	}
	if !gotPeer.IsSelfOrAdmin() {
		t.Fatalf("handler saw peer %+v, want this process's user", gotPeer)
	}
}

func TestCallReturnsDaemonError(t *testing.T) {
	s := &Server{Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		send(&ipc.Response{Error: &ipc.Error{Code: ipc.CodeNeedsLogin, Message: "profile prod needs a sign-in: run entra-helper login -p prod"}})
	}}
	path := startServer(t, s)
	resp, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpToken, Profile: "prod"}, nil)
	var ierr *ipc.Error
	if !errors.As(err, &ierr) || ierr.ExitCode() != 3 {
		t.Fatalf("err = %v, want a needs_login *ipc.Error", err)
	}
	if resp == nil || resp.Error == nil {
		t.Fatalf("response %+v, want the error response too", resp)
	}
}

func TestCallNoDaemon(t *testing.T) {
	// Nothing at the path at all.
	path := testPath(t)
	if _, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpStatus}, nil); !errors.Is(err, ipc.ErrNoDaemon) {
		t.Fatalf("missing socket: err = %v, want ipc.ErrNoDaemon", err)
	}
	// A daemon that was there and is gone.
	l, err := ipc.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpStatus}, nil); !errors.Is(err, ipc.ErrNoDaemon) {
		t.Fatalf("closed listener: err = %v, want ipc.ErrNoDaemon", err)
	}
}

func TestCallContextEnds(t *testing.T) {
	release := make(chan struct{})
	s := &Server{Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		send(&ipc.Response{})
	}}
	path := startServer(t, s)
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := ipc.Call(ctx, path, &ipc.Request{Op: ipc.OpToken}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	entered := make(chan struct{})
	s2 := &Server{Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		close(entered)
		<-ctx.Done() // the client leaving cancels the request
	}}
	path2 := startServer(t, s2)
	go func() { <-entered; cancel2() }()
	if _, err := ipc.Call(ctx2, path2, &ipc.Request{Op: ipc.OpLogin}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestAdmitRefuses(t *testing.T) {
	var errs errorCollector
	called := false
	s := &Server{
		Handler: func(context.Context, ipc.Peer, *ipc.Request, func(*ipc.Response) error) { called = true },
		Admit:   func(p ipc.Peer) error { return errors.New("this user may not use profile prod") },
		OnError: errs.add,
	}
	path := startServer(t, s)
	_, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpToken, Profile: "prod"}, nil)
	var ierr *ipc.Error
	if !errors.As(err, &ierr) || ierr.Code != ipc.CodeForbidden || !strings.Contains(ierr.Message, "may not use profile prod") {
		t.Fatalf("err = %v, want forbidden", err)
	}
	if called {
		t.Fatal("the handler ran for a refused peer")
	}
	if !errs.contains("refused") {
		t.Fatal("the refusal was not reported")
	}
}

// busyError is a refusal with its own code, as the access policy's rate
// limit gives.
type busyError struct{}

func (busyError) Error() string { return "busy: too many requests from uid 1: slow down and try again" }
func (busyError) Code() string  { return ipc.CodeFailed }

func TestAdmitErrorCode(t *testing.T) {
	s := &Server{Handler: echoHandler, Admit: func(ipc.Peer) error { return fmt.Errorf("refused: %w", busyError{}) }}
	path := startServer(t, s)
	_, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpToken, Profile: "p"}, nil)
	var ierr *ipc.Error
	if !errors.As(err, &ierr) || ierr.Code != ipc.CodeFailed || !strings.Contains(ierr.Message, "busy: too many requests") {
		t.Fatalf("err = %v, want the refusal's own code %s", err, ipc.CodeFailed)
	}
}

// frame is body with its 4-byte big-endian length prefix.
func frame(body string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// rawExchange sends raw bytes on a new connection and reads the answer.
func rawExchange(t *testing.T, path string, data []byte) (*ipc.Response, error) {
	t.Helper()
	conn, err := ipc.Dial(testCtx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(data); err != nil {
		t.Fatal(err)
	}
	var resp ipc.Response
	if err := ipc.ReadMessage(conn, &resp); err != nil {
		return nil, err
	}
	// One answer, then the daemon closes.
	if err := ipc.ReadMessage(conn, &ipc.Response{}); err != io.EOF {
		t.Fatalf("after the answer: %v, want io.EOF", err)
	}
	return &resp, nil
}

func TestServerRefusesBadRequests(t *testing.T) {
	var errs errorCollector
	s := &Server{Handler: echoHandler, OnError: errs.add}
	path := startServer(t, s)
	tests := []struct {
		name string
		data []byte
		want string // in the answer's message
	}{
		{"oversize", []byte{0x7f, 0xff, 0xff, 0xff}, "limit"},
		{"wrong version", frame(`{"v":9,"op":"token"}`), "version 9"},
		{"missing version", frame(`{"op":"token"}`), "version 0"},
		{"not json", frame(`{{{{`), "malformed"},
		{"wrong type", frame(`{"v":1,"op":["token"]}`), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := rawExchange(t, path, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Error == nil || resp.Error.Code != ipc.CodeUsage || !strings.Contains(resp.Error.Message, tt.want) {
				t.Fatalf("answer %+v, want a usage error with %q", resp.Error, tt.want)
			}
		})
	}
	// The server still serves.
	resp, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpToken, Profile: "p"}, nil)
	if err != nil || resp.Token.AccessToken != "tok-p" {
		t.Fatalf("after bad requests: %+v, %v", resp, err)
	}
}

func TestServerTruncatedRequest(t *testing.T) {
	var errs errorCollector
	s := &Server{Handler: echoHandler, OnError: errs.add}
	path := startServer(t, s)
	conn, err := ipc.Dial(testCtx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	full := frame(`{"v":1,"op":"token"}`)
	conn.Write(full[:len(full)-4])
	conn.Close()
	if _, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpToken}, nil); err != nil {
		t.Fatalf("after a truncated request: %v", err)
	}
}

func TestHandlerWithoutAnswerOrPanicking(t *testing.T) {
	var errs errorCollector
	s := &Server{
		Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
			switch req.Op {
			case "panic":
				send(&ipc.Response{Event: &ipc.Event{Kind: ipc.EventInfo}})
				panic("boom")
			case "silent":
			}
		},
		OnError: errs.add,
	}
	path := startServer(t, s)
	for _, op := range []string{"panic", "silent"} {
		_, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: op}, nil)
		var ierr *ipc.Error
		if !errors.As(err, &ierr) || ierr.Code != ipc.CodeFailed {
			t.Fatalf("%s: err = %v, want a failed *ipc.Error", op, err)
		}
	}
	if !errs.contains("panicked") || !errs.contains("without an answer") {
		t.Fatalf("reports: %v", errs.errs)
	}
}

func TestSilentClientIsDroppedOthersServed(t *testing.T) {
	var errs errorCollector
	// Long enough for a served client to connect and send its request on
	// a loaded machine (a pipe connection under Wine takes far longer).
	readTimeout := 300 * time.Millisecond
	if runtime.GOOS == "windows" {
		readTimeout = 3 * time.Second
	}
	s := &Server{Handler: echoHandler, ReadTimeout: readTimeout, OnError: errs.add}
	path := startServer(t, s)

	silent, err := ipc.Dial(testCtx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Served while the silent client is connected.
	for _, p := range []string{"a", "b"} {
		resp, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpToken, Profile: p}, nil)
		if err != nil || resp.Token.AccessToken != "tok-"+p {
			t.Fatalf("while a client is silent: %+v, %v", resp, err)
		}
	}
	// The silent client is told and dropped.
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	var resp ipc.Response
	if err := ipc.ReadMessage(silent, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error == nil || resp.Error.Code != ipc.CodeUsage {
		t.Fatalf("silent client got %+v", resp)
	}
	if err := ipc.ReadMessage(silent, &resp); err != io.EOF {
		t.Fatalf("silent client not closed: %v", err)
	}
	if !errs.contains("no request within") {
		t.Fatalf("the drop was not reported: %v", errs.errs)
	}
}

func TestLongHandlerNotBoundByReadTimeout(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	s := &Server{ReadTimeout: 20 * time.Millisecond, Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		close(entered)
		// Outlives ReadTimeout many times over: another request
		// (below) runs a full read timeout's worth of round trips first.
		select {
		case <-release:
		case <-ctx.Done():
		}
		send(&ipc.Response{Login: &ipc.LoginResult{Account: "me"}})
	}}
	path := startServer(t, s)
	done := make(chan error, 1)
	go func() {
		resp, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpLogin}, nil)
		if err == nil && resp.Login.Account != "me" {
			err = errors.New("wrong answer")
		}
		done <- err
	}()
	<-entered
	// A silent client is dropped after ReadTimeout, proving it elapsed
	// while the handler waited.
	silent, err := ipc.Dial(testCtx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	var r ipc.Response
	ipc.ReadMessage(silent, &r)
	if err := ipc.ReadMessage(silent, &r); err != io.EOF {
		t.Fatalf("silent client: %v", err)
	}
	silent.Close()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("long request: %v", err)
	}
}

func TestMaxConns(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var errs errorCollector
	s := &Server{MaxConns: 1, OnError: errs.add, Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		if req.Op == ipc.OpLogin {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		send(&ipc.Response{Status: &ipc.Status{Version: req.Op}})
	}}
	path := startServer(t, s)
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	first := make(chan error, 1)
	go func() {
		_, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpLogin}, nil)
		first <- err
	}()
	<-entered
	_, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpStatus}, nil)
	var ierr *ipc.Error
	if !errors.As(err, &ierr) || ierr.Code != ipc.CodeFailed || !strings.Contains(ierr.Message, "busy") {
		t.Fatalf("beyond MaxConns: err = %v, want busy", err)
	}
	releaseOnce()
	if err := <-first; err != nil {
		t.Fatalf("the connection in flight: %v", err)
	}
	// Once it is done, there is room again; the slot frees after the
	// close, so allow the busy answer for a while (a deadline, not a count
	// of tries: a loaded machine may take long to run the close).
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpStatus}, nil)
		if err == nil {
			if resp.Status.Version != ipc.OpStatus {
				t.Fatalf("answer %+v", resp)
			}
			break
		}
		if !errors.As(err, &ierr) || time.Now().After(deadline) {
			t.Fatalf("after the first finished: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	if !errs.contains("connections are being served") {
		t.Fatalf("busy not reported: %v", errs.errs)
	}
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	s := &Server{Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		send(&ipc.Response{Status: &ipc.Status{Version: "done"}})
	}}
	path := testPath(t)
	l, err := ipc.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	answered := make(chan *ipc.Response, 1)
	go func() {
		resp, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpStatus}, nil)
		if err != nil {
			t.Error(err)
		}
		answered <- resp
	}()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// No longer accepting: the socket is gone. (A Windows pipe lives on
	// while any instance is open, the in-flight one included, so there a
	// dial would wait for a free instance instead.)
	if runtime.GOOS != "windows" {
		if _, err := ipc.Dial(testCtx(t), path); !errors.Is(err, ipc.ErrNoDaemon) {
			t.Fatalf("dial after Shutdown: %v", err)
		}
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if resp := <-answered; resp == nil || resp.Status.Version != "done" {
		t.Fatalf("in-flight request: %+v", resp)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownDeadlineCancelsHandlers(t *testing.T) {
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	s := &Server{Handler: func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error) {
		close(entered)
		<-ctx.Done()
		close(cancelled)
	}}
	path := testPath(t)
	l, err := ipc.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	go ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpLogin}, nil)
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	<-cancelled
}

// BenchmarkCall measures one token round trip: connect, peer check,
// request, answer, close.
func BenchmarkCall(b *testing.B) {
	s := &Server{Handler: echoHandler}
	path := testPath(b)
	l, err := ipc.Listen(path)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	ctx := context.Background()
	req := &ipc.Request{Op: ipc.OpToken, Profile: "prod"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ipc.Call(ctx, path, req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIdleConnectionsGiveWay: at MaxConns, a client that sends its request
// takes the place of the oldest connection that sent nothing.
func TestIdleConnectionsGiveWay(t *testing.T) {
	var errs errorCollector
	s := &Server{Handler: echoHandler, MaxConns: 2, ReadTimeout: time.Minute, OnError: errs.add}
	path := startServer(t, s)

	idle := make([]net.Conn, 2)
	for i := range idle {
		c, err := ipc.Dial(testCtx(t), path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle[i] = c
	}
	// The accept loop tracks connections in order, so both idle ones hold
	// the two places when this request arrives.
	resp, err := ipc.Call(testCtx(t), path, &ipc.Request{Op: ipc.OpToken, Profile: "p"}, nil)
	if err != nil || resp.Token.AccessToken != "tok-p" {
		t.Fatalf("with every place held by idle clients: %+v, %v", resp, err)
	}
	// The oldest idle client was closed without an answer.
	idle[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	var r ipc.Response
	if err := ipc.ReadMessage(idle[0], &r); err != io.EOF {
		t.Fatalf("oldest idle client: %v, want io.EOF", err)
	}
	idle[1].Close()
}
