package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/internal/private"
)

// writeKeyFile writes a store key file with the given contents and mode,
// private to its owner (on Windows, where the mode is the read-only
// attribute at most, by its DACL).
func writeKeyFile(t *testing.T, contents []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "store.key")
	if err := private.WriteNew(p, contents); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkPrivate fails the test unless only its owner may open path.
func checkPrivate(t *testing.T, path string) {
	t.Helper()
	if err := private.Check(path); err != nil {
		t.Error(err)
	}
}

func newTestFile(t *testing.T, key []byte) (*File, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	f, err := NewFile(dir, writeKeyFile(t, key, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func TestFileRoundTrip(t *testing.T) {
	f, _ := newTestFile(t, randBytes(t, 32))
	ctx := context.Background()
	tests := []struct {
		name   string
		key    string
		values [][]byte
	}{
		{"empty", "a", [][]byte{{}}},
		{"small", "profile/prod/client-secret", [][]byte{[]byte("s3cr3t")}},
		{"binary", "profile/prod/msal-cache", [][]byte{{0, 0xff, '\n', 0}}},
		{"largest", "big", [][]byte{randBytes(t, MaxValueSize)}},
		{"overwrite", "profile/x/refresh-token", [][]byte{[]byte("one"), []byte("two"), []byte("three")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range tc.values {
				if err := f.Set(ctx, tc.key, v); err != nil {
					t.Fatal(err)
				}
			}
			want := tc.values[len(tc.values)-1]
			got, err := f.Get(ctx, tc.key)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Get: %d bytes, %v; want the %d bytes written", len(got), err, len(want))
			}
			if err := f.Delete(ctx, tc.key); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Get(ctx, tc.key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
			}
			if err := f.Delete(ctx, tc.key); err != nil {
				t.Fatalf("second Delete: %v", err)
			}
		})
	}
	if f.Name() != "file" {
		t.Fatalf("Name() = %q", f.Name())
	}
}

func TestFileRefusesBadInput(t *testing.T) {
	f, dir := newTestFile(t, randBytes(t, 32))
	ctx := context.Background()
	if err := f.Set(ctx, "big", make([]byte, MaxValueSize+1)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversize Set: %v", err)
	}
	if err := f.Set(ctx, "bad#key", []byte("v")); err == nil || !strings.Contains(err.Error(), "invalid key") {
		t.Fatalf("bad key Set: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Set(cctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled ctx: %v", err)
	}
	if _, err := f.Get(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled ctx: %v", err)
	}
	if err := f.Delete(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete with a cancelled ctx: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused writes left %d files", len(entries))
	}
}

func TestFilePermissions(t *testing.T) {
	key := writeKeyFile(t, randBytes(t, 32), 0o600)
	dir := filepath.Join(t.TempDir(), "store")
	// An existing directory open to others is made private. (On Windows
	// internal/private tests that: Wine cannot take access away.)
	if runtime.GOOS != "windows" {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := NewFile(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
	checkPrivate(t, filepath.Join(dir, fileName("k")))
	if runtime.GOOS == "windows" {
		return
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %04o, want 0700", st.Mode().Perm())
	}
	st, err = os.Stat(filepath.Join(dir, fileName("k")))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", st.Mode().Perm())
	}
}

func TestFileNothingReadable(t *testing.T) {
	f, dir := newTestFile(t, randBytes(t, 32))
	ctx := context.Background()
	const key = "profile/prod/client-secret"
	plain := []byte("PLAINTEXT-CLIENT-SECRET-0123456789")
	for range 3 {
		if err := f.Set(ctx, key, plain); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d files in the store, want 1 (temporary files left behind?)", len(entries))
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "profile") || strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("file name %q leaks the key or is a temporary file", e.Name())
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, needle := range [][]byte{plain, plain[:12], []byte(key), []byte(base64.StdEncoding.EncodeToString(plain)), []byte(hex.EncodeToString(plain))} {
			if bytes.Contains(data, needle) {
				t.Errorf("store file contains %q", needle)
			}
		}
	}
	// Two writes of the same value differ (a fresh nonce each time).
	a, _ := os.ReadFile(filepath.Join(dir, fileName(key)))
	if err := f.Set(ctx, key, plain); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, fileName(key)))
	if bytes.Equal(a, b) {
		t.Error("two writes of one value produced the same file")
	}
}

func TestFileLeftoverTempFileIgnored(t *testing.T) {
	f, dir := newTestFile(t, randBytes(t, 32))
	ctx := context.Background()
	if err := f.Set(ctx, "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A crash between writing the temporary file and renaming it.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Get(ctx, "k"); err != nil || string(got) != "old" {
		t.Fatalf("Get: %q, %v", got, err)
	}
}

