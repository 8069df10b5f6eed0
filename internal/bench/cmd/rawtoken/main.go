//go:build linux

// Command rawtoken is a floor of `make bench`: the least a Go program can do
// to get a token from entra-helperd, with raw system calls and no net
// package, poller or JSON decoder (it prints the answer's body as it
// came). It checks the server's uid as the client does. Timed beside
// hello-world and `entra-helper token`, it shows how much of the client's
// time is the request itself and how much the client's own code.
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rawtoken:", err)
		os.Exit(1)
	}
}

func run() error {
	path := os.Getenv("ENTRA_HELPER_SOCKET")
	if path == "" {
		path = filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "entra-helper", "daemon.sock")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return err
	}
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return err
	}
	if uid := uint32(os.Geteuid()); cred.Uid != uid && cred.Uid != 0 {
		return fmt.Errorf("%s is served by uid %d", path, cred.Uid)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 120}); err != nil {
		return err
	}
	req := `{"v":1,"op":"token"`
	if p := os.Getenv("ENTRA_HELPER_PROFILE"); p != "" {
		req += `,"profile":"` + p + `"`
	}
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(req)+1))
	msg = append(append(msg, req...), '}')
	if _, err := unix.Write(fd, msg); err != nil {
		return err
	}
	buf := make([]byte, 16<<10)
	n := 0
	for n < 4 || n < 4+int(binary.BigEndian.Uint32(buf)) {
		if n == len(buf) {
			return fmt.Errorf("answer larger than %d bytes", len(buf))
		}
		m, err := unix.Read(fd, buf[n:])
		if err != nil {
			return err
		}
		if m == 0 {
			return fmt.Errorf("connection closed after %d bytes", n)
		}
		n += m
	}
	_, err = os.Stdout.Write(append(buf[4:n], '\n'))
	return err
}
