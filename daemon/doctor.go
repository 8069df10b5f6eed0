package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/internal/private"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

// doctorProbeKey is a store key never written: reading it proves the store
// answers without touching any secret.
const doctorProbeKey = "daemon/doctor-probe"

// maxClockSkew is the clock difference with Entra ID beyond which doctor
// warns: tokens are issued and judged by Entra's clock, renewals by ours.
const maxClockSkew = 5 * time.Minute

// doctorTimeout bounds each network or store probe of doctor.
const doctorTimeout = 5 * time.Second

// doctor answers OpDoctor: the checks only the daemon can make (the config
// file as it is on disk now, the store it uses, its clock against each
// authority host it talks to). profile, when set, narrows the clock check
// to that profile's authority. Another user of a system daemon gets only
// the checks of the profiles it may use: the config and store are the
// administrator's.
func (d *Daemon) doctor(ctx context.Context, peer ipc.Peer, profile string) (*ipc.Response, error) {
	d.mu.RLock()
	cfg := d.cfg
	d.mu.RUnlock()
	var checks []ipc.Check
	if peer.IsSelfOrAdmin() {
		checks = append(checks, d.checkConfig(cfg))
		checks = append(checks, d.checkStore(ctx, cfg)...)
	}
	checks = append(checks, d.checkMetadata(), d.checkIdentity())
	checks = append(checks, d.checkClocks(ctx, cfg, peer, profile)...)
	return &ipc.Response{Checks: checks}, nil
}

// checkConfig loads the config file again, as a SIGHUP would.
func (d *Daemon) checkConfig(running *config.Config) ipc.Check {
	c := ipc.Check{Name: "config"}
	onDisk, err := config.Load(d.opts.ConfigPath)
	switch {
	case err != nil:
		c.Level = ipc.CheckFail
		c.Message = fmt.Sprintf("the config file does not load: %v (the daemon keeps running on the config it loaded before)", err)
		c.Fix = fmt.Sprintf("correct the file, then reload with `kill -HUP %d`; a restart would fail until then", os.Getpid())
	case !reflect.DeepEqual(onDisk, running):
		c.Level = ipc.CheckWarn
		c.Message = fmt.Sprintf("%s is valid but changed since the daemon loaded it", d.opts.ConfigPath)
		c.Fix = fmt.Sprintf("reload it with `kill -HUP %d`", os.Getpid())
	default:
		c.Level = ipc.CheckOK
		n := fmt.Sprintf("%d profiles", len(onDisk.Profiles))
		if len(onDisk.Profiles) == 1 {
			n = "1 profile"
		}
		c.Message = fmt.Sprintf("%s is valid (%s)", d.opts.ConfigPath, n)
	}
	return c
}

// checkStore reads a key that does not exist: the store must answer "not
// found". For the file store it also checks the key file and directory.
func (d *Daemon) checkStore(ctx context.Context, cfg *config.Config) []ipc.Check {
	name := d.store.Name()
	c := ipc.Check{Name: "store"}
	pctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	_, err := d.store.Get(pctx, doctorProbeKey)
	cancel()
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	secretService := name == "keyring" && runtime.GOOS != "darwin" && runtime.GOOS != "windows"
	if err == nil || errors.Is(err, store.ErrNotFound) {
		c.Level = ipc.CheckOK
		c.Message = name + ": answers"
		if secretService {
			c.Message = "keyring: the Secret Service answers on the daemon's session bus"
		}
	} else if u, ok := store.AsUnavailable(err); ok {
		// The same sentence the daemon logs and the client prints.
		c.Level, c.Message, c.Fix, c.Action = ipc.CheckFail, u.Problem, u.Fix, ipc.ActionFileStore
	} else {
		c.Level = ipc.CheckFail
		c.Message = fmt.Sprintf("%s: %v", name, err)
		switch {
		case secretService && bus == "":
			c.Message += " (the daemon has no DBUS_SESSION_BUS_ADDRESS)"
			c.Fix = `run the daemon inside your login session (entra-helperd service install --user), or set store = "file" on a machine without a desktop`
		case secretService:
			c.Fix = `start and unlock a Secret Service on the session bus (gnome-keyring, KeePassXC), or set store = "file" on a machine without a desktop`
		case name == "keyring":
			c.Fix = "unlock the keychain of the user the daemon runs as"
		default:
			c.Fix = "see the daemon's log; restore the store key file the store was written with"
		}
	}
	checks := []ipc.Check{c}
	if name == "file" {
		checks = append(checks, checkStoreFiles(cfg)...)
	}
	return checks
}

