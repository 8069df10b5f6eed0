package access

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/entra-helper/entra-helper/internal/tcpowner"
	"github.com/entra-helper/entra-helper/ipc"
)

// connPeerKey holds, in a loopback connection's context, who owns the
// client's end (looked up once per connection by ConnContext).
type connPeerKey struct{}

type connPeer struct {
	peer ipc.Peer
	err  error
}

// noGID is the GID of a peer whose process's group is unknown: a loopback
// connection tells its owner's uid only. It is (gid_t)-1, which POSIX keeps
// for "no group", so it matches no allowed_groups entry; the user's groups
// come from the user database instead.
const noGID = ^uint32(0)

// ConnContext is the http.Server.ConnContext of every loopback endpoint:
// it looks up, once per connection, which local user owns the client's end
// of the TCP connection (Linux; elsewhere the owner is unknown).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	client, ok1 := c.RemoteAddr().(*net.TCPAddr)
	server, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return context.WithValue(ctx, connPeerKey{}, connPeer{err: errors.New("not a TCP connection")})
	}
	if !client.IP.IsLoopback() {
		return context.WithValue(ctx, connPeerKey{}, connPeer{err: fmt.Errorf("%s is not on the loopback interface", client.IP)})
	}
	uid, err := tcpowner.Owner(client, server)
	return context.WithValue(ctx, connPeerKey{}, connPeer{peer: ipc.Peer{UID: uid, GID: noGID}, err: err})
}

// CheckRequest is Admit and Use for one request of a loopback HTTP
// endpoint whose server has ConnContext (see AdmitRequest). The peer is
// returned for Granted.
func (p *Policy) CheckRequest(r *http.Request, s Surface, profile string) (ipc.Peer, error) {
	peer, err := p.AdmitRequest(r, s)
	if err != nil {
		return peer, err
	}
	return peer, p.Use(peer, s, profile)
}

// AdmitRequest is Admit for one request of a loopback HTTP endpoint whose
// server has ConnContext, before the request's profile is known: it finds
// the request's peer from its connection and decides whether it may use the
// daemon at all on surface. Where the OS does not tell the owner of a TCP
// connection, a per-user daemon admits the request (the loopback listener
// and the endpoint's secret protect it) and a system daemon refuses it,
// since it cannot tell whose profile may be used. The peer is returned for
// Use and Granted.
func (p *Policy) AdmitRequest(r *http.Request, s Surface) (ipc.Peer, error) {
	cp, ok := r.Context().Value(connPeerKey{}).(connPeer)
	switch {
	case !ok:
		cp.err = errors.New("the connection's owner was not looked up") // fail closed
	case errors.Is(cp.err, tcpowner.ErrUnsupported) && !p.system:
		return ipc.Self(), nil
	}
	if cp.err != nil {
		return cp.peer, p.deny(cp.peer, s, "", fmt.Sprintf("the daemon cannot tell which user is connecting (%v), so it refuses the request; use the socket (entra-helper token) instead", cp.err))
	}
	return cp.peer, p.Admit(cp.peer, s)
}
