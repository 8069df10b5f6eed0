package ipc

import (
	"bytes"
	"context"
	"testing"
)

func BenchmarkWriteReadMessage(b *testing.B) {
	resp := &Response{V: ProtocolVersion, Token: &Token{AccessToken: string(bytes.Repeat([]byte("x"), 1800)), TokenType: "Bearer", ExpiresOn: 1700000000, Profile: "prod", Scope: "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default", Tenant: "t"}}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := WriteMessage(&buf, resp); err != nil {
			b.Fatal(err)
		}
		var out Response
		if err := ReadMessage(&buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCall measures one token round trip: connect, peer check,
// request, answer, close.
func BenchmarkCall(b *testing.B) {
	s := &Server{Handler: echoHandler, RateLimit: RateLimit{PerSecond: -1}} // measure the server, not the limiter
	path := testPath(b)
	l, err := Listen(path)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	ctx := context.Background()
	req := &Request{Op: OpToken, Profile: "prod"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Call(ctx, path, req, nil); err != nil {
			b.Fatal(err)
		}
	}
}
