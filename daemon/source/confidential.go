package source

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/store"
)

// confidentialProfile is a service principal: client-secret,
// client-certificate or federated. Its MSAL client keeps no tokens (noCache):
// every Acquire asks Entra.
type confidentialProfile struct {
	*base

	mu       sync.Mutex
	client   *confidential.Client
	credHash [32]byte // of the credential material client was built from
	material []byte   // secret or PEM read from the store (nil: not loaded)
	oid      objectID // the service principal's, once a token showed it
}

// fileError is a failure to read a file the profile names.
type fileError struct {
	what, path string
	err        error
}

func (e *fileError) Error() string { return e.what + " " + e.path + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

func (c *confidentialProfile) classify(err error) error {
	var fe *fileError
	if errors.As(err, &fe) {
		return &tokensource.Error{Kind: tokensource.KindFailed, Err: sanitize(fe.err),
			Message: fmt.Sprintf("cannot read the %s %s of profile %s: %v", fe.what, fe.path, c.p.Name, briefOSError(fe.err))}
	}
	return c.base.classify(err)
}

// briefOSError is the part of an os error without the path.
func briefOSError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Acquire gets a token for scopes with the profile's credential.
func (c *confidentialProfile) Acquire(ctx context.Context, scopes []string) (tokensource.Token, error) {
	if err := c.checkScopes(scopes); err != nil {
		return tokensource.Token{}, err
	}
	cl, err := c.currentClient(ctx)
	if err != nil {
		return tokensource.Token{}, c.classify(err)
	}
	return c.acquire(ctx, cl, scopes)
}

func (c *confidentialProfile) acquire(ctx context.Context, cl *confidential.Client, scopes []string) (tokensource.Token, error) {
	for attempt := 0; ; attempt++ {
		res, err := cl.AcquireTokenByCredential(ctx, scopes)
		if err != nil {
			return tokensource.Token{}, c.classify(err)
		}
		// noCache empties MSAL's cache around every call, but a concurrent
		// call for a superset of these scopes could in theory be read in
		// the instant between its write and its export: ask Entra again.
		if res.Metadata.TokenSource == confidential.TokenSourceCache && attempt == 0 {
			continue
		}
		t := c.token(res.AccessToken, res.ExpiresOn, res.Metadata.RefreshOn, scopes, "")
		c.oid.note(res.AccessToken)
		return t, nil
	}
}

// currentClient returns the MSAL client for the current credential,
// building it again when the credential changed (a rotated certificate
// file).
func (c *confidentialProfile) currentClient(ctx context.Context) (*confidential.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	material, err := c.materialLocked(ctx)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(material)
	if c.client != nil && h == c.credHash {
		return c.client, nil
	}
	cl, err := c.newClient(material)
	if err != nil {
		return nil, err
	}
	c.client, c.credHash = cl, h
	return cl, nil
}

// materialLocked returns the credential material: the client secret, the
// certificate PEM or, for federated, the token file's path (its content is
// read on every call by the assertion callback).
func (c *confidentialProfile) materialLocked(ctx context.Context) ([]byte, error) {
	switch c.p.Flow {
	case config.FlowFederated:
		return []byte(c.p.FederatedTokenFile), nil
	case config.FlowClientCertificate:
		if c.p.Certificate != "" {
			b, err := os.ReadFile(c.p.Certificate)
			if err != nil {
				return nil, &fileError{what: "certificate file", path: c.p.Certificate, err: err}
			}
			return b, nil
		}
	}
	if c.material != nil {
		return c.material, nil
	}
	key := keySecret(c.p.Name)
	if c.p.Flow == config.FlowClientCertificate {
		key = keyCertificate(c.p.Name)
	}
	b, err := c.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, c.notSignedIn()
	}
	if err != nil {
		return nil, &storeError{op: "read", err: err}
	}
	c.material = b
	return b, nil
}

func (c *confidentialProfile) notSignedIn() *tokensource.Error {
	flag := "--secret-stdin"
	if c.p.Flow == config.FlowClientCertificate {
		flag = "--certificate-stdin (or set certificate in the config)"
	}
	return &tokensource.Error{Kind: tokensource.KindNeedsLogin, Err: errNotSignedIn,
		Message: fmt.Sprintf("profile %s is not signed in: run `entra-helper login -p %s %s`", c.p.Name, c.p.Name, flag)}
}

// newClient builds an MSAL confidential client from credential material.
func (c *confidentialProfile) newClient(material []byte) (*confidential.Client, error) {
	var cred confidential.Credential
	opts := []confidential.Option{
		confidential.WithHTTPClient(c.opts.HTTPClient),
		confidential.WithCache(noCache{}),
	}
	if !c.discovery {
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	switch c.p.Flow {
	case config.FlowClientSecret:
		s := strings.TrimSpace(string(material))
		if s == "" {
			return nil, &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("the client secret given for profile %s is empty", c.p.Name)}
		}
		var err error
		if cred, err = confidential.NewCredFromSecret(s); err != nil {
			return nil, err
		}
	case config.FlowClientCertificate:
		certs, key, err := c.parseCertificate(material)
		if err != nil {
			return nil, err
		}
		if cred, err = confidential.NewCredFromCert(certs, key); err != nil {
			return nil, &tokensource.Error{Kind: tokensource.KindFailed, Err: err,
				Message: fmt.Sprintf("the certificate of profile %s is unusable: %v", c.p.Name, err)}
		}
		opts = append(opts, confidential.WithX5C())
	case config.FlowFederated:
		path := string(material)
		cred = confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", &fileError{what: "federated token file", path: path, err: err}
			}
			tok := strings.TrimSpace(string(b))
			if tok == "" {
				return "", &fileError{what: "federated token file", path: path, err: errors.New("it is empty")}
			}
			return tok, nil
		})
	}
	cl, err := confidential.New(c.authority, c.p.ClientID, cred, opts...)
	if err != nil {
		return nil, err
	}
	return &cl, nil
}

