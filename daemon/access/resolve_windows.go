package access

import (
	"fmt"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/entra-helper/entra-helper/ipc"
)

// resolved is a Rule with its names turned into SIDs.
type resolved struct {
	users  map[string]bool
	groups map[string]bool
}

// resolve looks up the rule's account names (user or DOMAIN\user); a SID
// string (S-1-...) is taken as it is.
func resolve(r Rule) (*resolved, error) {
	res := &resolved{users: map[string]bool{}, groups: map[string]bool{}}
	for _, name := range r.Users {
		sid, err := lookupSID(name)
		if err != nil {
			return nil, fmt.Errorf("allowed_users names %q, which is no account of this machine or domain (%v): fix the name or remove it", name, err)
		}
		res.users[sid] = true
	}
	for _, name := range r.Groups {
		sid, err := lookupSID(name)
		if err != nil {
			return nil, fmt.Errorf("allowed_groups names %q, which is no group of this machine or domain (%v): fix the name or remove it", name, err)
		}
		res.groups[sid] = true
	}
	return res, nil
}

func lookupSID(name string) (string, error) {
	if strings.HasPrefix(strings.ToUpper(name), "S-1-") {
		sid, err := windows.StringToSid(name)
		if err != nil {
			return "", err
		}
		return sid.String(), nil
	}
	sid, _, _, err := windows.LookupSID("", name)
	if err != nil {
		return "", err
	}
	return sid.String(), nil
}

// allows reports whether the rule names peer's SID or one of the groups of
// its token.
func (r *resolved) allows(peer ipc.Peer, _ *groupCache) bool {
	if r.users[peer.SID] {
		return true
	}
	for _, g := range peer.GroupSIDs {
		if r.groups[g] {
			return true
		}
	}
	return false
}

// groupCache is unused on Windows: the peer's token carries its groups.
type groupCache struct{}
