package entratest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec: x5t is a SHA-1 thumbprint by definition (RFC 7517)
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b) // #nosec
	return s[:]
}

// signingKey is an RSA key with a self-signed certificate, published in a
// JWKS the way Entra publishes its keys (kid, x5t, x5c).
type signingKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	kid  string
}

// RSA key generation is the slow part of New; keys are made once per
// process and shared by every Server (tests start many servers).
var (
	keyOnce  sync.Once
	keyPool  [2]*signingKey
	errPool  error
	poolSize = len(keyPool)
)

func sharedKeys() ([2]*signingKey, error) {
	keyOnce.Do(func() {
		for i := 0; i < poolSize; i++ {
			keyPool[i], errPool = newSigningKey(fmt.Sprintf("entratest signing key %d", i))
			if errPool != nil {
				return
			}
		}
	})
	return keyPool, errPool
}

func newSigningKey(cn string) (*signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &signingKey{key: k, cert: cert, kid: base64.RawURLEncoding.EncodeToString(sha1Sum(der))}, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// jwk is one key of a JWKS document, shaped like Entra's.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

func (k *signingKey) jwk(issuer string) jwk {
	return jwk{
		Kty:    "RSA",
		Use:    "sig",
		Kid:    k.kid,
		X5t:    k.kid,
		N:      b64.EncodeToString(k.key.N.Bytes()),
		E:      b64.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
		X5c:    []string{base64.StdEncoding.EncodeToString(k.cert.Raw)},
		Issuer: issuer,
	}
}

// tlsMaterial is the throwaway CA and the server certificate it signed.
type tlsMaterial struct {
	caCert  *x509.Certificate
	caPEM   []byte
	leafDER []byte
	leafKey *ecdsa.PrivateKey
}

func newTLSMaterial() (*tlsMaterial, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "entratest fake Entra ID CA", Organization: []string{"entra-helper tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(29 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return &tlsMaterial{
		caCert:  caCert,
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leafDER: leafDER,
		leafKey: leafKey,
	}, nil
}
