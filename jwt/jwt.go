// Package jwt decodes compact JSON Web Tokens (header.payload.signature)
// without verifying them: the one decoder the client's `inspect`, the
// daemon's sources and signature verifier (daemon/jwks) and the fake Entra
// share. It imports only the standard library, so the client may link it.
// Never trust what it returns before daemon/jwks has checked the signature.
package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxTokenSize bounds the tokens Decode accepts (Entra tokens with many
// group claims stay well below it).
const MaxTokenSize = 64 << 10

// ErrMalformed is wrapped by every error about a token's shape or encoding.
var ErrMalformed = errors.New("malformed token")

// Token is a decoded, unverified compact JWS. Numbers in Header and Claims
// are json.Number, so integers print as they were sent.
type Token struct {
	Header map[string]any
	Claims map[string]any

	signingInput string // header.payload
	signature    string // base64url, not yet decoded
}

// Decode splits a compact JWS and decodes its header and claims. It checks
// nothing but the encoding, and its errors never quote the token.
func Decode(token string) (*Token, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenSize)
	}
	parts := strings.Split(token, ".")
	switch len(parts) {
	case 3:
	case 5:
		return nil, fmt.Errorf("%w: an encrypted token (JWE) cannot be decoded; only its audience can read it", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: not a JWT (a JWT has 3 parts separated by dots, this has %d)", ErrMalformed, len(parts))
	}
	if parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("%w: empty header or payload", ErrMalformed)
	}
	t := &Token{signingInput: parts[0] + "." + parts[1], signature: parts[2]}
	var err error
	if t.Header, err = decodePart("header", parts[0]); err != nil {
		return nil, err
	}
	if t.Claims, err = decodePart("claims part", parts[1]); err != nil {
		return nil, err
	}
	return t, nil
}

// SigningInput returns header.payload as sent: what the signature signs.
func (t *Token) SigningInput() string { return t.signingInput }

// Signature returns the decoded signature; an error when it is missing or
// not base64url.
func (t *Token) Signature() ([]byte, error) {
	sig, err := Base64URL(t.signature)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("%w: the signature is missing or not base64url", ErrMalformed)
	}
	return sig, nil
}

// HeaderString returns header field name when it is a string.
func (t *Token) HeaderString(name string) string {
	s, _ := t.Header[name].(string)
	return s
}

// ClaimString returns claim name when it is a string.
func (t *Token) ClaimString(name string) string {
	s, _ := t.Claims[name].(string)
	return s
}

// FirstClaim returns the first of the named claims that is a non-empty
// string, or "" (e.g. the user's name: upn, then preferred_username, ...).
func (t *Token) FirstClaim(names ...string) string {
	for _, name := range names {
		if s := t.ClaimString(name); s != "" {
			return s
		}
	}
	return ""
}

// ClaimTime returns claim name as a NumericDate, and whether it is one.
func (t *Token) ClaimTime(name string) (time.Time, bool) {
	return NumericDate(t.Claims[name])
}

// Audience returns the aud claim, which may be a string or a list.
func (t *Token) Audience() []string {
	switch v := t.Claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// NumericDate reads a JWT NumericDate (seconds since the epoch, maybe
// fractional) and reports whether v is one within ±2^53 seconds.
func NumericDate(v any) (time.Time, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			if i > 1<<53 || i < -(1<<53) {
				return time.Time{}, false
			}
			return time.Unix(i, 0), true
		}
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, false
		}
	case float64:
		f = n
	default:
		return time.Time{}, false
	}
	if f != f || f > 1<<53 || f < -(1<<53) {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

// Base64URL decodes base64url without padding, tolerating padding.
func Base64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// decodePart decodes one base64url JSON object of a token.
func decodePart(what, s string) (map[string]any, error) {
	raw, err := Base64URL(s)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s is not base64url", ErrMalformed, what)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: the %s is not a JSON object", ErrMalformed, what)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: the %s has data after its JSON object", ErrMalformed, what)
	}
	return m, nil
}
