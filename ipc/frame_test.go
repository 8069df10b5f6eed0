package ipc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func frame(body string) []byte {
	b := make([]byte, headerSize+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	copy(b[headerSize:], body)
	return b
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   any
		out  any
	}{
		{"request", &Request{V: ProtocolVersion, Op: OpToken, Profile: "prod", Scopes: []string{"a/.default", "b"}, MinValidMS: 60000},
			&Request{}},
		{"login request", &Request{V: ProtocolVersion, Op: OpLogin, Login: &LoginRequest{ClientSecret: "s3cr3t", NoBrowser: true}},
			&Request{}},
		{"event", &Response{V: ProtocolVersion, Event: &Event{Kind: EventDeviceCode, Message: "go to https://example.test and enter ABC"}},
			&Response{}},
		{"token", &Response{V: ProtocolVersion, Token: &Token{AccessToken: "eyJ.x.y", TokenType: "Bearer", ExpiresOn: 1700000000, Profile: "p", Scope: "s", Tenant: "t"}},
			&Response{}},
		{"error", &Response{V: ProtocolVersion, Error: &Error{Code: CodeNeedsLogin, Message: "run entra-helper login -p prod"}},
			&Response{}},
		{"status", &Response{V: ProtocolVersion, Status: &Status{Version: "1", PID: 7, Profiles: []ProfileStatus{{Name: "p", Tokens: []TokenStatus{{Scope: "s"}}}}}},
			&Response{}},
		{"unicode", &Response{V: ProtocolVersion, Error: &Error{Code: CodeFailed, Message: "profil «prod» — échec ✓"}},
			&Response{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMessage(&buf, tt.in); err != nil {
				t.Fatal(err)
			}
			n := binary.BigEndian.Uint32(buf.Bytes())
			if int(n) != buf.Len()-headerSize {
				t.Fatalf("length prefix %d, body %d bytes", n, buf.Len()-headerSize)
			}
			if err := ReadMessage(&buf, tt.out); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.in, tt.out) {
				t.Fatalf("got %+v, want %+v", tt.out, tt.in)
			}
			if buf.Len() != 0 {
				t.Fatalf("%d bytes left after one message", buf.Len())
			}
		})
	}
}

