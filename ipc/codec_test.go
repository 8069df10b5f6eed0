package ipc

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/internal/allocguard"
)

// jsonBody is what WriteMessage wrote before the fast codec: encoding/json
// without HTML escaping and without the trailing newline.
func jsonBody(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

var bigToken = strings.Repeat("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.", 50)

func TestFastEncodeMatchesJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		fast bool
	}{
		{"token request", &Request{V: 1, Op: OpToken}, true},
		{"full token request", &Request{V: 1, Op: OpToken, Profile: "prod", Scopes: []string{"a/.default", "https://management.core.windows.net//.default"}, MinValidMS: 300000}, true},
		{"empty scopes", &Request{V: 1, Op: OpToken, Scopes: []string{}}, true},
		{"verify", &Request{V: 1, Op: OpVerify, Token: bigToken}, true},
		{"negative min valid", &Request{V: 1, Op: OpToken, MinValidMS: -5}, true},
		{"login", &Request{V: 1, Op: OpLogin, Login: &LoginRequest{ClientSecret: "x"}}, false},
		{"expected tenant", &Request{V: 1, Op: OpToken, Tenant: "contoso.com"}, false},
		{"profile with a quote", &Request{V: 1, Op: OpToken, Profile: `a"b`}, false},
		{"scope with <>&", &Request{V: 1, Op: OpToken, Scopes: []string{"a<b>&c"}}, true},
		{"non-ASCII", &Request{V: 1, Op: OpToken, Profile: "prød"}, false},
		{"token answer", &Response{V: 1, Token: &Token{AccessToken: bigToken, TokenType: "Bearer", ExpiresOn: 1700000000, Profile: "p", Scope: "s t", Tenant: "t"}}, true},
		{"zero token", &Response{V: 1, Token: &Token{}}, true},
		{"token answer with a warning", &Response{V: 1, Token: &Token{AccessToken: "a", Warning: "w"}}, false},
		{"error answer", &Response{V: 1, Error: &Error{Code: CodeNeedsLogin, Message: "run `entra-helper login -p prod` (it's quick)"}}, true},
		{"error with newline", &Response{V: 1, Error: &Error{Code: CodeFailed, Message: "a\nb"}}, false},
		{"empty answer", &Response{V: 1}, true},
		{"token and error", &Response{V: 1, Token: &Token{AccessToken: "a"}, Error: &Error{Code: "c"}}, true},
		{"event", &Response{V: 1, Event: &Event{Kind: EventInfo}}, false},
		{"status", &Response{V: 1, Status: &Status{}}, false},
		{"empty checks", &Response{V: 1, Checks: []Check{}}, false},
		{"other type", &Token{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := appendFast(nil, tt.v)
			if ok != tt.fast {
				t.Fatalf("fast path taken: %v, want %v", ok, tt.fast)
			}
			if ok && !bytes.Equal(got, jsonBody(t, tt.v)) {
				t.Fatalf("fast encoding\n%s\ndiffers from encoding/json's\n%s", got, jsonBody(t, tt.v))
			}
		})
	}
}

// A field the fast encoder neither writes nor falls back on would be dropped
// silently (az's --tenant once was): every field of Request must be one it
// knows.
func TestFastEncodeKnowsEveryRequestField(t *testing.T) {
	known := map[string]bool{"V": true, "Op": true, "Profile": true, "Scopes": true, "MinValidMS": true, "Token": true, // written
		"Login": true, "Tenant": true} // fall back to encoding/json
	rt := reflect.TypeOf(Request{})
	for i := range rt.NumField() {
		if f := rt.Field(i); !known[f.Name] {
			t.Errorf("Request.%s is new: write it in appendRequest (and decodeRequest) or fall back to encoding/json when it is set", f.Name)
		}
	}
}

// decodeBoth decodes body with the fast decoder and with encoding/json into
// copies of init, and fails if the fast decoder accepted body and the two
// disagree. It reports whether the fast decoder accepted it.
func decodeBoth[T any](t testing.TB, body []byte, init func() *T) bool {
	t.Helper()
	fast, slow := init(), init()
	ok := decodeFast(body, fast)
	err := decodeBody(body, slow)
	if !ok {
		if !reflect.DeepEqual(fast, init()) {
			t.Fatalf("the fast decoder refused %q but changed the value: %+v", body, fast)
		}
		return false
	}
	if err != nil {
		t.Fatalf("the fast decoder accepted %q, encoding/json refused it: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q: fast decoder %#v, encoding/json %#v", body, fast, slow)
	}
	return true
}

func newRequest() *Request   { return &Request{} }
func newResponse() *Response { return &Response{} }

// prefilled values check that both decoders overwrite only what is present.
func prefilledRequest() *Request {
	return &Request{Op: "x", Profile: "old", Scopes: []string{"old"}, MinValidMS: 7, Token: "old"}
}

