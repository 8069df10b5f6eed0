package access

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/ipc"
)

// Decision is what the policy decided about a request.
type Decision string

// Decisions recorded in the audit trail.
const (
	Granted Decision = "granted" // a token was handed out
	Refused Decision = "refused" // the rule refused the peer
	Busy    Decision = "busy"    // the rate limit refused the peer
)

// Record is one audited event. It never holds a token or secret: Expires
// tells tokens apart.
type Record struct {
	Surface  Surface
	Peer     ipc.Peer
	Profile  string
	Scope    string
	Expires  time.Time // the token's expiry (Granted)
	Decision Decision
	Reason   string // why it was refused
}

// Defaults of AuditOptions.
const (
	DefaultAuditWindow  = time.Minute
	DefaultAuditCeiling = 1000
)

// AuditOptions configure an Audit.
type AuditOptions struct {
	// Window is how often repeats are summarised and the ceiling resets
	// (default DefaultAuditWindow).
	Window time.Duration
	// Ceiling bounds the lines written per window (default
	// DefaultAuditCeiling); the records beyond it are counted and
	// reported in one line at the window's end.
	Ceiling int
	// Executable finds a peer's executable by pid (nil: the OS's; tests).
	Executable func(pid int32) string
}

// Audit is the audit trail of every surface. Record never blocks on the
// log: lines are queued and written by a background goroutine; Close
// writes what is queued and the last summaries, so a clean stop loses
// nothing. A nil *Audit records nothing.
//
// Each distinct key (surface, user, executable, profile, scope, token
// expiry, decision) is written once, at its first occurrence ("access");
// its repeats are counted and written as one "access repeated" line per
// window in which there were some. A key unseen for a whole window is
// forgotten. At most Ceiling lines are written per window; beyond it,
// records are only counted, and one "audit ceiling reached" line says how
// many were summarised.
type Audit struct {
	log     *zap.Logger
	window  time.Duration
	ceiling int
	exe     func(int32) string

	mu     sync.Mutex
	keys   map[auditKey]*auditEntry
	lines  int // lines queued in this window
	over   int // records not written in this window because of the ceiling
	queue  []auditLine
	closed bool
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

type auditKey struct {
	surface  Surface
	uid      uint32 // the user: uid, or SID on Windows
	sid      string
	exe      string
	profile  string
	scope    string
	expires  int64
	decision Decision
}

type auditEntry struct {
	rec     Record
	pid     int32
	repeats int  // since the last summary
	seen    bool // seen in this window
}

type auditLine struct {
	msg    string
	fields []zap.Field
}

// NewAudit starts an audit trail writing to log (conventionally the
// daemon's logger named "audit").
func NewAudit(log *zap.Logger, opts AuditOptions) *Audit {
	a := newAudit(log, opts)
	go a.run()
	return a
}

func newAudit(log *zap.Logger, opts AuditOptions) *Audit {
	if opts.Window <= 0 {
		opts.Window = DefaultAuditWindow
	}
	if opts.Ceiling <= 0 {
		opts.Ceiling = DefaultAuditCeiling
	}
	if opts.Executable == nil {
		opts.Executable = executable
	}
	return &Audit{
		log: log, window: opts.Window, ceiling: opts.Ceiling, exe: opts.Executable,
		keys: map[auditKey]*auditEntry{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Record adds r to the trail without waiting for the log.
func (a *Audit) Record(r Record) {
	if a == nil {
		return
	}
	exe := a.exe(r.Peer.PID)
	k := auditKey{
		surface: r.Surface, uid: r.Peer.UID, sid: r.Peer.SID, exe: exe, profile: r.Profile, scope: r.Scope,
		decision: r.Decision,
	}
	if !r.Expires.IsZero() {
		k.expires = r.Expires.Unix()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	if e := a.keys[k]; e != nil {
		e.repeats++
		e.seen = true
		return
	}
	if a.lines >= a.ceiling {
		a.over++
		return
	}
	a.keys[k] = &auditEntry{rec: r, pid: r.Peer.PID, seen: true}
	a.queueLocked("access", recordFields(r, exe))
}

// queueLocked queues one line and wakes the writer. a.mu is held.
func (a *Audit) queueLocked(msg string, fields []zap.Field) {
	a.lines++
	a.queue = append(a.queue, auditLine{msg: msg, fields: fields})
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// recordFields is the one format of an audit record.
func recordFields(r Record, exe string) []zap.Field {
	f := make([]zap.Field, 0, 10)
	f = append(f, zap.String("surface", string(r.Surface)), zap.String("decision", string(r.Decision)))
	if r.Peer.SID != "" {
		f = append(f, zap.String("sid", r.Peer.SID))
	} else {
		f = append(f, zap.Uint32("uid", r.Peer.UID))
	}
	f = append(f, zap.Int32("pid", r.Peer.PID), zap.String("exe", exe),
		zap.String("profile", r.Profile), zap.String("scope", r.Scope))
	if !r.Expires.IsZero() {
		f = append(f, zap.Time("expires", r.Expires))
	}
	if r.Reason != "" {
		f = append(f, zap.String("reason", r.Reason))
	}
	return f
}

// rollover ends a window: it queues one summary per key that repeated,
// forgets the keys unseen in the window, reports the records the ceiling
// held back, and opens the next window.
func (a *Audit) rollover() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines = 0
	over := a.over
	a.over = 0
	for k, e := range a.keys {
		if !e.seen {
			delete(a.keys, k)
			continue
		}
		e.seen = false
		if e.repeats == 0 {
			continue
		}
		if a.lines >= a.ceiling {
			over += e.repeats
		} else {
			r := e.rec
			r.Peer.PID = e.pid
			a.queueLocked("access repeated", append(recordFields(r, k.exe),
				zap.Int("count", e.repeats), zap.Duration("within", a.window)))
		}
		e.repeats = 0
	}
	if over > 0 {
		// Always written: it is what makes the ceiling honest.
		a.queueLocked("audit ceiling reached", []zap.Field{
			zap.Int("summarised", over), zap.Int("ceiling", a.ceiling), zap.Duration("within", a.window)})
	}
}

// run writes queued lines as they come and rolls the window over.
func (a *Audit) run() {
	defer close(a.done)
	t := time.NewTicker(a.window)
	defer t.Stop()
	for {
		select {
		case <-a.wake:
		case <-t.C:
			a.rollover()
		case <-a.stop:
			a.rollover()
			a.write()
			return
		}
		a.write()
	}
}

// write writes and empties the queue.
func (a *Audit) write() {
	a.mu.Lock()
	q := a.queue
	a.queue = nil
	a.mu.Unlock()
	for _, l := range q {
		a.log.Info(l.msg, l.fields...)
	}
}

// Close writes what is queued, with the summaries of the current window,
// and stops the writer. Records after Close are dropped.
func (a *Audit) Close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.done
		return
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	<-a.done
}
