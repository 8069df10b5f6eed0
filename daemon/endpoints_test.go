package daemon

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"

	"github.com/entra-helper/entra-helper/daemon/broker"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/ipc"
)

// TestDefaultPortTaken: only an address the config file does not set
// (the default) may stay off, and only because another process holds it.
func TestDefaultPortTaken(t *testing.T) {
	inUse := fmt.Errorf("listen tcp 127.0.0.1:8771: %w", &net.OpError{Op: "listen", Err: addrInUse})
	for _, c := range []struct {
		set  bool
		err  error
		want bool
	}{
		{false, inUse, true},
		{true, inUse, false},                              // the file asks for this port
		{false, errors.New("no store"), false},            // the secret, not the port
		{false, &net.OpError{Err: syscall.EACCES}, false}, // not taken: refused
	} {
		if got := defaultPortTaken(c.set, c.err); got != c.want {
			t.Errorf("defaultPortTaken(%v, %v) = %v, want %v", c.set, c.err, got, c.want)
		}
	}
}

// TestEndpointOnTakenDefaultPort: with both endpoints' default addresses
// held by another listener, the daemon starts without them and doctor and
// status say why; the same addresses set in the file stop the start.
func TestEndpointOnTakenDefaultPort(t *testing.T) {
	f := newDoctorFixture(t, "[daemon]\n")
	f.d.log = zap.NewNop()
	f.d.broker = broker.New(clock.NewFake(f.d.started), broker.Policy{})
	t.Cleanup(f.d.broker.Close)
	var held []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0") // stands for another user's daemon
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		held = append(held, ln.Addr().String())
	}
	cfg := *f.d.cfg
	// The defaults, as Load fills them in when the file names neither.
	cfg.Daemon.MetadataListen, cfg.Daemon.IdentityListen = held[0], held[1]
	if cfg.Daemon.MetadataListenSet || cfg.Daemon.IdentityListenSet {
		t.Fatalf("the file names no listen address, yet Load says it does: %+v", cfg.Daemon)
	}
	eps, err := f.d.startEndpoints(&cfg, make(chan error, 2))
	if err != nil {
		t.Fatalf("a taken default port stopped the start: %v", err)
	}
	defer eps.close()
	if eps.meta != nil || eps.ident != nil || f.d.metaAddr != "" || f.d.idAddr != "" {
		t.Fatalf("endpoints on taken ports: %+v %q %q", eps, f.d.metaAddr, f.d.idAddr)
	}
	checks := f.checks(t, "")
	for name, key := range map[string]string{"metadata": "metadata_listen", "identity": "identity_listen"} {
		if c := checks[name]; c.Level != ipc.CheckWarn || !strings.Contains(c.Message, addrInUse.Error()) || !strings.Contains(c.Fix, key) {
			t.Errorf("doctor %s: %+v", name, c)
		}
	}
	if st := f.d.status(t.Context(), ipc.Self()); !strings.Contains(st.MetadataDown, addrInUse.Error()) || !strings.Contains(st.IdentityDown, addrInUse.Error()) {
		t.Errorf("status: %+v", st)
	}

	// The same addresses named in the file: the start fails, naming the setting.
	for _, set := range []struct{ meta, ident bool }{{true, false}, {false, true}} {
		f.d.metaDown, f.d.idDown = "", ""
		cfg.Daemon.MetadataListenSet, cfg.Daemon.IdentityListenSet = set.meta, set.ident
		_, err := f.d.startEndpoints(&cfg, make(chan error, 2))
		key := map[bool]string{true: "metadata_listen", false: "identity_listen"}[set.meta]
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s set in the file and taken: err = %v", key, err)
		}
	}
}
