package daemon

import (
	"context"
	"testing"

	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

// lockedStore is a keychain that reports itself locked, counting calls.
type lockedStore struct {
	*store.Memory
	calls int
}

func (l *lockedStore) Get(context.Context, string) ([]byte, error) {
	l.calls++
	return nil, &store.UnavailableError{Reason: store.KeychainLocked,
		Problem: "keyring: the Secret Service's default keyring is locked", Fix: `set store = "file"`}
}

func (l *lockedStore) Name() string { return "keyring" }

// A keychain failure met while running is remembered: doctor shows the
// same sentence again without asking the keychain, until a re-check.
func TestDoctorShowsTheRememberedKeychainFailure(t *testing.T) {
	f := newDoctorFixture(t, "[daemon]\nmetadata_listen = \"\"\n")
	ls := &lockedStore{Memory: store.NewMemory()}
	f.d.remember = store.Remember(ls, f.d.opts.Clock)
	f.d.store = f.d.remember
	first := f.checks(t, "")["store"]
	second := f.checks(t, "")["store"]
	if ls.calls != 1 {
		t.Fatalf("the keychain was asked %d times, want once while its failure is remembered", ls.calls)
	}
	want := ipc.Check{Name: "store", Level: ipc.CheckFail, Message: "keyring: the Secret Service's default keyring is locked",
		Fix: `set store = "file"`, Action: ipc.ActionFileStore}
	if first != want || second != want {
		t.Fatalf("store checks %+v, %+v; want %+v", first, second, want)
	}
	f.d.remember.Recheck() // what SIGHUP and login do
	f.checks(t, "")
	if ls.calls != 2 {
		t.Fatalf("after a re-check the keychain was asked %d times in all, want 2", ls.calls)
	}
}
