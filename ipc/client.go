package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// ErrNoDaemon reports that no daemon listens at the socket path: the socket
// (or pipe) is missing or refuses connections. The client may start one.
var ErrNoDaemon = errors.New("ipc: no daemon is running")

// ErrDaemonRunning is returned by Listen when a daemon already answers at the
// socket path.
var ErrDaemonRunning = errors.New("ipc: a daemon is already running")

// ErrNotOwner reports a socket or pipe served by another user: Dial refuses
// to talk to it, since a request may carry a secret.
var ErrNotOwner = errors.New("ipc: the socket is served by another user")

// ErrNoAnswer reports a connection the daemon closed before its final answer.
var ErrNoAnswer = errors.New("ipc: the daemon closed the connection without answering")

// Dial connects to the daemon at path (a socket path, or a pipe name on
// Windows). It fails with an error matching ErrNoDaemon when nothing listens
// there, and with ErrNotOwner when the server is neither the current user
// nor the system's administrator (root, SYSTEM). ctx bounds the connection
// attempt only.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	conn, err := dial(ctx, path)
	if err != nil {
		if isNoDaemon(err) {
			return nil, fmt.Errorf("%w at %s: %w", ErrNoDaemon, path, err)
		}
		return nil, fmt.Errorf("ipc: connecting to %s: %w", path, err)
	}
	if err := verifyServer(conn, path); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Call sends req to the daemon at path on a new connection and returns its
// final response. Events the daemon sends first are passed to onEvent (which
// may be nil) in order. Call sets req's version on a copy; req itself is not
// modified. ctx bounds the whole exchange: its deadline becomes the
// connection's deadline and its cancellation aborts the call; the caller
// picks the budget (a token in seconds, a login in minutes).
//
// Errors: one matching ErrNoDaemon when no daemon listens; when the daemon
// answers with an error, the response and its *Error (use errors.As and
// Error.ExitCode); ctx.Err() (wrapped) when ctx ends first; other transport
// or protocol errors otherwise.
func Call(ctx context.Context, path string, req *Request, onEvent func(*Event)) (*Response, error) {
	if req == nil {
		return nil, errors.New("ipc: nil request")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := Dial(ctx, path)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return nil, fmt.Errorf("ipc: setting deadline: %w", err)
		}
	}
	// Unblock reads and writes when ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	r := *req
	r.V = ProtocolVersion
	if err := WriteMessage(conn, &r); err != nil {
		// The daemon may have answered and closed before reading (busy,
		// forbidden): its answer says more than the broken pipe.
		var resp Response
		if rerr := ReadMessage(conn, &resp); rerr == nil && resp.Event == nil && resp.Error != nil {
			return &resp, resp.Error
		}
		return nil, ctxErr(ctx, err)
	}
	for {
		var resp Response
		if err := ReadMessage(conn, &resp); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("%w: %w", ErrNoAnswer, err)
			}
			return nil, ctxErr(ctx, err)
		}
		if resp.Event != nil {
			if onEvent != nil {
				onEvent(resp.Event)
			}
			continue
		}
		if resp.Error != nil {
			return &resp, resp.Error
		}
		return &resp, nil
	}
}

// ctxErr prefers ctx's error when ctx ended, since a deadline shows up as an
// i/o timeout on the connection.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("ipc: waiting for the daemon: %w", cerr)
	}
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("ipc: waiting for the daemon: %w", context.DeadlineExceeded)
	}
	return err
}
