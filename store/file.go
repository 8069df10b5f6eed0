package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/entra-helper/entra-helper/internal/private"
)

// File format, version 1:
//
//	version (1 byte, 1) | key id (8 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// The key id is the first 8 bytes of HMAC-SHA256(store key, "entra-helper
// store key id"): it tells a wrong store key from a damaged file without
// revealing the key. The additional authenticated data binds the version,
// the key id and the item's key name, so a file copied or renamed to another
// key's name fails to open.
const (
	fileVersion   = 1
	keyIDSize     = 8
	nonceSize     = 12
	fileHeaderLen = 1 + keyIDSize + nonceSize
	fileOverhead  = fileHeaderLen + 16 // + GCM tag
	fileSuffix    = ".enc"
	// StoreKeyFileName is the name of the file store's key in
	// $CREDENTIALS_DIRECTORY (a systemd credential).
	StoreKeyFileName = "store.key"
)

// File is a Store of AES-256-GCM encrypted files, one per key, in a 0700
// directory; for headless Linux services with no Secret Service. Files are
// 0600 (on Windows: owned by the user, with an owner-only DACL) and named by the hex SHA-256 of the key, so no key name shows. Writes
// are atomic (temporary file in the same directory, fsync, rename, fsync of
// the directory). There is never a plaintext fallback.
type File struct {
	dir   string
	aead  cipher.AEAD
	keyID [keyIDSize]byte
}

var _ Store = (*File)(nil)

// NewFile opens (creating it if needed) a file store in dir, encrypted with
// the 32-byte key read from keyFile ("" means $CREDENTIALS_DIRECTORY/store.key).
// The key file holds 32 raw bytes, 64 hex characters or base64 of 32 bytes,
// and must not be accessible by group or others.
func NewFile(dir, keyFile string) (*File, error) {
	if dir == "" {
		return nil, errors.New("store: file store needs a directory (state_dir)")
	}
	key, err := readStoreKey(keyFile)
	if err != nil {
		return nil, err
	}
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	return newFileWithKey(dir, key)
}

func newFileWithKey(dir string, key []byte) (*File, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	f := &File{dir: dir, aead: aead}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("entra-helper store key id"))
	copy(f.keyID[:], mac.Sum(nil))
	return f, nil
}

// DefaultStoreKeyFile returns $CREDENTIALS_DIRECTORY/store.key, or "" when
// CREDENTIALS_DIRECTORY is not set.
func DefaultStoreKeyFile() string {
	d := os.Getenv("CREDENTIALS_DIRECTORY")
	if d == "" {
		return ""
	}
	return filepath.Join(d, StoreKeyFileName)
}

