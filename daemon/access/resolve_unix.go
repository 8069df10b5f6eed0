//go:build unix

package access

import (
	"fmt"
	"os/user"
	"strconv"
	"sync"

	"github.com/entra-helper/entra-helper/ipc"
)

// resolved is a Rule with its names turned into uids and gids.
type resolved struct {
	uids map[uint32]bool
	gids map[uint32]bool
}

// resolve looks up the rule's user and group names; a number is taken as
// a uid or gid as it is.
func resolve(r Rule) (*resolved, error) {
	res := &resolved{uids: map[uint32]bool{}, gids: map[uint32]bool{}}
	for _, name := range r.Users {
		id, err := lookupID(name, func(n string) (string, error) {
			u, err := user.Lookup(n)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		})
		if err != nil {
			return nil, fmt.Errorf("allowed_users names %q, which is no user of this machine (%v): fix the name or remove it", name, err)
		}
		res.uids[id] = true
	}
	for _, name := range r.Groups {
		id, err := lookupID(name, func(n string) (string, error) {
			g, err := user.LookupGroup(n)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		})
		if err != nil {
			return nil, fmt.Errorf("allowed_groups names %q, which is no group of this machine (%v): fix the name or remove it", name, err)
		}
		res.gids[id] = true
	}
	return res, nil
}

// lookupID parses name as a number, else looks it up.
func lookupID(name string, lookup func(string) (string, error)) (uint32, error) {
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), nil
	}
	s, err := lookup(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// allows reports whether the rule names peer's uid or one of its groups.
func (r *resolved) allows(peer ipc.Peer, gc *groupCache) bool {
	if peer.SID != "" {
		return false
	}
	if r.uids[peer.UID] {
		return true
	}
	if len(r.gids) == 0 {
		return false
	}
	if peer.GID != noGID && r.gids[peer.GID] {
		return true
	}
	for _, g := range peer.Groups {
		if r.gids[g] {
			return true
		}
	}
	for _, g := range gc.groupsOf(peer) {
		if r.gids[g] {
			return true
		}
	}
	return false
}

// groupCache finds a peer's supplementary groups: those of its process
// where the OS tells (Linux: /proc/PID/status), else its user's groups in
// the user database, looked up once per uid for the life of the rules.
type groupCache struct {
	byUID sync.Map // uint32 -> []uint32
}

func (c *groupCache) groupsOf(peer ipc.Peer) []uint32 {
	if gs, ok := processGroups(peer); ok {
		return gs
	}
	if v, ok := c.byUID.Load(peer.UID); ok {
		return v.([]uint32)
	}
	var gids []uint32
	if u, err := user.LookupId(strconv.FormatUint(uint64(peer.UID), 10)); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, s := range ids {
				if n, err := strconv.ParseUint(s, 10, 32); err == nil {
					gids = append(gids, uint32(n))
				}
			}
		}
	}
	c.byUID.Store(peer.UID, gids)
	return gids
}