func prefilledResponse() *Response {
	return &Response{Token: &Token{AccessToken: "old", Tenant: "old"}, Error: &Error{Code: "old"}}
}

func TestFastDecodeMatchesJSON(t *testing.T) {
	requests := []struct {
		body string
		fast bool
	}{
		{`{"v":1,"op":"token"}`, true},
		{`{"v":1,"op":"token","profile":"sp","scopes":["a/.default","b"],"min_valid_ms":300000}`, true},
		{` { "v" : 1 , "op" : "token" , "scopes" : [ ] } `, true},
		{"{\n\t\"v\":1,\r\n\"op\":\"status\"}", true},
		{`{"op":"token","v":1,"op":"status"}`, true},
		{`{"v":1,"scopes":["a"],"scopes":["b","c"]}`, true},
		{`{"v":1,"min_valid_ms":-0}`, true},
		{`{"v":1,"min_valid_ms":-12}`, true},
		{`{"v":1,"token":"a.b.c"}`, true},
		{`{"v":1}`, true},
		{`{"v":2,"op":"token"}`, false},
		{`{"op":"token"}`, false},
		{`{"v":1.0,"op":"token"}`, false},
		{`{"v":1e0}`, false},
		{`{"v":01}`, false},
		{`{"v":1,"OP":"token"}`, false},
		{`{"v":1,"op":"to\u006ben"}`, false},
		{`{"v":1,"op":null}`, false},
		{`{"v":1,"unknown":true}`, false},
		{`{"v":1,"login":{"client_secret":"s"}}`, false},
		{`{"v":1,"min_valid_ms":12345678901234567890}`, false},
		{`{"v":1,"min_valid_ms":"5"}`, false},
		{`{"v":1,"scopes":"a"}`, false},
		{`{"v":1,"scopes":["a",]}`, false},
		{`{"v":1,}`, false},
		{`{"v":1} x`, false},
		{`{"v":1}{"v":1}`, false},
		{`{"v":1,"op":"tøken"}`, false},
		{`[]`, false},
		{``, false},
		{`{"v":1,"op":"token"`, false},
	}
	for _, tt := range requests {
		for _, init := range []func() *Request{newRequest, prefilledRequest} {
			if got := decodeBoth(t, []byte(tt.body), init); got != tt.fast {
				t.Errorf("request %s: fast path taken %v, want %v", tt.body, got, tt.fast)
			}
		}
	}
	responses := []struct {
		body string
		fast bool
	}{
		{`{"v":1,"token":{"access_token":"` + bigToken + `","token_type":"Bearer","expires_on":1700000000,"profile":"p","scope":"s","tenant":"t"}}`, true},
		{`{"v":1,"error":{"code":"needs_login","message":"run entra-helper login -p p"}}`, true},
		{`{"v":1,"token":{"access_token":"a"},"token":{"profile":"p"}}`, true},
		{`{"v":1,"token":{}}`, true},
		{`{"v":1,"error":{}}`, true},
		{`{"v":1}`, true},
		{`{"token":{"access_token":"a"},"v":1}`, true},
		{`{"v":1,"token":null}`, false},
		{`{"v":1,"token":{"access_token":"a","extra":1}}`, false},
		{`{"v":1,"event":{"kind":"info"}}`, false},
		{`{"v":1,"status":{}}`, false},
		{`{"v":1,"token":{"expires_on":1.5}}`, false},
		{`{"v":1,"token":{"access_token":"a\"b"}}`, false},
		{`{"v":0,"token":{}}`, false},
		{`{"token":{}}`, false},
	}
	for _, tt := range responses {
		for _, init := range []func() *Response{newResponse, prefilledResponse} {
			if got := decodeBoth(t, []byte(tt.body), init); got != tt.fast {
				t.Errorf("response %s: fast path taken %v, want %v", tt.body, got, tt.fast)
			}
		}
	}
}

// FuzzCodecMatchesJSON holds the fast codec to encoding/json: whatever body
// the fast decoder accepts, encoding/json decodes to the same value; and a
// message built from the fuzzed strings encodes to the same bytes.
func FuzzCodecMatchesJSON(f *testing.F) {
	f.Add([]byte(`{"v":1,"op":"token","profile":"sp","scopes":["a"],"min_valid_ms":5}`), "prod", "a/.default", int64(60000))
	f.Add([]byte(`{"v":1,"token":{"access_token":"x","token_type":"Bearer","expires_on":1,"profile":"p","scope":"s","tenant":"t"}}`), "p\"", "s\n", int64(-1))
	f.Add([]byte(`{"v":1,"error":{"code":"c","message":"m"},"token":{}}`), "", "", int64(0))
	f.Fuzz(func(t *testing.T, body []byte, s1, s2 string, n int64) {
		decodeBoth(t, body, newRequest)
		decodeBoth(t, body, prefilledRequest)
		decodeBoth(t, body, newResponse)
		decodeBoth(t, body, prefilledResponse)
		for _, v := range []any{
			&Request{V: 1, Op: s1, Profile: s2, Scopes: []string{s2, s1}, MinValidMS: n, Token: s1},
			&Response{V: 1, Token: &Token{AccessToken: s1, TokenType: s2, ExpiresOn: n, Profile: s1, Scope: s2, Tenant: s1}},
			&Response{V: 1, Error: &Error{Code: s1, Message: s2}},
		} {
			if got, ok := appendFast(nil, v); ok && !bytes.Equal(got, jsonBody(t, v)) {
				t.Fatalf("fast encoding %s differs from encoding/json's %s", got, jsonBody(t, v))
			}
		}
	})
}