// parseCertificate decodes a PEM bundle of certificates and an unencrypted
// RSA key, with advice for what MSAL cannot use.
func (c *confidentialProfile) parseCertificate(material []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	bad := func(msg string) error {
		return &tokensource.Error{Kind: tokensource.KindFailed, Message: fmt.Sprintf("the certificate of profile %s %s", c.p.Name, msg)}
	}
	rest := material
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		_, dek := block.Headers["DEK-Info"]
		if block.Type == "ENCRYPTED PRIVATE KEY" || dek || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, nil, bad("has an encrypted private key: decrypt it first (openssl pkcs8 -topk8 -nocrypt -in key.pem -out plain.pem) and protect the file with its permissions")
		}
		if block.Type == "EC PRIVATE KEY" {
			return nil, nil, bad("has an EC key: Entra certificate credentials need an RSA key")
		}
	}
	if !bytes.Contains(material, []byte("-----BEGIN")) {
		return nil, nil, bad("is not PEM: give a PEM file holding the certificate and its private key")
	}
	certs, key, err := confidential.CertFromPEM(material, "")
	if err != nil {
		return nil, nil, bad("is unusable: " + err.Error())
	}
	now := c.opts.Clock.Now()
	for _, crt := range certs {
		if now.After(crt.NotAfter) {
			return nil, nil, bad(fmt.Sprintf("expired on %s: create a new one and upload it to the app registration", crt.NotAfter.UTC().Format("2006-01-02")))
		}
	}
	return certs, key, nil
}

// Login proves the credential works by acquiring one token, then stores it
// (a given secret or certificate). On failure nothing is stored and the old
// credential stays.
func (c *confidentialProfile) Login(ctx context.Context, in tokensource.LoginInput, notify func(tokensource.Prompt)) (tokensource.Account, error) {
	var material []byte
	var key string
	switch c.p.Flow {
	case config.FlowClientSecret:
		if in.ClientSecret.Empty() {
			return tokensource.Account{}, &tokensource.Error{Kind: tokensource.KindUsage,
				Message: fmt.Sprintf("profile %s needs its client secret: run `entra-helper login -p %s --secret-stdin`", c.p.Name, c.p.Name)}
		}
		material, key = []byte(strings.TrimSpace(in.ClientSecret.Reveal())), keySecret(c.p.Name)
	case config.FlowClientCertificate:
		if !in.Certificate.Empty() {
			if c.p.Certificate != "" {
				return tokensource.Account{}, &tokensource.Error{Kind: tokensource.KindUsage,
					Message: fmt.Sprintf("profile %s reads its certificate from %s: remove certificate from the config to store one with --certificate-stdin", c.p.Name, c.p.Certificate)}
			}
			material, key = []byte(in.Certificate.Reveal()), keyCertificate(c.p.Name)
		}
	}
	var cl *confidential.Client
	var err error
	if material != nil {
		cl, err = c.newClient(material)
	} else {
		cl, err = c.currentClient(ctx)
	}
	if err != nil {
		return tokensource.Account{}, c.classify(err)
	}
	if _, err := c.acquire(ctx, cl, c.loginScopes()); err != nil {
		return tokensource.Account{}, err
	}
	if material != nil {
		if err := c.st.Set(ctx, key, material); err != nil {
			return tokensource.Account{}, c.classify(&storeError{op: "write", err: err})
		}
		c.mu.Lock()
		c.material, c.client, c.credHash = material, cl, sha256.Sum256(material)
		c.mu.Unlock()
	}
	if notify != nil {
		notify(tokensource.Prompt{Kind: tokensource.PromptInfo, Message: fmt.Sprintf("profile %s: the credential works", c.p.Name)})
	}
	a, _ := c.Account(ctx)
	return a, nil
}

// Logout deletes the stored credential and drops the client.
func (c *confidentialProfile) Logout(ctx context.Context) error {
	c.mu.Lock()
	c.client, c.material, c.credHash = nil, nil, [32]byte{}
	c.mu.Unlock()
	c.oid.forget()
	return deleteKeys(ctx, c.base)
}

// Account is the service principal: its object ID once a token showed it
// (else the client ID) and the tenant. ok is false while no credential is
// available.
func (c *confidentialProfile) Account(ctx context.Context) (tokensource.Account, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := tokensource.Account{ObjectID: c.oid.get(), Tenant: c.p.Tenant}
	if a.ObjectID == "" {
		a.ObjectID = c.p.ClientID
	}
	if _, err := c.materialLocked(ctx); err != nil {
		return a, false
	}
	return a, true
}

// deleteKeys deletes every store key of the profile.
func deleteKeys(ctx context.Context, b *base) error {
	var errs []error
	for _, k := range Keys(b.p.Name) {
		if err := b.st.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return b.classify(&storeError{op: "delete", err: errors.Join(errs...)})
	}
	return nil
}