func TestSeveralMessagesOnOneStream(t *testing.T) {
	var buf bytes.Buffer
	for i := range 3 {
		if err := WriteMessage(&buf, &Response{V: ProtocolVersion, Event: &Event{Kind: EventInfo, Message: strings.Repeat("x", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		var r Response
		if err := ReadMessage(&buf, &r); err != nil {
			t.Fatal(err)
		}
		if r.Event.Message != strings.Repeat("x", i) {
			t.Fatalf("message %d: %q", i, r.Event.Message)
		}
	}
	if err := ReadMessage(&buf, &Response{}); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

func TestWriteRefusesOversize(t *testing.T) {
	var buf bytes.Buffer
	big := &Request{V: ProtocolVersion, Op: OpVerify, Token: strings.Repeat("a", MaxMessageSize)}
	err := WriteMessage(&buf, big)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err = %v, want ErrMessageTooLarge", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes of a refused message", buf.Len())
	}
	// Just under the limit passes.
	body, _ := jsonSize(t, &Request{V: ProtocolVersion, Op: OpVerify})
	fit := &Request{V: ProtocolVersion, Op: OpVerify, Token: strings.Repeat("a", MaxMessageSize-body-len(`,"token":""`))}
	if err := WriteMessage(&buf, fit); err != nil {
		t.Fatalf("a message of exactly MaxMessageSize: %v", err)
	}
	if buf.Len() != headerSize+MaxMessageSize {
		t.Fatalf("frame of %d bytes, want %d", buf.Len(), headerSize+MaxMessageSize)
	}
	if err := ReadMessage(&buf, &Request{}); err != nil {
		t.Fatalf("reading a message of exactly MaxMessageSize: %v", err)
	}
}

func jsonSize(t *testing.T, v any) (int, error) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteMessage(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.Len() - headerSize, nil
}

// countingReader serves a header announcing n bytes, then endless zeros,
// and counts what was read.
type countingReader struct {
	hdr  []byte
	read int
}

func (r *countingReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.read < len(r.hdr) {
			p[n] = r.hdr[r.read]
		} else {
			p[n] = '0'
		}
		n++
		r.read++
	}
	return n, nil
}

func TestReadRefusesOversizeWithoutAllocating(t *testing.T) {
	for _, n := range []uint32{MaxMessageSize + 1, 1 << 30, 0xFFFFFFFF} {
		r := &countingReader{hdr: binary.BigEndian.AppendUint32(nil, n)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := ReadMessage(r, &Request{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("length %d: err = %v, want ErrMessageTooLarge", n, err)
		}
		if r.read != headerSize {
			t.Fatalf("length %d: read %d bytes, want only the %d-byte header", n, r.read, headerSize)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > MaxMessageSize {
			t.Fatalf("length %d: allocated %d bytes while refusing", n, grew)
		}
	}
}

func TestReadErrors(t *testing.T) {
	full := frame(`{"v":1,"op":"token"}`)
	tests := []struct {
		name  string
		input []byte
		want  error // matched with errors.Is
	}{
		{"empty stream", nil, io.EOF},
		{"partial header", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"header only", full[:headerSize], io.ErrUnexpectedEOF},
		{"partial body", full[:len(full)-3], io.ErrUnexpectedEOF},
		{"wrong version", frame(`{"v":2,"op":"token"}`), ErrVersion},
		{"version zero", frame(`{"v":0,"op":"token"}`), ErrVersion},
		{"no version", frame(`{"op":"token"}`), ErrVersion},
		{"null body", frame(`null`), ErrVersion},
		{"string version", frame(`{"v":"1","op":"token"}`), ErrMalformed},
		{"fractional version", frame(`{"v":1.5}`), ErrMalformed},
		{"empty body", frame(``), ErrMalformed},
		{"not json", frame(`hello`), ErrMalformed},
		{"array", frame(`[1,2]`), ErrMalformed},
		{"wrong field type", frame(`{"v":1,"op":7}`), ErrMalformed},
		{"trailing garbage", frame(`{"v":1} x`), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadMessage(bytes.NewReader(tt.input), &Request{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVersionErrorNamesBothVersions(t *testing.T) {
	err := ReadMessage(bytes.NewReader(frame(`{"v":7}`)), &Response{})
	var verr *VersionError
	if !errors.As(err, &verr) || verr.Got != 7 {
		t.Fatalf("err = %#v, want a *VersionError for 7", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "version 7") || !strings.Contains(msg, "version 1") {
		t.Fatalf("message %q does not name both versions", msg)
	}
}

func TestMalformedErrorQuotesNoInput(t *testing.T) {
	const secret = "hunter2-very-secret"
	inputs := []string{
		`{"v":1,"login":{"client_secret":"` + secret + `"} x`,
		`{"v":1,"login":{"client_secret":["` + secret + `"]}}`,
		`{"v":1,"token":` + secret + `}`,
	}
	for _, in := range inputs {
		err := ReadMessage(bytes.NewReader(frame(in)), &Request{})
		if err == nil {
			t.Fatalf("%s: no error", in)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "hunter") {
			t.Fatalf("error %q quotes the input", err)
		}
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add(frame(`{"v":1,"op":"token","profile":"p","scopes":["a"]}`))
	f.Add(frame(`{"v":1,"event":{"kind":"info","message":"m"}}`))
	f.Add(frame(`{"v":1,"error":{"code":"usage","message":"m"}}`))
	f.Add(frame(`{"v":2}`))
	f.Add(frame(`[]`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		if err := ReadMessage(bytes.NewReader(data), &req); err != nil {
			return
		}
		if req.V != ProtocolVersion {
			t.Fatalf("accepted version %d", req.V)
		}
		// What was accepted survives a round trip (unless escaping made
		// it too large).
		var buf bytes.Buffer
		if err := WriteMessage(&buf, &req); err != nil {
			if errors.Is(err, ErrMessageTooLarge) {
				return
			}
			t.Fatalf("re-encoding an accepted message: %v", err)
		}
		first := append([]byte(nil), buf.Bytes()...)
		var again Request
		if err := ReadMessage(&buf, &again); err != nil {
			t.Fatalf("reading a re-encoded message: %v", err)
		}
		if err := WriteMessage(&buf, &again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("round trip changed %q into %q", first, buf.Bytes())
		}
	})
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// panicWriter panics on write, as a handler's writer may.
type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("write") }

// WriteMessage encodes a token answer into a pooled buffer: after it
// returns, by any way out (written, refused as too large, a failed or
// panicking write), no buffer in the pool holds the token.
func TestWriteMessageLeavesNoTokenInPool(t *testing.T) {
	const marker = "SECRETxTOKENxMARKER"
	big := marker + strings.Repeat("A", MaxMessageSize) // fast path, too large
	cases := []struct {
		name string
		w    io.Writer
		tok  string
	}{
		{"written", io.Discard, marker + bigToken},
		{"grown buffer", io.Discard, marker + strings.Repeat("B", 3*4096)},
		{"too large", io.Discard, big},
		{"write fails", errWriter{}, marker + bigToken},
		{"write panics", panicWriter{}, marker + bigToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := &Response{V: 1, Token: &Token{AccessToken: c.tok, TokenType: "Bearer"}}
			func() {
				defer func() { _ = recover() }()
				_ = WriteMessage(c.w, resp)
			}()
			// Drain what this P's pool holds (Get returns the last Put first).
			var held []*[]byte
			defer func() {
				for _, bp := range held {
					framePool.Put(bp)
				}
			}()
			for range 4 {
				bp := framePool.Get().(*[]byte)
				held = append(held, bp)
				if bytes.Contains((*bp)[:cap(*bp)], []byte(marker)) {
					t.Fatalf("a pooled frame buffer (cap %d) still holds the token", cap(*bp))
				}
			}
		})
	}
}
