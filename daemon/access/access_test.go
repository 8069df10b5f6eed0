//go:build unix

package access

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entra-helper/entra-helper/ipc"
)

// nobody is a user on every test machine; 4242424 is nobody's uid.
func nobody(t *testing.T) (ipc.Peer, *user.User) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return ipc.Peer{UID: uint32(uid), GID: uint32(gid)}, u
}

func TestSystemRules(t *testing.T) {
	peer, u := nobody(t)
	grp, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skip("no group name:", err)
	}
	stranger := ipc.Peer{UID: 4242424, GID: 4242424}
	for _, tc := range []struct {
		name string
		rule Rule
		peer ipc.Peer
		want bool
	}{
		{"nobody listed", Rule{}, peer, false},
		{"user by name", Rule{Users: []string{u.Username}}, peer, true},
		{"user by id", Rule{Users: []string{u.Uid}}, peer, true},
		{"group by name", Rule{Groups: []string{grp.Name}}, peer, true},
		{"group by id", Rule{Groups: []string{u.Gid}}, peer, true},
		{"supplementary group (macOS reports them)", Rule{Groups: []string{"4242"}}, ipc.Peer{UID: 4242424, GID: 1, Groups: []uint32{7, 4242}}, true},
		{"stranger", Rule{Users: []string{u.Username}, Groups: []string{grp.Name}}, stranger, false},
		{"a Windows peer never matches a uid", Rule{Users: []string{"0"}}, ipc.Peer{SID: "S-1-5-21-1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := New(Options{System: true}, map[string]Rule{"p": tc.rule, "other": {}})
			if err != nil {
				t.Fatal(err)
			}
			if got := pol.Allows(tc.peer, "p"); got != tc.want {
				t.Fatalf("Allows = %v, want %v", got, tc.want)
			}
			err = pol.Use(tc.peer, Socket, "p")
			if (err == nil) != tc.want {
				t.Fatalf("Use = %v, want allowed %v", err, tc.want)
			}
			if err != nil && (!IsDenied(err) || !strings.Contains(err.Error(), "allowed_users")) {
				t.Fatalf("refusal %v", err)
			}
			if err := pol.Admit(tc.peer, Socket); (err == nil) != tc.want {
				t.Fatalf("Admit = %v, want admitted %v", err, tc.want)
			}
			if err := pol.Manage(tc.peer, Socket, "p"); err == nil {
				t.Fatal("another user may sign the profile in or out")
			}
			if pol.Allows(tc.peer, "other") {
				t.Fatal("a profile without rules allows another user")
			}
		})
	}
}

func TestOwnerAndPerUserMode(t *testing.T) {
	peer, u := nobody(t)
	self := ipc.Self()
	for _, system := range []bool{false, true} {
		pol, err := New(Options{System: system}, map[string]Rule{"p": {Users: []string{u.Username}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := pol.Admit(self, Socket); err != nil {
			t.Fatalf("system=%v: the owner was refused: %v", system, err)
		}
		if err := pol.Use(self, Metadata, "p"); err != nil {
			t.Fatalf("system=%v: the owner may not use p: %v", system, err)
		}
		if os.Geteuid() == int(peer.UID) {
			continue
		}
		err = pol.Admit(peer, Socket)
		if system != (err == nil) {
			t.Fatalf("system=%v: another user named by the profile: Admit = %v", system, err)
		}
	}
}

func TestUnknownNamesFailInSystemModeOnly(t *testing.T) {
	rules := map[string]Rule{"p": {Users: []string{"no-such-user-eh"}}}
	if _, err := New(Options{System: true}, rules); err == nil || !strings.Contains(err.Error(), `profile p: allowed_users names "no-such-user-eh"`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Options{}, rules); err != nil {
		t.Fatalf("a per-user daemon ignores the rules, got %v", err)
	}
	// A broken reload keeps the old rules.
	peer, u := nobody(t)
	sys, err := New(Options{System: true}, map[string]Rule{"p": {Users: []string{u.Username}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.SetRules(rules); err == nil {
		t.Fatal("SetRules took an unknown user")
	}
	if !sys.Allows(peer, "p") {
		t.Fatal("a failed SetRules dropped the old rules")
	}
	// Resolve changes nothing until Install.
	none, err := sys.Resolve(map[string]Rule{"p": {}})
	if err != nil {
		t.Fatal(err)
	}
	if !sys.Allows(peer, "p") {
		t.Fatal("Resolve put the rules in force before Install")
	}
	sys.Install(none)
	if sys.Allows(peer, "p") {
		t.Fatal("Install did not put the rules in force")
	}
}

func TestRateLimitPerPeer(t *testing.T) {
	obs, logs := observer.New(zap.InfoLevel)
	a := NewAudit(zap.New(obs), AuditOptions{})
	pol, err := New(Options{System: true, RatePerSecond: 1, Burst: 3, Audit: a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	self := ipc.Self()
	for i := range 3 {
		if err := pol.Admit(self, Socket); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	err = pol.Admit(self, Socket)
	var d *Denied
	if !errors.As(err, &d) || !d.Busy || d.Code() != ipc.CodeFailed || !strings.Contains(err.Error(), "busy: too many requests") {
		t.Fatalf("over the limit: %v", err)
	}
	// Another peer has its own bucket.
	if err := pol.Admit(ipc.Peer{UID: self.UID + 1}, Socket); errors.As(err, &d) && d.Busy {
		t.Fatalf("another user was limited by this one's requests: %v", err)
	}
	a.Close()
	if n := logs.FilterMessage("access").FilterField(zap.String("decision", "busy")).Len(); n != 1 {
		t.Fatalf("%d busy records, want 1: %v", n, logs.All())
	}
	// A per-user daemon has no limit.
	user, _ := New(Options{RatePerSecond: 1, Burst: 1}, nil)
	for range 10 {
		if err := user.Admit(self, Socket); err != nil {
			t.Fatalf("a per-user daemon limited its owner: %v", err)
		}
	}
}

func TestLimiterForgetsIdlePeers(t *testing.T) {
	l := newLimiter(1, 1)
	now := time.Unix(1_700_000_000, 0)
	for i := range maxLimiters - 1 {
		l.allowAt(strconv.Itoa(i), now)
	}
	later := now.Add(2 * time.Second) // every bucket so far is full again
	if !l.allowAt("busy", later) {
		t.Fatal("a new peer was refused")
	}
	l.allowAt("new", later) // at the bound: prunes
	if len(l.peers) != 2 {
		t.Fatalf("%d limiters kept after pruning, want the 2 busy ones", len(l.peers))
	}
	if l.allowAt("busy", later) {
		t.Fatal("pruning forgot a peer that is out of requests")
	}
}
