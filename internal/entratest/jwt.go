package entratest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/entra-helper/entra-helper/jwt"
)

var b64 = base64.RawURLEncoding

// signJWT returns a compact RS256 JWS of claims with the given header
// fields (alg and typ are set here).
func signJWT(key *rsa.PrivateKey, header map[string]any, claims any) (string, error) {
	h := map[string]any{"typ": "JWT", "alg": "RS256"}
	for k, v := range header {
		h[k] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString(hj) + "." + b64.EncodeToString(cj)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// jwtParts is a decoded but not yet verified JWT.
type jwtParts struct {
	*jwt.Token
	sig []byte
}

// errMalformed reports a token that is not a JWT at all.
var errMalformed = errors.New("entratest: malformed JWT")

// parseJWT decodes a compact JWS with the shared decoder, without verifying
// it.
func parseJWT(tok string) (*jwtParts, error) {
	t, err := jwt.Decode(tok)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	sig, err := t.Signature()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return &jwtParts{Token: t, sig: sig}, nil
}

// verify checks the signature with pub for RS256 or PS256.
func (p *jwtParts) verify(pub *rsa.PublicKey) error {
	sum := sha256.Sum256([]byte(p.SigningInput()))
	switch p.str("alg", true) {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], p.sig)
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], p.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		return fmt.Errorf("entratest: unsupported JWT alg %q", p.str("alg", true))
	}
}

// str returns a string header (header=true) or claim.
func (p *jwtParts) str(name string, header bool) string {
	if header {
		return p.HeaderString(name)
	}
	return p.ClaimString(name)
}

// num returns a numeric claim in seconds and whether it was present.
func (p *jwtParts) num(name string) (int64, bool) {
	t, ok := p.ClaimTime(name)
	return t.Unix(), ok
}

// aud returns the audience claim, which may be a string or a list.
func (p *jwtParts) aud() []string { return p.Audience() }

// certMatchesThumbprint reports whether the x5t#S256 or x5t header of an
// assertion names cert (base64 of its SHA-256 or SHA-1 digest).
func certMatchesThumbprint(cert *x509.Certificate, header map[string]any) bool {
	s256 := sha256.Sum256(cert.Raw)
	if v, ok := header["x5t#S256"].(string); ok {
		return v == base64.StdEncoding.EncodeToString(s256[:]) || v == b64.EncodeToString(s256[:])
	}
	if v, ok := header["x5t"].(string); ok {
		s1 := sha1Sum(cert.Raw)
		return v == base64.StdEncoding.EncodeToString(s1) || v == b64.EncodeToString(s1)
	}
	// No thumbprint: Entra then tries the app's registered keys.
	return true
}
