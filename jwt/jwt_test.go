package jwt

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jsonPart(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return enc(b)
}

func TestDecode(t *testing.T) {
	h := jsonPart(t, map[string]any{"alg": "RS256", "kid": "k"})
	c := jsonPart(t, map[string]any{"aud": "x", "exp": 1700000000})
	for _, tc := range []struct {
		name, token, wantErr string
	}{
		{"ok", h + "." + c + ".sig", ""},
		{"padded and spaced", " " + h + "==." + c + ".sig\n", ""},
		{"empty", "", "malformed token: empty"},
		{"two parts", h + "." + c, "malformed token: not a JWT (a JWT has 3 parts separated by dots, this has 2)"},
		{"jwe", "a.b.c.d.e", "malformed token: an encrypted token (JWE) cannot be decoded; only its audience can read it"},
		{"empty payload", h + "..sig", "malformed token: empty header or payload"},
		{"bad base64", h + ".!!!.sig", "malformed token: the claims part is not base64url"},
		{"not object", enc([]byte("[1]")) + "." + c + ".s", "malformed token: the header is not a JSON object"},
		{"null", enc([]byte("null")) + "." + c + ".s", "malformed token: the header is not a JSON object"},
		{"trailing", h + "." + enc([]byte(`{"a":1}{}`)) + ".s", "malformed token: the claims part has data after its JSON object"},
		{"too long", h + "." + strings.Repeat("A", MaxTokenSize) + ".s", "malformed token: longer than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Decode(tc.token)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.HeaderString("kid") != "k" || tok.ClaimString("aud") != "x" {
				t.Errorf("header %v claims %v", tok.Header, tok.Claims)
			}
			if exp, ok := tok.ClaimTime("exp"); !ok || exp.Unix() != 1700000000 {
				t.Errorf("exp = %v, %v", exp, ok)
			}
			if tok.SigningInput() != strings.TrimSpace(tc.token)[:strings.LastIndex(strings.TrimSpace(tc.token), ".")] {
				t.Errorf("signing input %q", tok.SigningInput())
			}
		})
	}
}

func TestSignature(t *testing.T) {
	for _, tc := range []struct {
		sig  string
		want string
		ok   bool
	}{
		{"c2ln", "sig", true},
		{"c2ln==", "sig", true},
		{"", "", false},
		{"!!", "", false},
	} {
		tok, err := Decode("e30.e30." + tc.sig)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := tok.Signature()
		if (err == nil) != tc.ok || string(sig) != tc.want {
			t.Errorf("%q: %q, %v", tc.sig, sig, err)
		}
	}
}

func TestNumericDate(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want time.Time
		ok   bool
	}{
		{json.Number("1700000000"), time.Unix(1700000000, 0), true},
		{json.Number("1.5e1"), time.Unix(15, 0), true},
		{json.Number("1.25"), time.Unix(1, 250_000_000), true},
		{float64(1700000000), time.Unix(1700000000, 0), true},
		{json.Number("1e400"), time.Time{}, false},
		{json.Number("9007199254740993"), time.Time{}, false},
		{"1700000000", time.Time{}, false},
		{nil, time.Time{}, false},
	} {
		got, ok := NumericDate(tc.v)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("NumericDate(%v) = %v, %v", tc.v, got, ok)
		}
	}
}

func TestAudience(t *testing.T) {
	for _, tc := range []struct {
		claims string
		want   string
	}{
		{`{"aud":"a"}`, "a"},
		{`{"aud":["a",1,"b"]}`, "a,b"},
		{`{}`, ""},
	} {
		tok, err := Decode("e30." + enc([]byte(tc.claims)) + ".x")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(tok.Audience(), ","); got != tc.want {
			t.Errorf("%s: %q", tc.claims, got)
		}
	}
}

// FuzzDecode feeds arbitrary input to the decoder every surface shares: it
// must never panic, never quote the token in an error, and whatever it
// accepts has three parts and two JSON objects.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{"eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.c2ln", "a.b.c", "..", "e30.e30.", "e30.e30.AA",
		"eyJ9.eyJ9.", strings.Repeat(".", 10), "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjEuNWUxMH0.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Decode(s)
		if err != nil {
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the token: %v", err)
			}
			return
		}
		if tok.Header == nil || tok.Claims == nil || strings.Count(strings.TrimSpace(s), ".") != 2 {
			t.Fatalf("accepted %q as %+v", s, tok)
		}
		_, _ = tok.Signature()
		_, _ = tok.ClaimTime("exp")
		_ = tok.Audience()
		_ = tok.HeaderString("alg")
	})
}
