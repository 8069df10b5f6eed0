package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/internal/tcpowner"
)

// connOwnerKey holds, in a metadata connection's context, the result of
// looking up which user owns the client's end (done once per connection).
type connOwnerKey struct{}

type connOwner struct {
	uid uint32
	err error
}

// withConnOwner is the metadata server's ConnContext: it learns the uid of
// the client's socket once, when the connection is accepted.
func withConnOwner(ctx context.Context, c net.Conn) context.Context {
	client, ok1 := c.RemoteAddr().(*net.TCPAddr)
	server, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return context.WithValue(ctx, connOwnerKey{}, connOwner{err: errors.New("not a TCP connection")})
	}
	uid, err := tcpowner.Owner(client, server)
	return context.WithValue(ctx, connOwnerKey{}, connOwner{uid: uid, err: err})
}

// peerAuthorizer refuses metadata requests whose TCP peer is not on the
// loopback interface (the listener is loopback-only; this is the second
// lock) or, where the OS tells (Linux), belongs to another user than ours or
// root: the peer check a Unix socket has, for loopback TCP.
func peerAuthorizer(log *zap.Logger) func(*http.Request) error {
	return func(r *http.Request) error {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			log.Warn("metadata request from a non-loopback peer refused", zap.String("peer", host))
			return errors.New("only local clients may use this endpoint")
		}
		owner, ok := r.Context().Value(connOwnerKey{}).(connOwner)
		switch {
		case !ok:
			return errors.New("the connection's owner was not looked up") // fail closed
		case errors.Is(owner.err, tcpowner.ErrUnsupported):
			return nil // the loopback check and the path secret protect here
		case owner.err != nil:
			return fmt.Errorf("cannot tell which user is connecting: %w", owner.err)
		case int(owner.uid) != os.Getuid() && owner.uid != 0:
			return fmt.Errorf("connection from uid %d refused: the endpoint serves uid %d only", owner.uid, os.Getuid())
		}
		return nil
	}
}
