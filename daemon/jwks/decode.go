// Package jwks verifies the RS256 signature of Entra ID tokens against the
// keys their issuer publishes (OpenID discovery, then the JWKS document), and
// decodes JWTs without verifying them.
package jwks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxTokenSize bounds the tokens this package accepts (Entra tokens with many
// group claims stay well below it).
const MaxTokenSize = 64 << 10

// ErrMalformed is wrapped by every error about a token's shape or encoding.
var ErrMalformed = errors.New("malformed token")

// DecodeUnverified splits a compact JWS (header.payload.signature) and returns
// its header and claims as decoded JSON objects. It checks nothing but the
// encoding: never trust what it returns. Errors never quote the token.
func DecodeUnverified(token string) (header, claims map[string]any, err error) {
	parts, err := split(token)
	if err != nil {
		return nil, nil, err
	}
	header, err = decodePart("header", parts[0])
	if err != nil {
		return nil, nil, err
	}
	claims, err = decodePart("payload", parts[1])
	if err != nil {
		return nil, nil, err
	}
	return header, claims, nil
}

// split returns the three parts of a compact JWS.
func split(token string) ([]string, error) {
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
		return nil, fmt.Errorf("%w: an encrypted token (JWE) cannot be decoded", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: a JWT has 3 parts separated by dots, this has %d", ErrMalformed, len(parts))
	}
	if parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("%w: empty header or payload", ErrMalformed)
	}
	return parts, nil
}

// b64 decodes base64url without padding, tolerating padding.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func decodePart(what, s string) (map[string]any, error) {
	raw, err := b64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s is not base64url", ErrMalformed, what)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: the %s is not a JSON object", ErrMalformed, what)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: the %s has data after its JSON object", ErrMalformed, what)
	}
	return m, nil
}

// NumericDate returns claim name of claims as a time (JWT NumericDate,
// seconds since the epoch), and whether it is present and a number.
func NumericDate(claims map[string]any, name string) (time.Time, bool) {
	f, ok := claims[name].(float64)
	if !ok || f != f || f > 1<<53 || f < -(1<<53) {
		return time.Time{}, false
	}
	sec := int64(f)
	nsec := int64((f - float64(sec)) * 1e9)
	return time.Unix(sec, nsec), true
}

// stringClaim returns m[name] when it is a string.
func stringClaim(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}
