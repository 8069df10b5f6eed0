// Package store keeps the daemon's long-lived secrets (client secrets,
// certificates' keys, MSAL cache blobs holding refresh tokens, the metadata
// endpoint's path secret) in the OS keychain or in encrypted files.
// Access tokens are never stored.
package store

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Get when no item has the key.
var ErrNotFound = errors.New("store: item not found")

// Store is a key/value store for secrets. Keys are short ASCII names such as
// "profile/prod/client-secret"; values are opaque bytes. Every call honours
// ctx and also fails on its own after a bounded time (a locked or missing
// keychain fails in seconds with a clear error, it never hangs).
type Store interface {
	// Get returns the value of key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set writes value under key atomically: a reader sees the old value
	// or the new one, never a mix, even if the process dies mid-write.
	Set(ctx context.Context, key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Name is the backend's name for status ("keyring", "file").
	Name() string
}
