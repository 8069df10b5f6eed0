package access

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/entra-helper/entra-helper/ipc"
)

func testAudit(ceiling int) (*Audit, *observer.ObservedLogs) {
	obs, logs := observer.New(zap.InfoLevel)
	a := newAudit(zap.New(obs), AuditOptions{Ceiling: ceiling, Executable: func(pid int32) string { return fmt.Sprintf("/bin/p%d", pid) }})
	return a, logs
}

func grant(uid uint32, scope string, exp time.Time) Record {
	return Record{Surface: Socket, Peer: ipc.Peer{UID: uid, PID: 7}, Profile: "prod", Scope: scope, Expires: exp, Decision: Granted}
}

// TestAuditOneLinePerKey: a busy client writes one line per distinct token
// and one summary of its repeats per window, not a line per request.
func TestAuditOneLinePerKey(t *testing.T) {
	a, logs := testAudit(100)
	exp := time.Unix(1_700_003_600, 0)
	for range 5000 {
		a.Record(grant(1000, "s1", exp))
	}
	a.Record(grant(1000, "s2", exp))                // another scope
	a.Record(grant(1000, "s1", exp.Add(time.Hour))) // a renewed token
	a.Record(grant(1001, "s1", exp))                // another user
	a.Record(Record{Surface: Metadata, Peer: ipc.Peer{UID: 1001}, Profile: "prod", Decision: Refused, Reason: "no"})
	a.write()
	if n := logs.FilterMessage("access").Len(); n != 5 {
		t.Fatalf("%d access lines, want 5: %v", n, logs.All())
	}
	first := logs.FilterMessage("access").All()[0].ContextMap()
	for k, v := range map[string]any{"surface": "socket", "decision": "granted", "uid": uint32(1000), "pid": int32(7), "exe": "/bin/p7", "profile": "prod", "scope": "s1"} {
		if first[k] != v {
			t.Errorf("field %s = %v (%T), want %v", k, first[k], first[k], v)
		}
	}
	a.rollover()
	a.write()
	rep := logs.FilterMessage("access repeated").All()
	if len(rep) != 1 || rep[0].ContextMap()["count"] != int64(4999) {
		t.Fatalf("summaries %v, want one of 4999 repeats", rep)
	}
	// A quiet window writes nothing and forgets the keys afterwards.
	a.rollover()
	a.rollover()
	a.Record(grant(1000, "s1", exp))
	a.write()
	if n := logs.FilterMessage("access").Len(); n != 6 {
		t.Fatalf("%d access lines after the key was forgotten, want 6", n)
	}
	if n := logs.FilterMessage("access repeated").Len(); n != 1 {
		t.Fatalf("%d summaries, want still 1", n)
	}
}

// TestAuditCeiling: beyond the ceiling, records are counted and reported in
// one line.
func TestAuditCeiling(t *testing.T) {
	a, logs := testAudit(10)
	exp := time.Unix(1_700_003_600, 0)
	for i := range 1000 {
		a.Record(grant(uint32(i), "s", exp)) // 1000 distinct users
	}
	a.rollover()
	a.write()
	if n := logs.FilterMessage("access").Len(); n != 10 {
		t.Fatalf("%d lines, want the ceiling of 10", n)
	}
	c := logs.FilterMessage("audit ceiling reached").All()
	if len(c) != 1 || c[0].ContextMap()["summarised"] != int64(990) {
		t.Fatalf("ceiling lines %v, want one summarising 990", c)
	}
}

// TestAuditCloseFlushes: a clean stop writes every queued line and the
// summaries of the current window; Record never waits for the writer.
func TestAuditCloseFlushes(t *testing.T) {
	obs, logs := observer.New(zap.InfoLevel)
	a := NewAudit(zap.New(obs), AuditOptions{Window: time.Hour})
	exp := time.Unix(1_700_003_600, 0)
	for i := range 50 {
		a.Record(grant(uint32(i), "s", exp))
		a.Record(grant(uint32(i), "s", exp))
	}
	a.Close()
	a.Record(grant(9999, "s", exp)) // after Close: dropped, no panic
	if n := logs.FilterMessage("access").Len(); n != 50 {
		t.Fatalf("%d access lines after Close, want 50", n)
	}
	if n := logs.FilterMessage("access repeated").Len(); n != 50 {
		t.Fatalf("%d summaries after Close, want 50", n)
	}
	var nilAudit *Audit
	nilAudit.Record(grant(1, "s", exp))
	nilAudit.Close()
}
