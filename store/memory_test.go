package store

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestMemory(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	in := []byte("value")
	if err := m.Set(ctx, "a", in); err != nil {
		t.Fatal(err)
	}
	in[0] = 'X' // the store keeps its own copy
	got, err := m.Get(ctx, "a")
	if err != nil || string(got) != "value" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	got[0] = 'Y' // and hands out copies
	if again, _ := m.Get(ctx, "a"); string(again) != "value" {
		t.Fatalf("Get after mutating a result = %q", again)
	}
	if err := m.Set(ctx, "b", nil); err != nil {
		t.Fatal(err)
	}
	if keys := m.Keys(); !slices.Equal(keys, []string{"a", "b"}) {
		t.Fatalf("Keys = %q", keys)
	}
	if err := m.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if err := m.Delete(ctx, "a"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if err := m.Set(ctx, "big", make([]byte, MaxValueSize+1)); err == nil {
		t.Fatal("oversize Set succeeded")
	}
	if m.Name() != "memory" {
		t.Fatalf("Name = %q", m.Name())
	}
}

func TestMemoryFailures(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	if err := m.Set(ctx, "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("keychain locked")
	m.FailWith(func(op, key string) error {
		if op == "set" || (op == "get" && key == "k") {
			return boom
		}
		return nil
	})
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"set fails", func() error { return m.Set(ctx, "k", []byte("new")) }, boom},
		{"get fails", func() error { _, err := m.Get(ctx, "k"); return err }, boom},
		{"other get passes", func() error { _, err := m.Get(ctx, "other"); return err }, ErrNotFound},
		{"delete passes", func() error { return m.Delete(ctx, "other") }, nil},
		{"cancelled ctx", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return m.Delete(c, "k")
		}, context.Canceled},
		{"invalid key", func() error { return m.Delete(ctx, "") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.name == "invalid key" {
				if err == nil {
					t.Fatal("Delete of an empty key succeeded")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	m.FailWith(nil)
	if got, err := m.Get(ctx, "k"); err != nil || string(got) != "old" {
		t.Fatalf("a failed Set changed the value: %q, %v", got, err)
	}
}
