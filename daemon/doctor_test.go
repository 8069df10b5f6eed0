package daemon

import (
	"context"
	"errors"
	"fmt"
	"github.com/entra-helper/entra-helper/daemon/access"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/internal/private"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

// namedStore is a memory store that reports another backend's name.
type namedStore struct {
	*store.Memory
	name string
}

func (s namedStore) Name() string { return s.name }

// doctorFixture is a daemon with just what doctor looks at: a config file,
// a store, an HTTP client and a clock, and a fake authority whose Date
// header is the fake clock plus skew.
type doctorFixture struct {
	d       *Daemon
	cfgPath string
	mem     *store.Memory
	skew    time.Duration
}

func newDoctorFixture(t *testing.T, daemonTable string) *doctorFixture {
	t.Helper()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f := &doctorFixture{mem: store.NewMemory()}
	clk := clock.NewFake(now)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", clk.Now().Add(-f.skew).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	f.cfgPath = filepath.Join(dir, "config.toml")
	text := daemonTable + `
[profiles.prod]
flow = "client-secret"
tenant = "a1bc2d34-5e67-8f89-01ab-c2345d6c78de"
client_id = "12a34b56-789c-0d12-e3fa-b456789c0123"
authority_host = "` + srv.URL + `"

[profiles.mi]
flow = "managed-identity"
`
	if err := os.WriteFile(f.cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := access.New(access.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.d = &Daemon{
		opts:   Options{ConfigPath: f.cfgPath, Clock: clk},
		cfg:    cfg,
		store:  f.mem,
		http:   srv.Client(),
		access: pol,
	}
	return f
}

// checks runs doctor and returns its checks by name (several of a name are
// joined).
func (f *doctorFixture) checks(t *testing.T, profile string) map[string]ipc.Check {
	t.Helper()
	resp, err := f.d.doctor(context.Background(), ipc.Self(), profile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ipc.Check{}
	for _, c := range resp.Checks {
		if c.Level != ipc.CheckOK && c.Level != ipc.CheckWarn && c.Level != ipc.CheckFail {
			t.Errorf("check %+v has an unknown level", c)
		}
		if _, dup := out[c.Name]; dup {
			t.Errorf("two %q checks", c.Name)
		}
		out[c.Name] = c
	}
	return out
}

func TestDoctorChecks(t *testing.T) {
	tests := []struct {
		name   string
		daemon string                               // the [daemon] table
		setup  func(t *testing.T, f *doctorFixture) // after the daemon "loaded" its config
		want   map[string]string                    // check name -> level, then "|" and a text in its message
	}{
		{
			name:   "all well",
			daemon: "[daemon]\nmetadata_listen = \"\"\n",
			want: map[string]string{
				"config": "ok|is valid (2 profiles)", "store": "ok|answers", "clock": "ok|within 1s of https://127.0.0.1",
				"metadata": "ok|off",
			},
		},
		{
			name:   "config broken on disk",
			daemon: "[daemon]\nmetadata_listen = \"\"\n",
			setup: func(t *testing.T, f *doctorFixture) {
				os.WriteFile(f.cfgPath, []byte("[daemon]\nbogus = 1\n"), 0o600)
			},
			want: map[string]string{"config": "fail|bogus"},
		},
		{
			name:   "config changed on disk",
			daemon: "[daemon]\nmetadata_listen = \"\"\n",
			setup: func(t *testing.T, f *doctorFixture) {
				b, _ := os.ReadFile(f.cfgPath)
				os.WriteFile(f.cfgPath, append(b, "username = \"me@contoso.com\"\n"...), 0o600)
			},
			want: map[string]string{"config": "warn|changed since"},
		},
		{
			name:   "store fails",
			daemon: "[daemon]\nmetadata_listen = \"\"\n",
			setup: func(t *testing.T, f *doctorFixture) {
				f.mem.FailWith(func(op, key string) error { return errors.New("the collection is locked") })
			},
			want: map[string]string{"store": "fail|the collection is locked"},
		},
		{
			name:   "clock ahead",
			daemon: "[daemon]\nmetadata_listen = \"\"\n",
			setup:  func(t *testing.T, f *doctorFixture) { f.skew = 7 * time.Minute },
			want:   map[string]string{"clock": "warn|7m0s ahead of"},
		},
		{
			name:   "clock behind, within bounds",
			daemon: "[daemon]\nmetadata_listen = \"\"\n",
			setup:  func(t *testing.T, f *doctorFixture) { f.skew = -2 * time.Minute },
			want:   map[string]string{"clock": "ok|within 2m0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDoctorFixture(t, tt.daemon)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			got := f.checks(t, "")
			for name, want := range tt.want {
				level, text, _ := strings.Cut(want, "|")
				c, ok := got[name]
				if !ok {
					t.Fatalf("no %q check in %+v", name, got)
				}
				if c.Level != level || !strings.Contains(c.Message, text) {
					t.Errorf("%s: %+v, want level %s with %q", name, c, level, text)
				}
				if c.Level != ipc.CheckOK && c.Fix == "" && name != "clock" {
					t.Errorf("%s: %+v says nothing about a fix", name, c)
				}
			}
		})
	}
}

func TestDoctorFileStoreKey(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mode  os.FileMode
		exist bool
		want  string
	}{
		{"private key file", 0o600, true, "ok|readable by its owner only"},
		{"readable by others", 0o644, true, "fail|chmod 600"},
		{"missing", 0o600, false, "fail|is gone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("mode bits mean nothing on Windows; internal/private tests the DACL check")
			}
			dir := t.TempDir()
			key := filepath.Join(dir, "store.key")
			if tt.exist {
				if err := private.WriteNew(key, make([]byte, 32)); err != nil {
					t.Fatal(err)
				}
				os.Chmod(key, tt.mode)
			}
			f := newDoctorFixture(t, fmt.Sprintf("[daemon]\nmetadata_listen = \"\"\nstore = \"file\"\nstate_dir = %q\nstore_key_file = %q\n", dir, key))
			f.d.store = namedStore{f.mem, "file"}
			c := f.checks(t, "")["store key"]
			level, text, _ := strings.Cut(tt.want, "|")
			if c.Level != level || !strings.Contains(c.Message+" "+c.Fix, text) {
				t.Fatalf("%+v, want %s with %q", c, level, text)
			}
		})
	}
}

func TestDoctorClockOfOneProfile(t *testing.T) {
	f := newDoctorFixture(t, "[daemon]\nmetadata_listen = \"\"\n")
	// Managed identity has no authority to ask: no clock check.
	if _, ok := f.checks(t, "mi")["clock"]; ok {
		t.Fatal("a clock check for a managed-identity profile")
	}
	if c := f.checks(t, "prod")["clock"]; c.Level != ipc.CheckOK {
		t.Fatalf("prod: %+v", c)
	}
}

// TestDoctorIdentityEndpoint: doctor says where the managed-identity
// endpoint listens, that it is off, or why it could not listen.
func TestDoctorIdentityEndpoint(t *testing.T) {
	f := newDoctorFixture(t, "[daemon]\nmetadata_listen = \"\"\n")
	if c := f.checks(t, "")["identity"]; c.Level != ipc.CheckOK || !strings.Contains(c.Message, "off") {
		t.Errorf("off: %+v", c)
	}
	f.d.idAddr = "127.0.0.1:8772"
	if c := f.checks(t, "")["identity"]; c.Level != ipc.CheckOK || !strings.Contains(c.Message, "listens on 127.0.0.1:8772") {
		t.Errorf("on: %+v", c)
	}
	f.d.idAddr, f.d.idDown = "", "listen tcp 127.0.0.1:8772: bind: address already in use"
	if c := f.checks(t, "")["identity"]; c.Level != ipc.CheckWarn || !strings.Contains(c.Message, "address already in use") || !strings.Contains(c.Fix, "identity_listen") {
		t.Errorf("port taken: %+v", c)
	}
}