// checkStoreFiles checks the file store's key file (present, a regular file,
// 0600) and its directory (0700).
func checkStoreFiles(cfg *config.Config) []ipc.Check {
	key := ipc.Check{Name: "store key"}
	path := cfg.Daemon.StoreKeyFile
	if path == "" {
		path = store.DefaultStoreKeyFile()
	}
	switch fi, err := os.Stat(path); {
	case path == "":
		key.Level, key.Message = ipc.CheckFail, "no store key file: store_key_file is unset and there is no $CREDENTIALS_DIRECTORY"
		key.Fix = "set store_key_file in [daemon], or run under systemd with LoadCredential=store.key:/path/to/key"
	case errors.Is(err, fs.ErrNotExist):
		key.Level, key.Message = ipc.CheckFail, fmt.Sprintf("the store key file %s is gone (the daemon read it at start; a restart will fail)", path)
		key.Fix = "restore the key file the store was written with (without it, stored secrets are lost: sign in again)"
	case err != nil:
		key.Level, key.Message, key.Fix = ipc.CheckFail, fmt.Sprintf("cannot check the store key file: %v", err), "make it readable by the daemon's user"
	case !fi.Mode().IsRegular():
		key.Level, key.Message, key.Fix = ipc.CheckFail, fmt.Sprintf("the store key file %s is not a regular file", path), "point store_key_file at the key file itself"
	default:
		key.Level, key.Message, key.Fix = privateCheck("the store key file", path)
		if key.Level == ipc.CheckOK {
			key.Message = path + " is present, readable by its owner only"
		}
	}
	checks := []ipc.Check{key}
	if stateDir, err := resolveStateDir(cfg.Daemon.StateDir); err == nil {
		dir := filepath.Join(stateDir, "store")
		if _, err := os.Stat(dir); err == nil {
			if level, msg, fix := privateCheck("the store directory", dir); level != ipc.CheckOK {
				checks = append(checks, ipc.Check{Name: "store dir", Level: level, Message: msg, Fix: fix})
			}
		}
	}
	return checks
}

// privateCheck checks that only its owner may open path (mode bits on
// Unix, owner and DACL on Windows), naming it what in the message.
func privateCheck(what, path string) (level, msg, fix string) {
	var np *private.NotPrivateError
	switch err := private.Check(path); {
	case errors.As(err, &np):
		return ipc.CheckFail, what + " " + np.Path + " " + np.Problem, strings.TrimPrefix(np.Fix, "run ")
	case err != nil:
		return ipc.CheckFail, fmt.Sprintf("cannot check who may open %s %s: %v", what, path, err), "make it readable by the daemon's user"
	}
	return ipc.CheckOK, "", ""
}

func (d *Daemon) checkMetadata() ipc.Check {
	return endpointCheck("metadata", "the Databricks metadata endpoint", "metadata_listen", "127.0.0.1:8781", d.metaAddr, d.metaDown)
}

func (d *Daemon) checkIdentity() ipc.Check {
	return endpointCheck("identity", "the managed-identity endpoint (Azure SDKs, Terraform)", "identity_listen", "127.0.0.1:8782", d.idAddr, d.idDown)
}

// endpointCheck says where the loopback endpoint what (set by key) listens,
// that it is off, or why it could not listen on its default address and
// which setting (e.g. example) fixes that.
func endpointCheck(name, what, key, example, addr, down string) ipc.Check {
	switch {
	case down != "":
		return ipc.Check{Name: name, Level: ipc.CheckWarn, Message: what + " is off: " + down,
			Fix: "set " + key + " in [daemon] to a free loopback port (e.g. \"" + example + "\") and restart entra-helperd"}
	case addr == "":
		return ipc.Check{Name: name, Level: ipc.CheckOK, Message: what + " is off (" + key + ` = "")`}
	}
	return ipc.Check{Name: name, Level: ipc.CheckOK, Message: what + " listens on " + addr}
}

// checkClocks compares the daemon's clock with the Date header of each
// authority host the profiles (or the named profile) sign in at.
func (d *Daemon) checkClocks(ctx context.Context, cfg *config.Config, peer ipc.Peer, profile string) []ipc.Check {
	hosts := map[string]bool{}
	for name, p := range cfg.Profiles {
		if profile != "" && name != profile || p.Flow == config.FlowManagedIdentity || !d.access.Allows(peer, name) {
			continue
		}
		hosts[p.AuthorityBaseURL()] = true
	}
	var checks []ipc.Check
	for _, h := range slices.Sorted(maps.Keys(hosts)) {
		checks = append(checks, d.checkClock(ctx, h))
	}
	return checks
}

func (d *Daemon) checkClock(ctx context.Context, authority string) ipc.Check {
	c := ipc.Check{Name: "clock"}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, authority, nil)
	if err != nil {
		c.Level, c.Message = ipc.CheckWarn, fmt.Sprintf("cannot check the clock against %s: %v", authority, err)
		return c
	}
	via := ""
	if tr, ok := d.http.Transport.(*http.Transport); ok && tr.Proxy != nil {
		if u, err := tr.Proxy(req); err == nil && u != nil {
			via = " (through the proxy " + u.Redacted() + ")"
		}
	}
	hc := *d.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := d.opts.Clock.Now()
	resp, err := hc.Do(req)
	if err != nil {
		c.Level = ipc.CheckWarn
		c.Message = fmt.Sprintf("cannot reach %s%s to compare clocks: %v", authority, via, err)
		c.Fix = "check the network and the daemon's HTTPS_PROXY, NO_PROXY and SSL_CERT_FILE"
		return c
	}
	resp.Body.Close()
	end := d.opts.Clock.Now()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		c.Level, c.Message = ipc.CheckWarn, fmt.Sprintf("%s%s answered without a usable Date header: cannot compare clocks", authority, via)
		return c
	}
	// Date has whole seconds: compare with the middle of the exchange.
	skew := start.Add(end.Sub(start) / 2).Sub(date).Round(time.Second)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	if abs > maxClockSkew {
		c.Level = ipc.CheckWarn
		c.Message = fmt.Sprintf("this machine's clock is %s %s %s%s", abs, dir, authority, via)
		c.Fix = "turn on time synchronisation (e.g. timedatectl set-ntp true): tokens would look expired or not yet valid"
		return c
	}
	c.Level = ipc.CheckOK
	c.Message = fmt.Sprintf("within %s of %s%s", max(abs, time.Second), authority, via)
	return c
}
