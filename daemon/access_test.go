package daemon

import (
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/ipc"
)

func TestAllows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("allowed_users and allowed_groups by uid and gid: a Windows peer is a SID")
	}
	me, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	uid, _ := strconv.ParseUint(me.Uid, 10, 32)
	gid, _ := strconv.ParseUint(me.Gid, 10, 32)
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Skip("no group name:", err)
	}
	peer := ipc.Peer{UID: uint32(uid), GID: uint32(gid)}
	stranger := ipc.Peer{UID: 4242424, GID: 4242424}
	for _, tc := range []struct {
		name   string
		users  []string
		groups []string
		peer   ipc.Peer
		want   bool
	}{
		{"nobody listed", nil, nil, peer, false},
		{"user by name", []string{me.Username}, nil, peer, true},
		{"user by id", []string{me.Uid}, nil, peer, true},
		{"group by name", nil, []string{grp.Name}, peer, true},
		{"group by id", nil, []string{me.Gid}, peer, true},
		{"other user", []string{"someone-else"}, []string{"no-such-group"}, peer, false},
		{"stranger", []string{me.Username}, []string{grp.Name}, stranger, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &config.Profile{Name: "p", AllowedUsers: tc.users, AllowedGroups: tc.groups}
			if got := allows(p, tc.peer); got != tc.want {
				t.Fatalf("allows = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckAccessAdmitsOwnerAndRefusesOthers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the owner by uid: a Windows peer is a SID")
	}
	p := &config.Profile{Name: "prod"}
	if err := checkAccess(p, ipc.Peer{UID: uint32(os.Getuid())}); err != nil {
		t.Fatalf("owner refused: %v", err)
	}
	if err := checkAccess(p, ipc.Peer{UID: 4242424}); err == nil {
		t.Fatal("a stranger was admitted to a profile that allows nobody")
	}
}

func TestAuthorizeConnOnlyInSystemMode(t *testing.T) {
	cfg := &config.Config{Profiles: map[string]*config.Profile{"p": {Name: "p", AllowedUsers: []string{"4242424"}}}}
	stranger := ipc.Peer{UID: 4242424, GID: 4242424}
	user := &Daemon{cfg: cfg, opts: Options{SocketPath: "/tmp/x/daemon.sock"}}
	if err := user.authorizeConn(stranger); err == nil {
		t.Fatal("a per-user daemon admitted another user")
	}
	sys := &Daemon{cfg: cfg, opts: Options{SocketPath: ipc.SystemSocketPath()}}
	if err := sys.authorizeConn(stranger); err != nil {
		t.Fatalf("system daemon refused an allowed user: %v", err)
	}
	if err := sys.authorizeConn(ipc.Peer{UID: 4242425}); err == nil {
		t.Fatal("system daemon admitted a user no profile allows")
	}
}

func TestBrowserCommand(t *testing.T) {
	for _, tc := range []struct{ browser, wantName, wantArgs string }{
		{"firefox", "firefox", "firefox|https://x"},
		{"firefox --new-window", "firefox", "firefox|--new-window|https://x"},
		{"  /opt/b/run  ", "/opt/b/run", "/opt/b/run|https://x"},
	} {
		name, args := browserCommand(tc.browser, "https://x")
		if got := strings.Join(append([]string{name}, args...), "|"); name != tc.wantName || got != tc.wantArgs {
			t.Errorf("browserCommand(%q) = %q, want %q", tc.browser, got, tc.wantArgs)
		}
	}
}