func TestFileDecryptFailures(t *testing.T) {
	ctx := context.Background()
	keyA := randBytes(t, 32)
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string) // after "k1" and "k2" are written
		get    func(t *testing.T, dir string) (*File, string)
		want   string
	}{
		{
			name: "wrong key",
			get: func(t *testing.T, dir string) (*File, string) {
				f, err := NewFile(dir, writeKeyFile(t, randBytes(t, 32), 0o600))
				if err != nil {
					t.Fatal(err)
				}
				return f, "k1"
			},
			want: "cannot decrypt \"k1\": wrong store key?",
		},
		{
			name: "tampered ciphertext",
			damage: func(t *testing.T, dir string) {
				p := filepath.Join(dir, fileName("k1"))
				data, _ := os.ReadFile(p)
				data[len(data)-20] ^= 1
				_ = os.WriteFile(p, data, 0o600)
			},
			want: "cannot decrypt \"k1\": the file was altered",
		},
		{
			name: "tampered nonce",
			damage: func(t *testing.T, dir string) {
				p := filepath.Join(dir, fileName("k1"))
				data, _ := os.ReadFile(p)
				data[1+keyIDSize] ^= 1
				_ = os.WriteFile(p, data, 0o600)
			},
			want: "the file was altered",
		},
		{
			name: "renamed from another key",
			damage: func(t *testing.T, dir string) {
				if err := os.Rename(filepath.Join(dir, fileName("k2")), filepath.Join(dir, fileName("k1"))); err != nil {
					t.Fatal(err)
				}
			},
			want: "renamed from another key",
		},
		{
			name: "truncated",
			damage: func(t *testing.T, dir string) {
				_ = os.WriteFile(filepath.Join(dir, fileName("k1")), []byte{fileVersion, 1, 2}, 0o600)
			},
			want: "truncated",
		},
		{
			name: "unknown version",
			damage: func(t *testing.T, dir string) {
				p := filepath.Join(dir, fileName("k1"))
				data, _ := os.ReadFile(p)
				data[0] = 9
				_ = os.WriteFile(p, data, 0o600)
			},
			want: "unknown file version 9",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			f, err := NewFile(dir, writeKeyFile(t, keyA, 0o600))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Set(ctx, "k1", []byte("value one")); err != nil {
				t.Fatal(err)
			}
			if err := f.Set(ctx, "k2", []byte("value two")); err != nil {
				t.Fatal(err)
			}
			if tc.damage != nil {
				tc.damage(t, dir)
			}
			key := "k1"
			if tc.get != nil {
				f, key = tc.get(t, dir)
			}
			got, err := f.Get(ctx, key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Get = %q, %v; want an error with %q", got, err, tc.want)
			}
			if strings.Contains(err.Error(), "value") {
				t.Fatalf("error %q shows the value", err)
			}
		})
	}
}

func TestStoreKeyFile(t *testing.T) {
	raw := randBytes(t, 32)
	tests := []struct {
		name     string
		contents []byte
		mode     os.FileMode
		want     string // error substring; "" means success
	}{
		{"raw", raw, 0o600, ""},
		{"raw read-only", raw, 0o400, ""},
		{"hex", []byte(hex.EncodeToString(raw) + "\n"), 0o600, ""},
		{"base64", []byte(base64.StdEncoding.EncodeToString(raw) + "\n"), 0o600, ""},
		{"base64 url raw", []byte(base64.RawURLEncoding.EncodeToString(raw)), 0o600, ""},
		{"group readable", raw, 0o640, "accessible by group or others (mode 0640): run chmod 600"},
		{"world readable", raw, 0o604, "accessible by group or others (mode 0604)"},
		{"too short", raw[:16], 0o600, "want a 32-byte key"},
		{"too long hex", []byte(hex.EncodeToString(append(raw, 1))), 0o600, "want a 32-byte key"},
		{"empty", nil, 0o600, "want a 32-byte key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("mode bits mean nothing on Windows; internal/private tests the DACL check and its message")
			}
			f, err := NewFile(filepath.Join(t.TempDir(), "store"), writeKeyFile(t, tc.contents, tc.mode))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("NewFile: %v, want an error with %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Every encoding of one key opens the same store.
			ref, _ := newFileWithKey(f.dir, raw)
			if ref.keyID != f.keyID {
				t.Fatal("decoded key differs from the raw key")
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := NewFile(t.TempDir(), filepath.Join(t.TempDir(), "nope"))
		if err == nil || !strings.Contains(err.Error(), "cannot read the store key file") {
			t.Fatalf("NewFile: %v", err)
		}
	})
	t.Run("systemd credential", func(t *testing.T) {
		creds := t.TempDir()
		if err := private.WriteNew(filepath.Join(creds, "store.key"), raw); err != nil {
			t.Fatal(err)
		}
		t.Setenv("CREDENTIALS_DIRECTORY", creds)
		if _, err := NewFile(filepath.Join(t.TempDir(), "store"), ""); err != nil {
			t.Fatalf("NewFile with $CREDENTIALS_DIRECTORY/store.key: %v", err)
		}
	})
	t.Run("no key configured", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", "")
		_, err := NewFile(filepath.Join(t.TempDir(), "store"), "")
		want := "LoadCredential" // systemd's way; on Windows, no chmod
		if runtime.GOOS == "windows" {
			want = "only your account may read"
		}
		if err == nil || !strings.Contains(err.Error(), "set store_key_file") || !strings.Contains(err.Error(), want) {
			t.Fatalf("NewFile: %v", err)
		}
	})
	t.Run("no directory", func(t *testing.T) {
		if _, err := NewFile("", writeKeyFile(t, raw, 0o600)); err == nil {
			t.Fatal("NewFile with no directory succeeded")
		}
	})
}
