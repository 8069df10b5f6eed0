package daemon

import (
	"context"
	"errors"
	"io/fs"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/internal/clock"
	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/store"
)

// Check makes, without starting a daemon, the checks a daemon would fail
// at start: the config file loads (file:line:key otherwise), and the store
// it names can be used (the keychain's classified sentence otherwise). It
// never starts a process. configPath "" means the default; storeKind, when
// set, checks that store instead of the configured one (setup picks a
// store with it). `entra-helper doctor` shows these checks when no daemon
// runs, and `entra-helper setup` validates the config it writes with them.
func Check(ctx context.Context, configPath, storeKind string) []ipc.Check {
	if configPath == "" {
		p, err := config.DefaultPath()
		if err != nil {
			return []ipc.Check{{Name: "config", Level: ipc.CheckFail, Message: err.Error(), Fix: "set " + config.EnvConfig}}
		}
		configPath = p
	}
	var checks []ipc.Check
	cfg, err := config.Load(configPath)
	switch {
	case err == nil:
		checks = append(checks, ipc.Check{Name: "config", Level: ipc.CheckOK, Message: configPath + " is valid"})
	case storeKind == "":
		c := ipc.Check{Name: "config", Level: ipc.CheckFail, Message: err.Error()}
		if errors.Is(err, fs.ErrNotExist) {
			c.Action = ipc.ActionSetup
		}
		return append(checks, c)
	default:
		cfg = &config.Config{Path: configPath} // only the store is asked about
	}
	if storeKind == "" {
		storeKind = cfg.Daemon.Store
	}
	stateDir, err := resolveStateDir(cfg.Daemon.StateDir)
	if err != nil {
		return append(checks, ipc.Check{Name: "store", Level: ipc.CheckFail, Message: err.Error()})
	}
	st, _, err := store.Open(storeKind, stateDir, cfg.Daemon.StoreKeyFile, configPath)
	if err != nil {
		return append(checks, ipc.Check{Name: "store", Level: ipc.CheckFail, Message: err.Error(),
			Fix: "see `entra-helper setup --help`, or set store_key_file in [daemon] of " + configPath})
	}
	d := &Daemon{opts: Options{ConfigPath: configPath, Clock: clock.Real{}}, store: st}
	ctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	checks = append(checks, d.checkStore(ctx, cfg)...)
	return checks
}
