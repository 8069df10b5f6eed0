// Package ipc is the local wire protocol between the entra-helper client and
// the entra-helperd daemon: the message types, their framing (a 4-byte
// big-endian length and a JSON body), the transport per OS (a Unix socket in
// a private directory, a named pipe on Windows), the peer credential check
// and a small one-request-per-connection server.
//
// The client binary links this package, so it imports only the standard
// library, golang.org/x/sys and (on Windows) github.com/Microsoft/go-winio.
// docs/protocol.md describes the wire format for other languages.
package ipc