// TestCodecAllocs guards the cost of the hot path's messages: a token
// answer is written without allocating and read with a handful of
// allocations (the test's reader, the length prefix, the frame, its one
// string copy, the Token or the scopes), and so is a token request;
// encoding/json took 27 for the answer. Allocation counts do not depend on the machine's speed.
func TestCodecAllocs(t *testing.T) {
	allocguard.SkipUnderRace(t)
	resp := &Response{V: 1, Token: &Token{AccessToken: bigToken, TokenType: "Bearer", ExpiresOn: 1700000000, Profile: "prod", Scope: "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default", Tenant: "t"}}
	req := &Request{V: 1, Op: OpToken, Profile: "prod", Scopes: []string{"a/.default"}}
	var frameResp, frameReq bytes.Buffer
	if err := WriteMessage(&frameResp, resp); err != nil {
		t.Fatal(err)
	}
	if err := WriteMessage(&frameReq, req); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		max  float64
		f    func()
	}{
		{"write token answer", 0, func() { _ = WriteMessage(io.Discard, resp) }},
		{"write token request", 0, func() { _ = WriteMessage(io.Discard, req) }},
		{"read token answer", 6, func() {
			var out Response
			_ = ReadMessage(bytes.NewReader(frameResp.Bytes()), &out)
		}},
		{"read token request", 6, func() {
			var out Request
			_ = ReadMessage(bytes.NewReader(frameReq.Bytes()), &out)
		}},
	}
	for _, c := range checks {
		if got := testing.AllocsPerRun(200, c.f); got > c.max {
			t.Errorf("%s: %.0f allocations, want at most %.0f (the fast codec is no longer taken?)", c.name, got, c.max)
		}
	}
}

// Every ASCII byte, invalid UTF-8, U+2028/U+2029, the HTML characters, a
// string at the frame's limit and the int64 edges, in every string and
// number field: what the fast encoder writes is encoding/json's bytes, what
// it refuses encoding/json writes, and the frame reads back as
// encoding/json reads it.
func TestFastCodecEdgeValues(t *testing.T) {
	strs := []string{"\u2028", "\u2029", "a\u2028b", string([]byte{0xff}), "\xc3", "\xed\xa0\x80", "<>&", "\x7f", "é", "\ufeff"}
	for c := range 0x80 {
		strs = append(strs, "x"+string(rune(c))+"y")
	}
	nums := []int64{0, 1, -1, 1<<63 - 1, -1 << 63, 999999999999999999, 1000000000000000000, -999999999999999999, -1000000000000000000}
	check := func(v any, fresh func() any) {
		t.Helper()
		var frame bytes.Buffer
		if err := WriteMessage(&frame, v); err != nil {
			t.Fatalf("%.200v: %v", v, err)
		}
		if got := frame.Bytes()[headerSize:]; !bytes.Equal(got, jsonBody(t, v)) {
			t.Fatalf("wrote %.200q, encoding/json %.200q", got, jsonBody(t, v))
		}
		fast, slow := fresh(), fresh()
		if err := ReadMessage(bytes.NewReader(frame.Bytes()), fast); err != nil {
			t.Fatal(err)
		}
		if err := decodeBody(frame.Bytes()[headerSize:], slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("read %.200v, encoding/json %.200v", fast, slow)
		}
	}
	for _, s := range strs {
		check(&Request{V: 1, Op: s, Profile: s, Scopes: []string{s}, Token: s}, func() any { return &Request{} })
		check(&Response{V: 1, Token: &Token{AccessToken: s, TokenType: s, Profile: s, Scope: s, Tenant: s}}, func() any { return &Response{} })
		check(&Response{V: 1, Error: &Error{Code: s, Message: s}}, func() any { return &Response{} })
	}
	long := strings.Repeat("A", MaxMessageSize-200) // one field near the frame's limit
	check(&Request{V: 1, Op: OpVerify, Token: long}, func() any { return &Request{} })
	check(&Response{V: 1, Token: &Token{AccessToken: long}}, func() any { return &Response{} })
	for _, n := range nums {
		check(&Request{V: 1, Op: OpToken, MinValidMS: n}, func() any { return &Request{} })
		check(&Response{V: 1, Token: &Token{ExpiresOn: n}}, func() any { return &Response{} })
	}
}
