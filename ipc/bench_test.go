package ipc

import (
	"bytes"
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
