package main

import (
	"errors"
	"io"
)

// readLine reads up to a newline, one byte at a time so nothing past the
// line is consumed.
func readLine(r io.Reader) (string, error) {
	var buf []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			buf = append(buf, b[0])
			if len(buf) > maxSecret {
				return "", errors.New("the input is too long")
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if len(buf) > 0 && buf[len(buf)-1] == '\r' {
		buf = buf[:len(buf)-1]
	}
	return string(buf), nil
}
