package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/entra-helper/entra-helper/store"
)

// emptyCache is an MSAL cache with nothing in it.
var emptyCache = []byte("{}")

// Sections of MSAL's cache JSON (the schema shared by all MSAL libraries).
const (
	sectionAccessToken  = "AccessToken"
	sectionRefreshToken = "RefreshToken"
	sectionIDToken      = "IdToken"
	sectionAccount      = "Account"
	sectionAppMetadata  = "AppMetadata"
)

// storeError marks a failure of the secret store, so Classify can say so.
type storeError struct {
	op  string // "read" or "write"
	err error
}

func (e *storeError) Error() string { return "store " + e.op + ": " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// msalCache is MSAL's cache.ExportReplace over one store item holding a
// profile's MSAL cache (refresh token, account, id token, app metadata),
// with access tokens stripped: MSAL never finds an access token on Replace,
// so every silent acquisition redeems the refresh token at Entra, and no
// access token is ever written to the store. It keeps the blob in memory
// between refresh calls (one store read per operation, not per Replace)
// and writes the store only when the stripped blob changed. With a nil store it lives
// in memory only (used to stage a sign-in until it succeeded).
type msalCache struct {
	st  store.Store
	key string

	mu     sync.Mutex
	loaded bool
	blob   []byte // canonical, stripped; nil when empty
	dirty  bool   // blob differs from what the store holds
}

func newMSALCache(st store.Store, key string) *msalCache {
	return &msalCache{st: st, key: key}
}

// Replace implements cache.ExportReplace: it feeds MSAL the stored blob.
func (c *msalCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadLocked(ctx); err != nil {
		return err
	}
	if len(c.blob) == 0 {
		return u.Unmarshal(emptyCache)
	}
	return u.Unmarshal(c.blob)
}

// Export implements cache.ExportReplace: it strips access tokens from MSAL's
// cache, drops them from MSAL's memory too, and stores the blob if it
// changed. A store failure is returned (MSAL then fails the acquisition);
// the new blob is kept in memory and written again on the next Export.
func (c *msalCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	raw, err := m.Marshal()
	if err != nil {
		return err
	}
	stripped, err := stripAccessTokens(raw)
	if err != nil {
		return err
	}
	if u, ok := m.(cache.Unmarshaler); ok {
		b := stripped
		if len(b) == 0 {
			b = emptyCache
		}
		if err := u.Unmarshal(b); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && !c.dirty && bytes.Equal(stripped, c.blob) {
		return nil
	}
	c.blob, c.loaded, c.dirty = stripped, true, true
	return c.flushLocked(ctx)
}

// loadLocked reads the store once.
func (c *msalCache) loadLocked(ctx context.Context) error {
	if c.loaded || c.st == nil {
		c.loaded = true
		return nil
	}
	b, err := c.st.Get(ctx, c.key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.blob = nil
	case err != nil:
		return &storeError{op: "read", err: err}
	default:
		// Stored blobs are stripped already; strip again in case an older
		// writer left access tokens behind.
		if c.blob, err = stripAccessTokens(b); err != nil {
			return &storeError{op: "read", err: fmt.Errorf("the stored MSAL cache is corrupt: %w", err)}
		}
	}
	c.loaded = true
	return nil
}

// flushLocked writes a dirty blob to the store.
func (c *msalCache) flushLocked(ctx context.Context) error {
	if !c.dirty || c.st == nil {
		return nil
	}
	var err error
	if len(c.blob) == 0 {
		err = c.st.Delete(ctx, c.key)
	} else {
		err = c.st.Set(ctx, c.key, c.blob)
	}
	if err != nil {
		return &storeError{op: "write", err: err}
	}
	c.dirty = false
	return nil
}

// snapshot returns the current blob (reading the store if needed).
func (c *msalCache) snapshot(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadLocked(ctx); err != nil {
		return nil, err
	}
	return bytes.Clone(c.blob), nil
}

// commit replaces the blob with b (stripped) and writes it to the store.
func (c *msalCache) commit(ctx context.Context, b []byte) error {
	stripped, err := stripAccessTokens(b)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blob, c.loaded, c.dirty = stripped, true, true
	return c.flushLocked(ctx)
}

// refresh makes the next use read the store again, unless the in-memory
// blob has not been written yet (it is then the newest there is). Called
// once per operation, it lets another instance over the same store (a
// profile rebuilt by a config reload) see a rotated refresh token.
func (c *msalCache) refresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty && c.st != nil {
		c.loaded = false
	}
}

// forget drops the in-memory blob so the next use reads the store again.
func (c *msalCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blob, c.loaded, c.dirty = nil, false, false
}

// noCache is a cache.ExportReplace that keeps nothing: confidential clients
// use it so AcquireTokenByCredential never answers from MSAL's access-token
// cache (Replace empties MSAL's cache before each lookup, Export empties it
// after each write).
type noCache struct{}

func (noCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	return u.Unmarshal(emptyCache)
}

func (noCache) Export(_ context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	if u, ok := m.(cache.Unmarshaler); ok {
		return u.Unmarshal(emptyCache)
	}
	return nil
}

// decodeCache parses an MSAL cache blob into its sections.
func decodeCache(b []byte) (map[string]any, error) {
	m := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil { // the JSON was null
		m = map[string]any{}
	}
	return m, nil
}

// encodeCache is the canonical encoding (sorted keys, no empty sections);
// nil for an empty cache.
func encodeCache(m map[string]any) ([]byte, error) {
	for k, v := range m {
		if sec, ok := v.(map[string]any); ok && len(sec) == 0 {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

// stripAccessTokens removes the AccessToken section from an MSAL cache blob
// and returns it canonically encoded (nil when nothing is left).
func stripAccessTokens(b []byte) ([]byte, error) {
	m, err := decodeCache(b)
	if err != nil {
		return nil, err
	}
	delete(m, sectionAccessToken)
	return encodeCache(m)
}

// dropHomeAccount removes every entry of homeID from a cache blob.
func dropHomeAccount(b []byte, homeID string) ([]byte, error) {
	m, err := decodeCache(b)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{sectionAccessToken, sectionRefreshToken, sectionIDToken, sectionAccount} {
		sec, ok := m[name].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range sec {
			if e, ok := v.(map[string]any); ok && e["home_account_id"] == homeID {
				delete(sec, k)
			}
		}
	}
	return encodeCache(m)
}

// accountsInCache lists the accounts of a cache blob, sorted by home
// account ID. An account holding a refresh token but no Account entry (a
// token response without an id token) is listed from its refresh token.
func accountsInCache(b []byte) ([]public.Account, error) {
	m, err := decodeCache(b)
	if err != nil {
		return nil, err
	}
	var out []public.Account
	seen := map[string]bool{}
	if sec, ok := m[sectionAccount].(map[string]any); ok {
		for _, v := range sec {
			raw, err := json.Marshal(v)
			if err != nil {
				continue
			}
			var a public.Account
			if json.Unmarshal(raw, &a) != nil || a.HomeAccountID == "" || seen[a.HomeAccountID] {
				continue
			}
			a.AdditionalFields = nil
			seen[a.HomeAccountID] = true
			out = append(out, a)
		}
	}
	if sec, ok := m[sectionRefreshToken].(map[string]any); ok {
		for _, v := range sec {
			e, ok := v.(map[string]any)
			if !ok {
				continue
			}
			home, _ := e["home_account_id"].(string)
			env, _ := e["environment"].(string)
			if home == "" || seen[home] {
				continue
			}
			seen[home] = true
			out = append(out, public.Account{HomeAccountID: home, Environment: env})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HomeAccountID < out[j].HomeAccountID })
	return out, nil
}

// seedRefreshToken builds an MSAL cache holding only a refresh token (and
// the app metadata MSAL needs to look it up) for a placeholder account
// homeID at environment env (the authority host). Redeeming it with
// AcquireTokenSilent makes MSAL write the real account and the rotated
// refresh token; the placeholder is then dropped with dropHomeAccount.
func seedRefreshToken(homeID, env, clientID, refreshToken string) ([]byte, error) {
	rt := map[string]any{
		"home_account_id": homeID,
		"environment":     env,
		"credential_type": "RefreshToken",
		"client_id":       clientID,
		"secret":          refreshToken,
	}
	md := map[string]any{
		"environment": env,
		"client_id":   clientID,
	}
	m := map[string]any{
		// Keys as MSAL's RefreshToken.Key and AppMetaData.Key build them.
		sectionRefreshToken: map[string]any{lowerJoin(homeID, env, "refreshtoken", clientID): rt},
		sectionAppMetadata:  map[string]any{lowerJoin("appmetadata", env, clientID): md},
	}
	return json.Marshal(m)
}

// lowerJoin builds an MSAL cache key: the parts lower-cased, joined by "-".
func lowerJoin(parts ...string) string { return strings.ToLower(strings.Join(parts, "-")) }
