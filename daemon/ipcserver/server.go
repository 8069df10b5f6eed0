// Package ipcserver is the daemon's side of the local protocol of package
// ipc: a server that answers one request per connection, with bounded
// message sizes, read and write timeouts, a bound on open connections (idle
// ones give way), and an admission hook that the daemon's access policy
// (package daemon/access) fills in. The client never links this package.
package ipcserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/entra-helper/entra-helper/ipc"
)

// Defaults of Server's limits.
const (
	DefaultReadTimeout  = 5 * time.Second
	DefaultWriteTimeout = 5 * time.Second
	DefaultMaxConns     = 256
)

// Server answers one request per connection: it checks the peer, reads the
// request (bounded by ReadTimeout and ipc.MaxMessageSize), calls Handler, writes
// what the handler sends (each write bounded by WriteTimeout) and closes the
// connection. Set the exported fields before Serve and do not change them
// afterwards. The zero value with a Handler is ready to use.
type Server struct {
	// Handler answers req from peer. It calls send for each event and then
	// once for the final answer (a ipc.Response with Event nil); send sets the
	// version and returns an error once the client is gone or too slow, or
	// when called after the final answer. ctx is cancelled when the client
	// closes its connection, and when the server is closed. If Handler
	// returns without a final answer, the server answers ipc.CodeFailed. A
	// panic in Handler is recovered and answered ipc.CodeFailed.
	Handler func(ctx context.Context, peer ipc.Peer, req *ipc.Request, send func(*ipc.Response) error)

	// Admit decides whether peer may use the server, before its request is
	// handled (on Unix before it is even read; Windows tells a pipe
	// client's identity only once it has sent something). An error refuses
	// the connection: the client gets an error whose message is the
	// error's text and whose code is the error's Code() method if it has
	// one (for example ipc.CodeFailed for "busy"), else ipc.CodeForbidden.
	// nil admits only the server's own user and the administrator
	// (ipc.Peer.IsSelfOrAdmin). The daemon passes its access policy here.
	Admit func(ipc.Peer) error

	// ReadTimeout bounds the time from accepting a connection to having
	// read its request (default DefaultReadTimeout). The handler's time is
	// not bounded here: a sign-in may wait minutes for the user.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to a client (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxConns bounds the connections served at once (default
	// DefaultMaxConns). At the bound, a new connection takes the place of
	// the oldest one that has not sent its request yet (an idle client is
	// closed); if every connection is past its request, the new one gets a
	// ipc.CodeFailed "busy" answer and is closed.
	MaxConns int
	// OnError, if set, is told of refused peers, malformed requests,
	// timeouts and handler failures. Its errors never hold request content.
	OnError func(error)

	initOnce  sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]*connState
	seq       uint64         // numbers connections in accept order
	wg        sync.WaitGroup // one per tracked connection
}

// connState is what the server knows of a tracked connection.
type connState struct {
	seq     uint64 // accept order
	waiting bool   // its request has not been read yet
}

// ErrServerClosed is returned by Serve when called after Close or Shutdown.
var ErrServerClosed = errors.New("ipc: server closed")

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[net.Conn]*connState)
	})
}

func (s *Server) readTimeout() time.Duration {
	if s.ReadTimeout > 0 {
		return s.ReadTimeout
	}
	return DefaultReadTimeout
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return DefaultWriteTimeout
}

func (s *Server) maxConns() int {
	if s.MaxConns > 0 {
		return s.MaxConns
	}
	return DefaultMaxConns
}

func (s *Server) report(err error) {
	if s.OnError != nil {
		s.OnError(err)
	}
}

// Serve accepts connections on l and serves each in its own goroutine until
// l fails or the server is closed. It returns nil after Close or Shutdown,
// ErrServerClosed if called after them, and the listener's error otherwise.
// Serve takes ownership of l and closes it on return.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("ipc: Server.Handler is nil")
	}
	s.init()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and go on, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.report(fmt.Errorf("ipc: accepting a connection (retrying in %s): %w", backoff, err))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		switch s.track(conn) {
		case trackOK:
			go s.serveConn(conn)
		case trackBusy:
			s.report(fmt.Errorf("ipc: refused a connection: %d connections are being served already", s.maxConns()))
			s.answerBusy(conn)
		case trackClosing:
			conn.Close()
		}
	}
}

