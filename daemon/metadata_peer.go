package daemon

import (
	"errors"
	"net"
	"net/http"

	"go.uber.org/zap"
)

// peerAuthorizer refuses metadata requests whose TCP peer is not on the
// loopback interface (the listener is loopback-only; this is the second lock).
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
		return sameUserTCP(r)
	}
}
