// Package tcpowner tells which user owns the other end of a loopback TCP
// connection, so that a loopback HTTP endpoint can refuse other local users
// the way a Unix socket's peer check does. It works on Linux only.
package tcpowner

import "errors"

// ErrUnsupported is returned where the OS does not tell a socket's owner.
var ErrUnsupported = errors.New("tcpowner: the owner of a TCP connection cannot be told on this OS")