type trackResult int

const (
	trackOK trackResult = iota
	trackBusy
	trackClosing
)

func (s *Server) track(c net.Conn) trackResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return trackClosing
	}
	if len(s.conns) >= s.maxConns() && !s.evictIdleLocked() {
		return trackBusy
	}
	s.seq++
	s.conns[c] = &connState{seq: s.seq, waiting: true}
	s.wg.Add(1)
	return trackOK
}

// evictIdleLocked closes the oldest connection whose request has not been
// read yet, so clients that connect and stay silent cannot keep others
// out; its goroutine ends on the closed connection. It reports false when
// every connection is past its request. s.mu is held.
func (s *Server) evictIdleLocked() bool {
	var oldest net.Conn
	var seq uint64
	for c, st := range s.conns {
		if st.waiting && (oldest == nil || st.seq < seq) {
			oldest, seq = c, st.seq
		}
	}
	if oldest == nil {
		return false
	}
	delete(s.conns, oldest)
	oldest.Close()
	return true
}

// gotRequest records that c's request was read: c is no longer idle.
func (s *Server) gotRequest(c net.Conn) {
	s.mu.Lock()
	if st := s.conns[c]; st != nil {
		st.waiting = false
	}
	s.mu.Unlock()
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// answerBusy tells a connection beyond MaxConns to come back later, without
// blocking the accept loop: a small first write to a new connection fits in
// its buffer at once.
func (s *Server) answerBusy(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	ipc.WriteMessage(c, errorResponse(ipc.CodeFailed, "the daemon is busy with too many connections: try again"))
	c.Close()
}

func errorResponse(code, msg string) *ipc.Response {
	return &ipc.Response{V: ipc.ProtocolVersion, Error: &ipc.Error{Code: code, Message: msg}}
}

// refuse answers c with an error, then lets the client read it: it stops
// writing and drains what the client sent, briefly, before the close (a
// close with unread input may reset the connection).
func (s *Server) refuse(c net.Conn, code, msg string) {
	c.SetWriteDeadline(time.Now().Add(s.writeTimeout()))
	if err := ipc.WriteMessage(c, errorResponse(code, msg)); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(min(s.readTimeout(), time.Second)))
	io.Copy(io.Discard, io.LimitReader(c, ipc.MaxMessageSize+4 /* length prefix */))
}

// admit applies Admit (or the owner check) to p; a refusal comes with the
// code the client is to get.
func (s *Server) admit(p ipc.Peer) (code string, err error) {
	if s.Admit == nil {
		if p.IsSelfOrAdmin() {
			return "", nil
		}
		return ipc.CodeForbidden, fmt.Errorf("%s may not use another user's entra-helperd: run your own and set %s to its socket", p, ipc.SocketEnv)
	}
	if err := s.Admit(p); err != nil {
		var c interface{ Code() string }
		if errors.As(err, &c) && c.Code() != "" {
			return c.Code(), err
		}
		return ipc.CodeForbidden, err
	}
	return "", nil
}

