package daemon

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"

	"github.com/entra-helper/entra-helper/daemon/auth"
	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/ipc"
)

// systemMode reports whether the daemon serves the system-wide socket, where
// other users connect and each profile says who may use it.
func (d *Daemon) systemMode() bool { return d.opts.SocketPath == ipc.SystemSocketPath() }

// isOwner reports whether peer is the daemon's own user or root (SYSTEM).
func isOwner(peer ipc.Peer) bool {
	if peer.SID != "" {
		return peer.SID == ownSID() || peer.SID == "S-1-5-18"
	}
	return int(peer.UID) == os.Getuid() || peer.UID == 0
}

// authorizeConn admits a connection: the owner always, other users only in
// system mode and only if some profile allows them.
func (d *Daemon) authorizeConn(peer ipc.Peer) error {
	if isOwner(peer) {
		return nil
	}
	if !d.systemMode() {
		return fmt.Errorf("%s may not use another user's entra-helperd", peer)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, p := range d.cfg.Profiles {
		if allows(p, peer) {
			return nil
		}
	}
	return fmt.Errorf("%s may not use this entra-helperd: no profile lists it in allowed_users or allowed_groups", peer)
}

// checkAccess refuses a peer that p does not allow.
func checkAccess(p *config.Profile, peer ipc.Peer) error {
	if isOwner(peer) || allows(p, peer) {
		return nil
	}
	return &auth.Error{Kind: auth.KindFailed, Message: fmt.Sprintf(
		"profile %s does not allow %s: ask the administrator to add you to its allowed_users or allowed_groups", p.Name, peer)}
}

// allows reports whether p's allowed_users or allowed_groups name peer, by
// user name or numeric id, primary or supplementary group.
func allows(p *config.Profile, peer ipc.Peer) bool {
	if len(p.AllowedUsers) == 0 && len(p.AllowedGroups) == 0 {
		return false
	}
	uid := strconv.FormatUint(uint64(peer.UID), 10)
	u, err := user.LookupId(uid)
	if slices.Contains(p.AllowedUsers, uid) || err == nil && slices.Contains(p.AllowedUsers, u.Username) {
		return true
	}
	gids := []string{strconv.FormatUint(uint64(peer.GID), 10)}
	for _, g := range peer.Groups {
		gids = append(gids, strconv.FormatUint(uint64(g), 10))
	}
	if err == nil {
		if more, err := u.GroupIds(); err == nil {
			gids = append(gids, more...)
		}
	}
	for _, gid := range gids {
		if slices.Contains(p.AllowedGroups, gid) {
			return true
		}
		if g, err := user.LookupGroupId(gid); err == nil && slices.Contains(p.AllowedGroups, g.Name) {
			return true
		}
	}
	return false
}
