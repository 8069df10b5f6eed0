//go:build windows

package ipc

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestPipeOwnedByTheUser: the per-user pipe names its owner, the user,
// rather than taking the token's default owner (Wine's, for one, is the
// primary group, which the client refuses).
func TestPipeOwnedByTheUser(t *testing.T) {
	path := testPath(t)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := Dial(ctx, path) // checks the owner too
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h, err := pipeHandle(conn)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		t.Fatal(err)
	}
	me, err := currentSID()
	if err != nil {
		t.Fatal(err)
	}
	if owner.String() != me {
		t.Fatalf("pipe owner %s, want the user %s", owner, me)
	}
	if want := "O:" + me + "D:P"; userPipeSDDL(me)[:len(want)] != want {
		t.Fatalf("SDDL %q does not start with %q", userPipeSDDL(me), want)
	}
}

// TestServerOwnersTheClientAccepts: the user, SYSTEM and Administrators
// (who own the system service's pipe), nobody else.
func TestServerOwnersTheClientAccepts(t *testing.T) {
	me, err := currentSID()
	if err != nil {
		t.Fatal(err)
	}
	for sid, want := range map[string]bool{
		me: true, "S-1-5-18": true, "S-1-5-32-544": true,
		"S-1-5-32-545": false, "S-1-5-21-1-2-3-513": false, "S-1-5-21-1-2-3-4242": false, "": false,
	} {
		if got := (Peer{SID: sid}).IsSelfOrAdmin(); got != want {
			t.Errorf("owner %q accepted = %v, want %v", sid, got, want)
		}
	}
}
