package clock

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	c := NewFake(t0)
	var got []int
	var at []time.Duration
	for i, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		c.AfterFunc(d, func() { got = append(got, i); at = append(at, c.Now().Sub(t0)) })
	}
	stopped := c.AfterFunc(time.Second, func() { t.Error("a stopped timer fired") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	c.Advance(2 * time.Second)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 || at[0] != time.Second || at[1] != 2*time.Second {
		t.Fatalf("fired %v at %v, want [1 2] at [1s 2s]", got, at)
	}
	if c.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", c.Pending())
	}
	c.Advance(time.Second)
	if len(got) != 3 || c.Pending() != 0 {
		t.Fatalf("fired %v, pending %d", got, c.Pending())
	}
}

func TestFakeTimerScheduledByATimerFires(t *testing.T) {
	c := NewFake(t0)
	n := 0
	var tick func()
	tick = func() { n++; c.AfterFunc(time.Second, tick) }
	c.AfterFunc(time.Second, tick)
	c.Advance(10 * time.Second)
	if n != 10 {
		t.Fatalf("ticked %d times in 10s, want 10", n)
	}
}

func TestFakeJumpMovesWallClockButNotTimers(t *testing.T) {
	c := NewFake(t0)
	fired := false
	c.AfterFunc(time.Minute, func() { fired = true })
	c.Jump(time.Hour)
	if fired || c.Now() != t0.Add(time.Hour) {
		t.Fatalf("after Jump: fired=%v now=%v", fired, c.Now())
	}
	c.Advance(time.Minute)
	if !fired {
		t.Fatal("the timer did not fire a minute of awake time later")
	}
}
