package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/clock"
)

// flakyStore fails with err while it is set, counting calls.
type flakyStore struct {
	Memory
	err   error
	calls int
}

func (f *flakyStore) Get(ctx context.Context, key string) ([]byte, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.Memory.Get(ctx, key)
}

func TestRememberingAnswersARememberedFailureAtOnce(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	f := &flakyStore{err: unavailable(NoSessionBus, "cfg", "x", nil)}
	r := Remember(f, clk)
	ctx := context.Background()
	_, err1 := r.Get(ctx, "k")
	_, err2 := r.Get(ctx, "k")
	if f.calls != 1 {
		t.Fatalf("the backend was asked %d times, want once while the failure is remembered", f.calls)
	}
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("errors %v and %v, want the same sentence", err1, err2)
	}
	if err := r.Set(ctx, "k", []byte("v")); err == nil || f.calls != 1 {
		t.Fatalf("Set while remembered: %v (calls %d)", err, f.calls)
	}
	// Within the minute nothing changes, after it the backend is asked again.
	f.err = nil
	clk.Advance(RecheckEvery - time.Second)
	if _, err := r.Get(ctx, "k"); err == nil {
		t.Fatal("the failure was forgotten before RecheckEvery")
	}
	clk.Advance(time.Second)
	if _, err := r.Get(ctx, "k"); !errors.Is(err, ErrNotFound) || f.calls != 2 {
		t.Fatalf("after RecheckEvery: %v (calls %d), want the backend's answer", err, f.calls)
	}
	// Recheck forgets at once.
	f.err = unavailable(KeychainLocked, "cfg", "", nil)
	_, _ = r.Get(ctx, "k")
	f.err = nil
	r.Recheck()
	if _, err := r.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Recheck: %v", err)
	}
}

func TestRememberingForgetsNothingPerItem(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	f := &flakyStore{err: unavailable(ItemTooLarge, "cfg", "", nil)}
	r := Remember(f, clk)
	_, _ = r.Get(context.Background(), "k")
	_, _ = r.Get(context.Background(), "k")
	if f.calls != 2 {
		t.Fatalf("an item's failure was remembered for the whole store (calls %d)", f.calls)
	}
}
