// Package access is the daemon's one access policy: every surface that
// hands out tokens (the ipc socket or pipe, the Databricks metadata
// endpoint, the managed-identity endpoint, status and doctor) asks it who
// may connect, who may use which profile, and tells it what was handed
// out, so that one rule and one audit record format hold everywhere.
//
// The rule:
//
//   - The daemon's own user and the administrator (root, SYSTEM) may use
//     every profile (ipc.Peer.IsSelfOrAdmin).
//   - A per-user daemon admits nobody else.
//   - A system daemon (entra-helperd run --system) admits another user only
//     to the profiles whose allowed_users name the user or whose
//     allowed_groups name one of the user's groups. Names are resolved
//     when the rules are set (New, SetRules): on Unix to uids and gids, on
//     Windows to SIDs, matched against the peer's token groups. Numeric
//     uids/gids and SID strings are taken as they are.
//   - Only the owner and the administrator sign a profile in or out
//     (Manage): that changes what every user of the profile gets.
//   - A system daemon limits each peer's requests (golang.org/x/time/rate),
//     so that one user cannot starve the others.
//
// Use from a surface:
//
//	// a connection-oriented surface (the ipc server):
//	err := pol.Admit(peer, access.Socket)          // on accept
//	err = pol.Use(peer, access.Socket, profile)    // once the profile is known
//	pol.Granted(peer, access.Socket, profile, scope, expiresOn)
//
//	// a loopback HTTP endpoint: ConnContext on the http.Server, then per request
//	peer, err := pol.CheckRequest(r, access.Metadata, profile)
//	...
//	pol.Granted(peer, access.Metadata, profile, scope, expiresOn)
//
// Every refusal is a *Denied error and is audited; every grant is audited
// through Granted. The audit trail (see Audit) writes one line per distinct
// (surface, user, executable, profile, scope, token, decision) and
// summarises repeats at most once a minute, under a hard ceiling of lines
// per minute.
package access

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/entra-helper/entra-helper/ipc"
)

// Surface names where a request came in; it appears in every audit record.
type Surface string

// The daemon's surfaces.
const (
	Socket   Surface = "socket"   // the ipc socket (named pipe on Windows)
	Metadata Surface = "metadata" // the Databricks metadata endpoint
	Identity Surface = "identity" // the managed-identity endpoint
)

// Rule says who besides the owner may use one profile: its allowed_users
// and allowed_groups (names, or numeric ids / SID strings).
type Rule struct {
	Users  []string
	Groups []string
}

// Options configure a Policy.
type Options struct {
	// System is system mode: other users may be admitted to the profiles
	// that allow them, and each peer is rate limited.
	System bool
	// RatePerSecond and Burst bound each peer's requests in system mode
	// (defaults DefaultRatePerSecond, DefaultBurst; a negative
	// RatePerSecond turns the limit off).
	RatePerSecond float64
	Burst         int
	// Audit receives every decision worth recording (nil: none).
	Audit *Audit
}

// Defaults of the per-peer rate limit of a system daemon.
const (
	DefaultRatePerSecond = 2000
	DefaultBurst         = 4000
)

// Policy is the access policy. Its methods may be called concurrently.
type Policy struct {
	system  bool
	audit   *Audit
	limiter *limiter // nil: no limit
	rules   atomic.Pointer[ruleSet]
}

// ruleSet is the resolved rules of every profile.
type ruleSet struct {
	profiles map[string]*resolved
	groups   groupCache
}

// New returns the policy for opts and rules (profile name to rule). In
// system mode it resolves the rules' names and fails on a name that does
// not exist; a per-user daemon ignores the rules (only its owner gets in).
func New(opts Options, rules map[string]Rule) (*Policy, error) {
	p := &Policy{system: opts.System, audit: opts.Audit}
	if opts.System && opts.RatePerSecond >= 0 {
		rps, burst := opts.RatePerSecond, opts.Burst
		if rps == 0 {
			rps = DefaultRatePerSecond
		}
		if burst <= 0 {
			burst = DefaultBurst
		}
		p.limiter = newLimiter(rps, burst)
	}
	if err := p.SetRules(rules); err != nil {
		return nil, err
	}
	return p, nil
}

// SetRules replaces the profiles' rules (a config reload). On an error the
// old rules stay.
func (p *Policy) SetRules(rules map[string]Rule) error {
	rs, err := p.Resolve(rules)
	if err != nil {
		return err
	}
	p.Install(rs)
	return nil
}

// RuleSet is the resolved rules of every profile, made by Resolve and put
// in force by Install.
type RuleSet struct{ rs *ruleSet }

// Resolve resolves rules (profile name to rule) without putting them in
// force, so that a config reload can fail on any part before it changes
// anything.
func (p *Policy) Resolve(rules map[string]Rule) (*RuleSet, error) {
	rs := &ruleSet{profiles: make(map[string]*resolved, len(rules))}
	for name, r := range rules {
		if !p.system {
			rs.profiles[name] = &resolved{}
			continue
		}
		res, err := resolve(r)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		rs.profiles[name] = res
	}
	return &RuleSet{rs: rs}, nil
}

