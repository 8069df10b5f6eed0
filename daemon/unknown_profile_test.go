package daemon

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/daemon/access"
	"github.com/entra-helper/entra-helper/ipc"
)

// TestOtherUserLearnsNoProfileNames: another user of a system daemon, which
// status shows only the profiles it may use, cannot tell a profile that
// does not exist from one it may not use, nor learn the config file's path
// from the error; the owner gets the full sentence.
func TestOtherUserLearnsNoProfileNames(t *testing.T) {
	f := newDoctorFixture(t, "")
	user, other := "4242", ipc.Peer{UID: 4242, GID: 4242}
	if runtime.GOOS == "windows" { // users are SIDs there
		user = "S-1-5-21-1-2-3-4242"
		other = ipc.Peer{SID: user}
	}
	pol, err := access.New(access.Options{System: true, RatePerSecond: -1}, map[string]access.Rule{"prod": {Users: []string{user}}, "mi": {}})
	if err != nil {
		t.Fatal(err)
	}
	f.d.access = pol
	if self := ipc.Self(); self.UID == other.UID && self.SID == other.SID {
		t.Skip("the test runs as the other user, " + user)
	}
	refusal := func(profile string) string {
		t.Helper()
		_, err := f.d.answer(context.Background(), other, &ipc.Request{Op: ipc.OpToken, Profile: profile}, nil)
		if err == nil {
			t.Fatalf("profile %q: no error", profile)
		}
		w := toWireError(err)
		if strings.Contains(w.Message, f.cfgPath) {
			t.Errorf("profile %q: another user learns the config path: %q", profile, w.Message)
		}
		return w.Code + ": " + strings.Replace(w.Message, "profile "+profile+" ", "profile NAME ", 1)
	}
	if exists, missing := refusal("mi"), refusal("nosuch"); exists != missing {
		t.Errorf("another user tells an existing profile from a missing one:\n%s\n%s", exists, missing)
	}
	refusal("")
	_, err = f.d.answer(context.Background(), ipc.Self(), &ipc.Request{Op: ipc.OpToken, Profile: "nosuch"}, nil)
	if err == nil || !strings.Contains(err.Error(), f.cfgPath) {
		t.Errorf("the owner's error %v does not name the config file", err)
	}
}
