package source

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"github.com/entra-helper/entra-helper/store"
)

// fakeMSAL stands in for MSAL's cache manager: a blob it marshals and
// unmarshals.
type fakeMSAL struct {
	mu   sync.Mutex
	blob []byte
}

func (f *fakeMSAL) Marshal() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []byte(string(f.blob)), nil
}

func (f *fakeMSAL) Unmarshal(b []byte) error {
	if !json.Valid(b) {
		return errors.New("invalid json")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blob = []byte(string(b))
	return nil
}

const fullCache = `{
 "AccessToken": {"h-env-accesstoken-c-t-s": {"secret": "AT-SECRET", "credential_type": "AccessToken", "home_account_id": "h"}},
 "RefreshToken": {"h-env-refreshtoken-c": {"secret": "RT-1", "credential_type": "RefreshToken", "home_account_id": "h", "environment": "env", "client_id": "c"}},
 "IdToken": {"h-env-idtoken-c-t-": {"secret": "x.y.z", "home_account_id": "h"}},
 "Account": {"h-env-t": {"home_account_id": "h", "environment": "env", "realm": "t", "username": "alice@contoso.example", "local_account_id": "oid-1"}},
 "AppMetadata": {"appmetadata-env-c": {"client_id": "c", "environment": "env"}}
}`

// countingStore counts writes to a store.Memory.
func countingStore() (*store.Memory, *int) {
	st := store.NewMemory()
	n := new(int)
	st.FailWith(func(op, key string) error {
		if op == "set" {
			*n++
		}
		return nil
	})
	return st, n
}

func TestMSALCacheStripsAccessTokens(t *testing.T) {
	ctx := context.Background()
	st, sets := countingStore()
	c := newMSALCache(st, "profile/p/msal-cache")
	m := &fakeMSAL{}
	if err := c.Replace(ctx, m, cache.ReplaceHints{}); err != nil {
		t.Fatal(err)
	}
	if string(m.blob) != "{}" {
		t.Fatalf("empty store replaced with %q", m.blob)
	}
	m.blob = []byte(fullCache)
	if err := c.Export(ctx, m, cache.ExportHints{}); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Get(ctx, "profile/p/msal-cache")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{stored, m.blob} {
		if strings.Contains(string(b), "AT-SECRET") || strings.Contains(string(b), sectionAccessToken) {
			t.Errorf("access token kept: %s", b)
		}
		for _, want := range []string{"RT-1", sectionIDToken, sectionAccount, sectionAppMetadata} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lost from %s", want, b)
			}
		}
	}
	if *sets != 1 {
		t.Fatalf("sets = %d, want 1", *sets)
	}

	// The same content again (access token back, keys reordered): no write.
	m.blob = []byte(fullCache)
	if err := c.Export(ctx, m, cache.ExportHints{}); err != nil {
		t.Fatal(err)
	}
	if *sets != 1 {
		t.Fatalf("unchanged blob written again: sets = %d", *sets)
	}

	// A rotated refresh token is written.
	m.blob = []byte(strings.Replace(fullCache, "RT-1", "RT-2", 1))
	if err := c.Export(ctx, m, cache.ExportHints{}); err != nil {
		t.Fatal(err)
	}
	stored, _ = st.Get(ctx, "profile/p/msal-cache")
	if *sets != 2 || !strings.Contains(string(stored), "RT-2") {
		t.Fatalf("rotation not stored: sets=%d blob=%s", *sets, stored)
	}

	// A new adapter over the same store (a restart) feeds MSAL the blob.
	c2 := newMSALCache(st, "profile/p/msal-cache")
	m2 := &fakeMSAL{}
	if err := c2.Replace(ctx, m2, cache.ReplaceHints{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m2.blob), "RT-2") || strings.Contains(string(m2.blob), "AT-SECRET") {
		t.Fatalf("replaced with %s", m2.blob)
	}
}

func TestMSALCacheStripsOnReplace(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	// An older writer left an access token in the store.
	if err := st.Set(ctx, "k", []byte(fullCache)); err != nil {
		t.Fatal(err)
	}
	m := &fakeMSAL{}
	if err := newMSALCache(st, "k").Replace(ctx, m, cache.ReplaceHints{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m.blob), "AT-SECRET") || !strings.Contains(string(m.blob), "RT-1") {
		t.Fatalf("replaced with %s", m.blob)
	}
}

