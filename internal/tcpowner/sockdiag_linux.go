package tcpowner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Owner returns the uid owning the TCP socket whose local end is local and
// remote end is remote. It asks the kernel by NETLINK_SOCK_DIAG, an exact
// hash lookup of the 4-tuple (microseconds); where netlink is refused it
// falls back to scanning /proc/net/tcp{,6}, whose read walks every bucket of
// the kernel's connection table (milliseconds).
func Owner(local, remote *net.TCPAddr) (uint32, error) {
	uid, _, err := tcpDiag(local, remote)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return uid, err
	}
	return procOwner(local, remote)
}

// tcpDiag returns the uid and inode of the socket (local, remote).
func tcpDiag(local, remote *net.TCPAddr) (uid, inode uint32, err error) {
	family := uint8(unix.AF_INET)
	if local.IP.To4() == nil {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, 0, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, diagRequest(family, local, remote), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, os.NewSyscallError("sendto", err)
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, 0, os.NewSyscallError("recvfrom", err)
	}
	return parseDiagReply(buf[:n])
}

// Sizes of struct nlmsghdr, inet_diag_req_v2 and the offset of idiag_uid
// in struct inet_diag_msg (linux/inet_diag.h); idiag_inode follows it.
const (
	nlmsgHdrLen    = 16
	diagReqLen     = 56
	diagMsgUIDOffs = 64
)

// diagRequest builds a SOCK_DIAG_BY_FAMILY request without NLM_F_DUMP, so
// the kernel looks the one socket up by its 4-tuple.
func diagRequest(family uint8, local, remote *net.TCPAddr) []byte {
	b := make([]byte, nlmsgHdrLen+diagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1) // sequence
	r := b[nlmsgHdrLen:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], uint16(local.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(remote.Port))
	putIP(id[4:20], local.IP, family)
	putIP(id[20:36], remote.IP, family)
	ne.PutUint32(id[40:], 0xffffffff) // INET_DIAG_NOCOOKIE
	ne.PutUint32(id[44:], 0xffffffff)
	return b
}

func putIP(dst []byte, ip net.IP, family uint8) {
	if family == unix.AF_INET {
		copy(dst, ip.To4())
		return
	}
	copy(dst, ip.To16())
}

// parseDiagReply returns idiag_uid and idiag_inode of the first message, or
// the kernel's error (ENOENT: no such socket).
func parseDiagReply(b []byte) (uid, inode uint32, err error) {
	if len(b) < nlmsgHdrLen {
		return 0, 0, errors.New("tcpowner: the kernel's sock_diag reply is truncated")
	}
	ne := binary.NativeEndian
	switch typ := ne.Uint16(b[4:]); typ {
	case unix.NLMSG_ERROR:
		if len(b) < nlmsgHdrLen+4 {
			return 0, 0, errors.New("tcpowner: the kernel's sock_diag error is truncated")
		}
		if errno := -int32(ne.Uint32(b[nlmsgHdrLen:])); errno != 0 {
			return 0, 0, fmt.Errorf("tcpowner: the kernel refused the sock_diag lookup: %w", unix.Errno(errno))
		}
		return 0, 0, errors.New("tcpowner: the kernel's sock_diag lookup gave no answer")
	case unix.SOCK_DIAG_BY_FAMILY:
		if len(b) < nlmsgHdrLen+diagMsgUIDOffs+8 {
			return 0, 0, errors.New("tcpowner: the kernel's inet_diag message is truncated")
		}
		m := b[nlmsgHdrLen+diagMsgUIDOffs:]
		return ne.Uint32(m), ne.Uint32(m[4:]), nil
	default:
		return 0, 0, fmt.Errorf("tcpowner: unexpected netlink message type %d from sock_diag", typ)
	}
}
