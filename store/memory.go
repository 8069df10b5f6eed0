package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Memory is an in-memory Store for other packages' unit tests. It copies
// values in and out, honours ctx, and can be told to fail.
type Memory struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail func(op, key string) error
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{m: make(map[string][]byte)} }

// FailWith installs a hook called before every operation with op ("get",
// "set" or "delete") and the key; a non-nil error is returned by that call,
// which then has no effect. nil removes the hook. The hook runs with the
// store locked: it must not call the Memory.
func (s *Memory) FailWith(hook func(op, key string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = hook
}

// Keys returns the stored keys, sorted.
func (s *Memory) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.m))
}

func (s *Memory) check(ctx context.Context, op, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if s.fail != nil {
		return s.fail(op, key)
	}
	return nil
}

// Get implements Store.
func (s *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "get", key); err != nil {
		return nil, err
	}
	v, ok := s.m[key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte{}, v...), nil
}

// Set implements Store.
func (s *Memory) Set(ctx context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "set", key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return tooBig(key, len(value))
	}
	s.m[key] = append([]byte{}, value...)
	return nil
}

// Delete implements Store.
func (s *Memory) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "delete", key); err != nil {
		return err
	}
	delete(s.m, key)
	return nil
}

// Name implements Store.
func (s *Memory) Name() string { return "memory" }
