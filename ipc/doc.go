// Package ipc is the local wire protocol between the entra-helper client and
// the entra-helperd daemon, and only what the client needs of it: the
// message types, their framing (a 4-byte big-endian length and a JSON
// body), Listen/Dial/Call over the transport of each OS (a Unix socket in a
// private directory, a named pipe on Windows), PeerOf, the one owner check
// (Peer.IsSelfOrAdmin) and the system socket path per OS. The daemon's
// request server is package daemon/ipcserver and its access policy package
// daemon/access.
//
// The client binary links this package, so it imports only the standard
// library, golang.org/x/sys and (on Windows) github.com/Microsoft/go-winio.
// docs/protocol.md describes the wire format for other languages.
package ipc
