//go:build linux || freebsd || openbsd || netbsd || dragonfly

package store

import (
	"context"
	"errors"
	"os"
	"slices"

	"github.com/godbus/dbus/v5"
)

// Secret Service names (freedesktop.org Secret Service API).
const (
	secretsName       = "org.freedesktop.secrets"
	secretsPath       = "/org/freedesktop/secrets"
	secretsService    = "org.freedesktop.Secret.Service"
	secretsCollection = "org.freedesktop.Secret.Collection"
	loginCollection   = "/org/freedesktop/secrets/collection/login"
)

// probe checks, before go-keyring is called, that the Secret Service can be
// used without starting anything: a session bus found the way godbus finds
// it but without its dbus-launch auto-launch, a service that already owns
// org.freedesktop.secrets (asked with NO_AUTO_START, so D-Bus never
// activates gnome-keyring-daemon), and an unlocked default collection
// unless a display is there to show the unlock prompt. go-keyring would
// otherwise run dbus-launch (when DBUS_SESSION_BUS_ADDRESS is unset) and
// the bus would activate a keyring daemon: processes left behind by a probe.
func (goKeyring) probe(ctx context.Context, configPath string) error {
	// SessionBusPrivateNoAutoStartup: $DBUS_SESSION_BUS_ADDRESS, else
	// /run/user/UID/bus (or dbus-session); never dbus-launch.
	conn, err := dbus.SessionBusPrivateNoAutoStartup(dbus.WithContext(ctx))
	if err != nil {
		return unavailable(NoSessionBus, configPath, busDetail(), err)
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return probeErr(ctx, configPath, err)
	}
	if err := conn.Hello(); err != nil {
		return probeErr(ctx, configPath, err)
	}
	var owned bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", dbus.FlagNoAutoStart, secretsName).Store(&owned); err != nil {
		return probeErr(ctx, configPath, err)
	}
	if !owned {
		detail := ""
		var names []string
		if conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", dbus.FlagNoAutoStart).Store(&names) == nil &&
			slices.Contains(names, secretsName) {
			detail = "; one is installed but not running, and entra-helperd does not start it"
		}
		return unavailable(NoSecretService, configPath, detail, nil)
	}
	svc := conn.Object(secretsName, secretsPath)
	// The collection go-keyring uses: "login" when it exists, else the
	// default alias.
	coll := dbus.ObjectPath(loginCollection)
	var colls dbus.Variant
	if err := svc.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", dbus.FlagNoAutoStart, secretsService, "Collections").Store(&colls); err != nil {
		return probeErr(ctx, configPath, err)
	}
	if paths, _ := colls.Value().([]dbus.ObjectPath); !slices.Contains(paths, coll) {
		if err := svc.CallWithContext(ctx, secretsService+".ReadAlias", dbus.FlagNoAutoStart, "default").Store(&coll); err != nil {
			return probeErr(ctx, configPath, err)
		}
	}
	if coll == "/" || coll == "" {
		if hasDisplay() {
			return nil // the service prompts to create one
		}
		return unavailable(KeychainLocked, configPath, " (there is no default keyring)", nil)
	}
	var locked dbus.Variant
	if err := conn.Object(secretsName, coll).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", dbus.FlagNoAutoStart, secretsCollection, "Locked").Store(&locked); err != nil {
		return probeErr(ctx, configPath, err)
	}
	if l, _ := locked.Value().(bool); l && !hasDisplay() {
		return unavailable(KeychainLocked, configPath, "", nil)
	}
	return nil
}

// probeErr classifies an error of the probe's D-Bus calls.
func probeErr(ctx context.Context, configPath string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the caller reports its own timeout
	}
	if u := classifyBackend(err, configPath); u != nil {
		return u
	}
	var de dbus.Error
	if errors.As(err, &de) {
		return unavailable(NoSecretService, configPath, ": "+de.Name, err)
	}
	return unavailable(NoSessionBus, configPath, busDetail(), err)
}

// hasDisplay reports whether a graphical session is there to show the
// Secret Service's unlock prompt.
func hasDisplay() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