func (s *Server) serveConn(c net.Conn) {
	defer s.untrack(c)

	var peer ipc.Peer
	known := false // peer is set
	// who names the client in reports; formatted only when one is made.
	who := func() string {
		if known {
			return peer.String()
		}
		return "a client"
	}
	checkPeer := func() bool {
		p, err := ipc.PeerOf(c)
		if err != nil {
			s.report(fmt.Errorf("ipc: refused a connection: %w", err))
			s.refuse(c, ipc.CodeForbidden, "the daemon cannot tell which user is connecting, so it refuses the connection; its log says why")
			return false
		}
		if code, err := s.admit(p); err != nil {
			s.report(fmt.Errorf("ipc: refused %s: %w", p, err))
			s.refuse(c, code, err.Error())
			return false
		}
		peer, known = p, true
		return true
	}
	if !ipc.PeerKnownAfterRead && !checkPeer() {
		return
	}

	c.SetReadDeadline(time.Now().Add(s.readTimeout()))
	var req ipc.Request
	if err := ipc.ReadMessage(c, &req); err != nil {
		var verr *ipc.VersionError
		switch {
		case errors.Is(err, io.EOF):
			// Connected and left (e.g. a liveness probe).
		case errors.Is(err, net.ErrClosed) && !s.isClosing():
			s.report(fmt.Errorf("ipc: dropped %s: it had sent no request when %d connections were open", who(), s.maxConns()))
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.report(fmt.Errorf("ipc: dropped %s: no request within %s", who(), s.readTimeout()))
			c.SetWriteDeadline(time.Now().Add(s.writeTimeout()))
			ipc.WriteMessage(c, errorResponse(ipc.CodeUsage, fmt.Sprintf("no request arrived within %s", s.readTimeout())))
		case errors.As(err, &verr):
			s.report(fmt.Errorf("ipc: refused a request of %s: %w", who(), err))
			s.refuse(c, ipc.CodeUsage, fmt.Sprintf("the client speaks protocol version %d, this daemon speaks version %d: run matching versions of entra-helper and entra-helperd", verr.Got, ipc.ProtocolVersion))
		case errors.Is(err, ipc.ErrMessageTooLarge), errors.Is(err, ipc.ErrMalformed):
			s.report(fmt.Errorf("ipc: refused a request of %s: %w", who(), err))
			s.refuse(c, ipc.CodeUsage, "malformed request ("+strings.TrimPrefix(err.Error(), "ipc: ")+"): run matching versions of entra-helper and entra-helperd")
		default:
			s.report(fmt.Errorf("ipc: reading the request of %s: %w", who(), err))
		}
		return
	}
	s.gotRequest(c)
	if ipc.PeerKnownAfterRead && !checkPeer() {
		return
	}
	c.SetReadDeadline(time.Time{})
	s.handle(c, peer, &req)
}

// handle runs the handler for one request and makes sure the client gets a
// final answer.
func (s *Server) handle(c net.Conn, peer ipc.Peer, req *ipc.Request) {
	// One request per connection: anything the client does next (close
	// its end, or send more) cancels the request, once the handler asks.
	ctx := newConnContext(s.ctx, c)
	defer ctx.finish()

	var mu sync.Mutex
	final := false
	send := func(r *ipc.Response) error {
		mu.Lock()
		defer mu.Unlock()
		if final {
			return errors.New("ipc: the final response was already sent")
		}
		if r == nil {
			return errors.New("ipc: nil response")
		}
		out := *r
		out.V = ipc.ProtocolVersion
		c.SetWriteDeadline(time.Now().Add(s.writeTimeout()))
		err := ipc.WriteMessage(c, &out)
		if errors.Is(err, ipc.ErrMessageTooLarge) {
			if out.Event != nil {
				return err
			}
			s.report(fmt.Errorf("ipc: the answer to %q is too large: %w", req.Op, err))
			err = ipc.WriteMessage(c, errorResponse(ipc.CodeFailed, "the daemon's answer is too large for the protocol"))
		}
		if out.Event == nil {
			final = true
		}
		return err
	}

	func() {
		defer func() {
			if p := recover(); p != nil {
				s.report(fmt.Errorf("ipc: the handler of %q panicked: %v", req.Op, p))
			}
		}()
		s.Handler(ctx, peer, req, send)
	}()

	mu.Lock()
	answered := final
	mu.Unlock()
	if !answered {
		s.report(fmt.Errorf("ipc: the handler of %q returned without an answer", req.Op))
		send(errorResponse(ipc.CodeFailed, "the daemon failed to answer this request; see its log"))
	}
}

// Close stops the server at once: it closes the listeners and every
// connection and cancels the handlers' contexts. It does not wait for the
// handlers to return.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	return nil
}

// Shutdown stops accepting connections and waits for the requests in flight
// to be answered. If ctx ends first, it closes them as Close does and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}
