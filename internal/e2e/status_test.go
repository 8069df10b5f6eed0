//go:build unix

package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/ipc"
)

// TestStatusDuringDeviceCodeLogin: while a device-code sign-in waits for
// the user, status answers (from the daemon's snapshot, without the store
// or the profile's lock) and shows the profile as not signed in yet; the
// sign-in then completes. The time status took is logged, not asserted
// (make bench measures).
func TestStatusDuringDeviceCodeLogin(t *testing.T) {
	e := newEnv(t, profileTOML("dev", "device-code", publicClientID))
	e.entra.AddApp(entratest.App{ClientID: publicClientID, Public: true, DefaultUser: alice})
	e.entra.AddUser(entratest.User{Username: alice, Password: alicePassword})
	e.startDaemon()
	t.Cleanup(func() { e.client("", "logout", "-p", "dev") })

	login := e.startClient("", "login", "-p", "dev")
	m := login.waitFor(t, deviceCodeRE) // the sign-in now waits for the user
	for i := range 3 {
		start := time.Now()
		ps := e.profileStatus("dev")
		t.Logf("status %d during the device-code sign-in: %s", i, time.Since(start))
		if ps.State != ipc.StateNeedsLogin {
			t.Fatalf("status during the sign-in: state %q, want %q", ps.State, ipc.StateNeedsLogin)
		}
	}
	resp, err := e.entra.Client().Get(e.entra.URL() + "/devicelogin?" + url.Values{"user_code": {m[1]}, "username": {alice}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, stderr, code := login.wait(e); code != 0 {
		t.Fatalf("device-code login: exit %d: %s", code, stderr)
	}
	if ps := e.profileStatus("dev"); ps.State != ipc.StateReady || ps.Account != alice {
		t.Fatalf("status after the sign-in: %+v", ps)
	}
}