func TestMSALCacheStoreFailures(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	broken := errors.New("keychain locked")
	st.FailWith(func(op, key string) error {
		if op == "set" {
			return broken
		}
		return nil
	})
	c := newMSALCache(st, "k")
	m := &fakeMSAL{blob: []byte(fullCache)}
	_ = c.Replace(ctx, &fakeMSAL{}, cache.ReplaceHints{})
	err := c.Export(ctx, m, cache.ExportHints{})
	var se *storeError
	if !errors.As(err, &se) || !errors.Is(err, broken) || se.op != "write" {
		t.Fatalf("Export error = %v, want a store write error", err)
	}
	// The new refresh token stays in memory for the next call...
	m3 := &fakeMSAL{}
	if err := c.Replace(ctx, m3, cache.ReplaceHints{}); err != nil || !strings.Contains(string(m3.blob), "RT-1") {
		t.Fatalf("in-memory blob lost: %v %s", err, m3.blob)
	}
	// ...and the write is retried by the next Export even though nothing changed.
	st.FailWith(nil)
	if err := c.Export(ctx, m, cache.ExportHints{}); err != nil {
		t.Fatal(err)
	}
	if b, err := st.Get(ctx, "k"); err != nil || !strings.Contains(string(b), "RT-1") {
		t.Fatalf("retry not written: %v %s", err, b)
	}

	// A failing read is an error, not an empty cache.
	st.FailWith(func(op, key string) error {
		if op == "get" {
			return broken
		}
		return nil
	})
	if err := newMSALCache(st, "k").Replace(ctx, &fakeMSAL{}, cache.ReplaceHints{}); !errors.As(err, &se) || se.op != "read" {
		t.Fatalf("Replace error = %v, want a store read error", err)
	}
}

func TestNoCacheKeepsNothing(t *testing.T) {
	m := &fakeMSAL{blob: []byte(fullCache)}
	if err := (noCache{}).Export(context.Background(), m, cache.ExportHints{}); err != nil || string(m.blob) != "{}" {
		t.Fatalf("Export left %s (%v)", m.blob, err)
	}
	m.blob = []byte(fullCache)
	if err := (noCache{}).Replace(context.Background(), m, cache.ReplaceHints{}); err != nil || string(m.blob) != "{}" {
		t.Fatalf("Replace left %s (%v)", m.blob, err)
	}
}

func TestCacheHelpers(t *testing.T) {
	tests := []struct {
		name      string
		blob      string
		wantHomes []string
	}{
		{"empty", ``, nil},
		{"null", `null`, nil},
		{"account entry", fullCache, []string{"h"}},
		{"refresh token without account", `{"RefreshToken":{"k":{"home_account_id":"x.y","environment":"e","secret":"s"}}}`, []string{"x.y"}},
		{"two accounts sorted", `{"Account":{"a":{"home_account_id":"b"},"b":{"home_account_id":"a"}}}`, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accts, err := accountsInCache([]byte(tt.blob))
			if err != nil {
				t.Fatal(err)
			}
			var homes []string
			for _, a := range accts {
				homes = append(homes, a.HomeAccountID)
			}
			if strings.Join(homes, ",") != strings.Join(tt.wantHomes, ",") {
				t.Fatalf("homes = %v, want %v", homes, tt.wantHomes)
			}
		})
	}
	if _, err := accountsInCache([]byte(`{broken`)); err == nil {
		t.Fatal("corrupt blob accepted")
	}

	seed, err := seedRefreshToken("imp.t", "login.example", "Client-ID", "RT-SEED")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]map[string]string
	if err := json.Unmarshal(seed, &m); err != nil {
		t.Fatal(err)
	}
	rt := m[sectionRefreshToken]["imp.t-login.example-refreshtoken-client-id"]
	if rt["secret"] != "RT-SEED" || rt["client_id"] != "Client-ID" || rt["credential_type"] != "RefreshToken" {
		t.Fatalf("seed = %s", seed)
	}
	if _, ok := m[sectionAppMetadata]["appmetadata-login.example-client-id"]; !ok {
		t.Fatalf("seed lacks app metadata: %s", seed)
	}
	merged := strings.Replace(fullCache, `"RefreshToken": {`, `"RefreshToken": {"imp.t-login.example-refreshtoken-client-id": {"home_account_id": "imp.t", "secret": "RT-SEED"},`, 1)
	dropped, err := dropHomeAccount([]byte(merged), "imp.t")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dropped), "RT-SEED") || !strings.Contains(string(dropped), "RT-1") {
		t.Fatalf("dropHomeAccount = %s", dropped)
	}
}