// readStoreKey reads and decodes the store key from path.
func readStoreKey(path string) ([]byte, error) {
	if path == "" {
		path = DefaultStoreKeyFile()
		if path == "" {
			return nil, errors.New(noKeyMessage())
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("store: cannot read the store key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: cannot read the store key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("store: the store key file %s is not a regular file", path)
	}
	// Owner only: mode 0600 on Unix; on Windows, where the mode bits mean
	// nothing, the owner and an owner-only DACL.
	var np *private.NotPrivateError
	if err := private.Check(path); errors.As(err, &np) {
		return nil, fmt.Errorf("store: the store key file %w", err)
	} else if err != nil {
		return nil, fmt.Errorf("store: cannot check who may read the store key file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("store: cannot read the store key file: %w", err)
	}
	key, err := decodeStoreKey(data)
	if err != nil {
		return nil, fmt.Errorf("store: the store key file %s: %w", path, err)
	}
	return key, nil
}

// decodeStoreKey accepts 32 raw bytes, 64 hex characters or base64 of 32
// bytes (surrounding white space ignored for the text forms).
func decodeStoreKey(data []byte) ([]byte, error) {
	if len(data) == 32 {
		return append([]byte(nil), data...), nil
	}
	t := strings.TrimSpace(string(data))
	if len(t) == 64 {
		if k, err := hex.DecodeString(t); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(t); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("want a 32-byte key: 32 raw bytes, 64 hex characters or base64 (generate one with: head -c 32 /dev/urandom)")
}

// noKeyMessage says how to give the file store a key, in this OS's terms.
func noKeyMessage() string {
	if runtime.GOOS == "windows" {
		return `store: the file store needs a key: set store_key_file in [daemon] to a file of 32 random bytes that only your account may read`
	}
	return `store: the file store needs a key: set store_key_file, or run under systemd with LoadCredential=store.key:/path/to/key (generate one with: head -c 32 /dev/urandom > store.key; chmod 600 store.key)`
}

// ensurePrivateDir creates dir private to its owner (0700; an owner-only
// DACL on Windows), or tightens an existing one.
func ensurePrivateDir(dir string) error {
	if err := private.Dir(dir); err != nil {
		return fmt.Errorf("store: cannot create the store directory: %w", err)
	}
	return nil
}

// Name implements Store.
func (f *File) Name() string { return "file" }

// Dir returns the store's directory.
func (f *File) Dir() string { return f.dir }

// fileName returns the file holding key.
func fileName(key string) string {
	sum := sha256.Sum256([]byte("entra-helper/store\x00" + key))
	return hex.EncodeToString(sum[:]) + fileSuffix
}

func (f *File) path(key string) string { return filepath.Join(f.dir, fileName(key)) }

func fileAAD(keyID []byte, key string) []byte {
	aad := make([]byte, 0, 32+len(key))
	aad = append(aad, "entra-helper/store/v1\x00"...)
	aad = append(aad, fileVersion)
	aad = append(aad, keyID...)
	return append(aad, key...)
}

// encodeFile seals value for key.
func (f *File) encodeFile(key string, value []byte) ([]byte, error) {
	out := make([]byte, fileHeaderLen, fileOverhead+len(value))
	out[0] = fileVersion
	copy(out[1:], f.keyID[:])
	nonce := out[1+keyIDSize : fileHeaderLen]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return f.aead.Seal(out, nonce, value, fileAAD(f.keyID[:], key)), nil
}

// decodeFile opens the contents of key's file. It never panics on any input.
func (f *File) decodeFile(key string, data []byte) ([]byte, error) {
	if len(data) < fileOverhead {
		return nil, fmt.Errorf("store: cannot decrypt %q: the file is truncated", key)
	}
	if data[0] != fileVersion {
		return nil, fmt.Errorf("store: cannot decrypt %q: unknown file version %d (written by a newer entra-helper?)", key, data[0])
	}
	if !hmac.Equal(data[1:1+keyIDSize], f.keyID[:]) {
		return nil, fmt.Errorf("store: cannot decrypt %q: wrong store key? (the file was written with a different key)", key)
	}
	nonce := data[1+keyIDSize : fileHeaderLen]
	v, err := f.aead.Open(nil, nonce, data[fileHeaderLen:], fileAAD(data[1:1+keyIDSize], key))
	if err != nil {
		return nil, fmt.Errorf("store: cannot decrypt %q: the file was altered, or renamed from another key's", key)
	}
	return v, nil
}

// Get implements Store.
func (f *File) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	fh, err := os.Open(f.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading %q: %w", key, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, fileOverhead+MaxValueSize+1))
	if err != nil {
		return nil, fmt.Errorf("store: reading %q: %w", key, err)
	}
	if len(data) > fileOverhead+MaxValueSize {
		return nil, fmt.Errorf("store: cannot decrypt %q: the file is larger than any value", key)
	}
	return f.decodeFile(key, data)
}

// Set implements Store: the new file replaces the old one by rename, so a
// reader sees the old value or the new one.
func (f *File) Set(ctx context.Context, key string, value []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return tooBig(key, len(value))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	data, err := f.encodeFile(key, value)
	if err != nil {
		return err
	}
	if err := writeAtomic(f.dir, fileName(key), data); err != nil {
		return fmt.Errorf("store: writing %q: %w", key, err)
	}
	return nil
}

// writeAtomic writes data to dir/name through a temporary file in dir:
// write, fsync, rename, fsync the directory.
func writeAtomic(dir, name string, data []byte) (err error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	// Private from birth (0600; an explicit owner-only DACL on Windows).
	tmp, err := private.Create(filepath.Join(dir, ".tmp-"+hex.EncodeToString(rnd[:])))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, bytes.NewReader(data)); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable. Windows cannot sync a
// directory (its renames are durable through the file system's journal).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// Delete implements Store.
func (f *File) Delete(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	err := os.Remove(f.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: deleting %q: %w", key, err)
	}
	return syncDir(f.dir)
}
