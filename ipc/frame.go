package ipc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// headerSize is the size of a frame's length prefix.
const headerSize = 4

// ErrMessageTooLarge reports a frame whose body exceeds MaxMessageSize.
var ErrMessageTooLarge = errors.New("ipc: message exceeds the maximum size")

// ErrVersion reports a message whose "v" is not ProtocolVersion.
var ErrVersion = errors.New("ipc: unsupported protocol version")

// ErrMalformed reports a frame whose body is not a valid JSON message.
var ErrMalformed = errors.New("ipc: malformed message")

// VersionError is returned by ReadMessage for a message of another protocol
// version; it matches ErrVersion with errors.Is.
type VersionError struct {
	Got int // the version the peer sent; 0 when it sent none
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("ipc: peer speaks protocol version %d, this program speaks version %d: run matching versions of entra-helper and entra-helperd",
		e.Got, ProtocolVersion)
}

// Is makes errors.Is(err, ErrVersion) true.
func (e *VersionError) Is(target error) bool { return target == ErrVersion }

// WriteMessage writes v as one frame: its JSON encoding preceded by the
// encoding's length as a 4-byte big-endian integer. It refuses a body larger
// than MaxMessageSize without writing anything. The caller sets the "v" field
// (Call and Server do it for Request and Response).
func WriteMessage(w io.Writer, v any) error {
	bp := framePool.Get().(*[]byte)
	buf, ok := appendFast(append((*bp)[:0], 0, 0, 0, 0), v) // room for the length
	defer framePool.Put(bp)
	if ok {
		// The frame may hold a token: zero it by every way out (written,
		// refused, a failed or panicking Write) before the pool keeps it.
		defer releaseFrame(bp, buf)
	} else {
		var enc bytes.Buffer
		enc.Write(make([]byte, headerSize))
		e := json.NewEncoder(&enc)
		e.SetEscapeHTML(false) // keep '<', '>' and '&' as they are: smaller, exact
		if err := e.Encode(v); err != nil {
			return fmt.Errorf("ipc: encoding message: %w", err)
		}
		buf = bytes.TrimSuffix(enc.Bytes(), []byte("\n"))
	}
	body := buf[headerSize:]
	if len(body) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrMessageTooLarge, len(body), MaxMessageSize)
	}
	// One Write per frame, so a frame is never interleaved or half-sent by
	// a short write on a pipe.
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("ipc: writing message: %w", err)
	}
	return nil
}

// releaseFrame zeroes buf, the frame encoded into *bp's buffer (or into a
// larger one append grew it to), and leaves in *bp a zeroed buffer for the
// pool: the grown one unless it is too large to keep.
func releaseFrame(bp *[]byte, buf []byte) {
	clear(buf)
	if cap(buf) == cap(*bp) {
		return // the same array, now zero up to what was written
	}
	clear((*bp)[:cap(*bp)]) // the array append grew from holds a prefix
	if cap(buf) <= 2*MaxMessageSize {
		*bp = buf[:0] // keep the grown buffer for the next message
	}
}

// framePool holds the buffers WriteMessage encodes hot-path messages into;
// they are zero when pooled, since a frame may carry a token.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// ReadMessage reads one frame written by WriteMessage and decodes its body
// into v. It returns io.EOF if r ends before the first byte of a frame,
// io.ErrUnexpectedEOF (wrapped) if it ends inside one, ErrMessageTooLarge
// (wrapped) if the announced length exceeds MaxMessageSize (checked before
// anything is allocated), a *VersionError if the body's "v" is not
// ProtocolVersion, and ErrMalformed (wrapped) if the body is not a JSON
// object of the expected shape. Unknown fields are ignored.
func ReadMessage(r io.Reader, v any) error {
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("ipc: reading message header: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxMessageSize {
		return fmt.Errorf("%w: peer announced %d bytes, the limit is %d", ErrMessageTooLarge, n, MaxMessageSize)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("ipc: reading message body: %w", err)
	}
	if decodeFast(body, v) {
		return nil
	}
	return decodeBody(body, v)
}

// decodeBody checks the version of a frame's body, then decodes it into v.
func decodeBody(body []byte, v any) error {
	var probe struct {
		V *json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, jsonErrorText(err))
	}
	if probe.V == nil {
		return &VersionError{Got: 0}
	}
	var ver int
	if err := json.Unmarshal(*probe.V, &ver); err != nil {
		return fmt.Errorf("%w: \"v\" is not an integer", ErrMalformed)
	}
	if ver != ProtocolVersion {
		return &VersionError{Got: ver}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, jsonErrorText(err))
	}
	return nil
}

// jsonErrorText describes a JSON decoding error without quoting the input,
// which may hold a secret.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a JSON %s", typ.Field, jsonKind(typ.Type.Kind().String()))
		}
		return "the message must be a JSON object"
	default:
		return "invalid JSON"
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	default:
		return "number"
	}
}
