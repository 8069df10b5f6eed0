package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestCloseCancelsFlightsAndLeavesNothing: Close cancels a provider call in
// flight, waits for it, and leaves no goroutine behind; after Close no call
// starts (Pin and Token fail with ErrClosed).
func TestCloseCancelsFlightsAndLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b, _, src := setup(t, Policy{}, time.Hour, 0.5)
	src.gate = make(chan struct{}) // Entra never answers: only a cancel ends the call
	if err := b.Pin("prod", scopes); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		_, err := b.Token(context.Background(), "prod", scopes, 0)
		waiting <- err
	}()
	b.Close()
	if err := <-waiting; err == nil {
		t.Fatal("a request waiting on a cancelled call got a token")
	}
	if err := b.Pin("prod", []string{"other/.default"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pin after Close: %v, want ErrClosed", err)
	}
	if _, err := b.Token(context.Background(), "prod", scopes, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Token after Close: %v, want ErrClosed", err)
	}
	if n := src.Calls(); n != 0 {
		t.Fatalf("%d calls completed, want none (the one in flight was cancelled)", n)
	}
}