// Install puts rules, made by Resolve, in force.
func (p *Policy) Install(rules *RuleSet) { p.rules.Store(rules.rs) }

// System reports whether the policy is in system mode.
func (p *Policy) System() bool { return p.system }

// Denied is the error of a refusal. Its message is one sentence for the
// client: what happened and what to do.
type Denied struct {
	Peer    ipc.Peer
	Surface Surface
	Profile string // "" when refused before a profile was named
	Busy    bool   // refused by the rate limit, not by the rule
	Reason  string
}

func (e *Denied) Error() string { return e.Reason }

// Code is the ipc error code the client gets: "failed" for busy (try
// again later), "forbidden" otherwise.
func (e *Denied) Code() string {
	if e.Busy {
		return ipc.CodeFailed
	}
	return ipc.CodeForbidden
}

// IsDenied reports whether err is a refusal of the policy.
func IsDenied(err error) bool {
	var d *Denied
	return errors.As(err, &d)
}

// Admit decides whether peer may use the daemon at all on surface, before
// it names a profile: the owner always; in system mode another user when
// some profile allows it. In system mode it also applies peer's rate limit.
// A refusal is audited and returned as a *Denied.
func (p *Policy) Admit(peer ipc.Peer, s Surface) error {
	if err := p.limit(peer, s); err != nil {
		return err
	}
	if peer.IsSelfOrAdmin() {
		return nil
	}
	if !p.system {
		return p.deny(peer, s, "", fmt.Sprintf("%s may not use another user's entra-helperd; start your own (entra-helperd) or ask for a profile on the system service", peer))
	}
	rs := p.rules.Load()
	for _, r := range rs.profiles {
		if r.allows(peer, &rs.groups) {
			return nil
		}
	}
	return p.deny(peer, s, "", fmt.Sprintf("%s may not use this entra-helperd: no profile lists it in allowed_users or allowed_groups; ask the administrator", peer))
}

// Use decides whether peer, already admitted, may use profile on surface.
// A refusal is audited and returned as a *Denied.
func (p *Policy) Use(peer ipc.Peer, s Surface, profile string) error {
	if p.Allows(peer, profile) {
		return nil
	}
	if profile == "" {
		return p.deny(peer, s, profile, fmt.Sprintf(
			"%s named no profile: pass -p with a profile that allows it (entra-helper status lists them) or ask the administrator", peer))
	}
	return p.deny(peer, s, profile, fmt.Sprintf(
		"profile %s does not allow %s: ask the administrator to add you to its allowed_users or allowed_groups", profile, peer))
}

// Manage decides whether peer may sign profile in or out (which changes
// what every user of the profile gets): only the owner and the
// administrator. A refusal is audited and returned as a *Denied.
func (p *Policy) Manage(peer ipc.Peer, s Surface, profile string) error {
	if peer.IsSelfOrAdmin() {
		return nil
	}
	return p.deny(peer, s, profile, fmt.Sprintf(
		"%s may use profile %s but not sign it in or out: ask the administrator", peer, profile))
}

// Allows reports whether peer may use profile, without auditing: for
// listings such as status, which show each peer only its own profiles.
func (p *Policy) Allows(peer ipc.Peer, profile string) bool {
	if peer.IsSelfOrAdmin() {
		return true
	}
	if !p.system {
		return false
	}
	rs := p.rules.Load()
	r, ok := rs.profiles[profile]
	return ok && r.allows(peer, &rs.groups)
}

// Granted records that peer was handed a token of profile for scope on
// surface, expiring at expires (which tells tokens apart in the audit
// trail; the token itself is never recorded).
func (p *Policy) Granted(peer ipc.Peer, s Surface, profile, scope string, expires time.Time) {
	p.audit.Record(Record{Surface: s, Peer: peer, Profile: profile, Scope: scope, Expires: expires, Decision: Granted})
}

func (p *Policy) deny(peer ipc.Peer, s Surface, profile, reason string) error {
	d := &Denied{Peer: peer, Surface: s, Profile: profile, Reason: reason}
	p.audit.Record(Record{Surface: s, Peer: peer, Profile: profile, Decision: Refused, Reason: reason})
	return d
}

// limit applies peer's rate limit.
func (p *Policy) limit(peer ipc.Peer, s Surface) error {
	if p.limiter == nil || p.limiter.allow(peerKey(peer)) {
		return nil
	}
	d := &Denied{Peer: peer, Surface: s, Busy: true, Reason: fmt.Sprintf(
		"busy: too many requests from %s: slow down and try again", peerKey(peer))}
	p.audit.Record(Record{Surface: s, Peer: peer, Decision: Busy, Reason: "over the rate limit"})
	return d
}

// peerKey names a peer's user: its SID on Windows, else its uid.
func peerKey(p ipc.Peer) string {
	if p.SID != "" {
		return "user " + p.SID
	}
	return "uid " + strconv.FormatUint(uint64(p.UID), 10)
}
