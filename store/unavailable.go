package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Reason says why the OS keychain cannot be used.
type Reason int

// Reasons a keychain is unavailable, each with its own sentence and fix.
const (
	// NoSessionBus: there is no D-Bus session bus to find a Secret Service
	// on (an SSH session, a service without a desktop).
	NoSessionBus Reason = iota + 1
	// NoSecretService: the session bus is there, but nothing owns
	// org.freedesktop.secrets (no gnome-keyring or KeePassXC running).
	NoSecretService
	// KeychainLocked: the keychain (or its default collection) is locked
	// or missing, and unlocking it needs a prompt this session cannot show.
	KeychainLocked
	// KeychainTimeout: the keychain did not answer in time.
	KeychainTimeout
	// ItemTooLarge: the keychain refused an item as too large.
	ItemTooLarge
	// AccessDenied: the keychain refused access (macOS keychain ACL, the
	// Windows Credential Manager, a D-Bus policy).
	AccessDenied
)

func (r Reason) String() string {
	switch r {
	case NoSessionBus:
		return "no-session-bus"
	case NoSecretService:
		return "no-secret-service"
	case KeychainLocked:
		return "locked"
	case KeychainTimeout:
		return "timeout"
	case ItemTooLarge:
		return "too-large"
	case AccessDenied:
		return "access-denied"
	}
	return "unknown"
}

// UnavailableError is a keychain failure classified by Reason: Problem says
// what happened and Fix the exact next step. Its Error() is the one sentence
// the daemon logs, the client prints and doctor shows. It never holds a
// secret.
type UnavailableError struct {
	Reason  Reason
	Problem string
	Fix     string
	Err     error // the library's error, for errors.Is/As; not shown
}

func (e *UnavailableError) Error() string { return e.Problem + "; " + e.Fix }

// Unwrap returns the underlying error (context.DeadlineExceeded for a
// timeout).
func (e *UnavailableError) Unwrap() error { return e.Err }

// Lasting reports whether the failure concerns the whole keychain (no bus,
// no service, locked, timed out), so that it is worth remembering, rather
// than one item.
func (e *UnavailableError) Lasting() bool {
	switch e.Reason {
	case NoSessionBus, NoSecretService, KeychainLocked, KeychainTimeout:
		return true
	}
	return false
}

// AsUnavailable returns the *UnavailableError in err's chain, if any.
func AsUnavailable(err error) (*UnavailableError, bool) {
	var u *UnavailableError
	ok := errors.As(err, &u)
	return u, ok
}

// fileStoreFix is the switch to the file store, naming the config file to
// edit and the commands that create a key.
func fileStoreFix(configPath string) string {
	cfg, key := configPath, "KEYFILE"
	if cfg == "" {
		cfg = "the config file"
	} else {
		key = filepath.Join(filepath.Dir(cfg), StoreKeyFileName)
	}
	if runtime.GOOS == "windows" {
		return fmt.Sprintf("switch to the encrypted file store with `entra-helper setup --store file` (it writes a fresh key file only you can read and sets store = \"file\" and store_key_file in [daemon] of %s)", cfg)
	}
	return fmt.Sprintf("switch to the encrypted file store with `entra-helper setup --store file` "+
		"(it writes a fresh 0600 key file and sets store = \"file\" and store_key_file in [daemon] of %s; by hand: "+
		"`(umask 077; head -c 32 /dev/urandom > %s)`, then set both keys there; for a system service, "+
		"`systemd-creds encrypt` the key and load it with LoadCredentialEncrypted=store.key, see \"File store key\" in docs/install.md)", cfg, key)
}

// unavailable builds the classified error of reason for the keychain, with
// configPath named in the fix. detail adds to the problem (may be "").
func unavailable(reason Reason, configPath, detail string, err error) *UnavailableError {
	e := &UnavailableError{Reason: reason, Err: err}
	file := fileStoreFix(configPath)
	switch reason {
	case NoSessionBus:
		e.Problem = "keyring: there is no D-Bus session bus to find a Secret Service on (" + detail + "), as in an SSH session or a service outside a desktop session"
		e.Fix = file + ", or run entra-helperd inside a desktop session where gnome-keyring or KeePassXC runs"
	case NoSecretService:
		e.Problem = "keyring: no Secret Service runs on the D-Bus session bus (nothing owns org.freedesktop.secrets" + detail + ")"
		e.Fix = "start one in this session (`gnome-keyring-daemon --start --components=secrets`, or KeePassXC with its Secret Service integration on), or " + file
	case KeychainLocked:
		e.Problem, e.Fix = lockedText(detail, file)
	case KeychainTimeout:
		e.Problem = "keyring: " + keychainName() + " did not answer in " + detail
		e.Fix = timeoutFix(file)
	case ItemTooLarge:
		e.Problem = "keyring: " + keychainName() + " refused an item as too large" + detail
		e.Fix = file
	case AccessDenied:
		e.Problem = "keyring: " + keychainName() + " denied access" + detail
		e.Fix = deniedFix(file)
	}
	return e
}

func lockedText(detail, file string) (problem, fix string) {
	switch runtime.GOOS {
	case "darwin":
		return "keyring: the macOS login keychain is locked and this session cannot show the prompt that unlocks it" + detail,
			"unlock it with `security unlock-keychain ~/Library/Keychains/login.keychain-db` (or log in at the Mac), or " + file
	case "windows":
		return "keyring: the Windows Credential Manager is not available in this logon session" + detail,
			"run entra-helperd as a logged-on user (not a service account without a profile), or " + file
	}
	return "keyring: the Secret Service's default keyring is locked or missing, and unlocking or creating it needs a password prompt that this session cannot show" + detail,
		"unlock it in your desktop session (log in graphically, or open \"Passwords and Keys\" and unlock the Login keyring), or " + file
}

func timeoutFix(file string) string {
	switch runtime.GOOS {
	case "darwin":
		return "check that the login keychain is unlocked (`security unlock-keychain`), or " + file
	case "windows":
		return "check that the Credential Manager service (VaultSvc) runs, or " + file
	}
	return "restart the Secret Service (`gnome-keyring-daemon --replace --components=secrets`, or restart KeePassXC) and unlock it, or " + file
}

func deniedFix(file string) string {
	switch runtime.GOOS {
	case "darwin":
		return "allow entra-helperd in Keychain Access (the items of service \"entra-helper\", Access Control tab) or delete those items so that they are created again, or " + file
	case "windows":
		return "run entra-helperd as the user who stored the credentials (Credential Manager items belong to one user), or " + file
	}
	return "check the D-Bus and Secret Service policy of this user, or " + file
}

// classifyBackend turns an error of go-keyring (or godbus under it) into an
// *UnavailableError when it is one of the known keychain failures; else nil.
func classifyBackend(err error, configPath string) *UnavailableError {
	msg := err.Error()
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(msg, "failed to unlock correct collection"),
		strings.Contains(msg, "org.freedesktop.Secret.Error.IsLocked"),
		strings.Contains(lower, "interaction is not allowed"),
		runtime.GOOS == "darwin" && strings.Contains(msg, "exit status 36"),
		strings.Contains(lower, "logon session does not exist"):
		return unavailable(KeychainLocked, configPath, "", err)
	case strings.Contains(msg, "org.freedesktop.DBus.Error.ServiceUnknown"),
		strings.Contains(msg, "org.freedesktop.DBus.Error.NameHasNoOwner"):
		return unavailable(NoSecretService, configPath, "", err)
	case strings.Contains(msg, "couldn't determine address of session bus"),
		strings.Contains(msg, "DBUS_SESSION_BUS_ADDRESS"):
		return unavailable(NoSessionBus, configPath, "DBUS_SESSION_BUS_ADDRESS is unset", err)
	case strings.Contains(msg, "org.freedesktop.DBus.Error.AccessDenied"),
		strings.Contains(lower, "access is denied"),
		runtime.GOOS == "darwin" && (strings.Contains(msg, "exit status 51") || strings.Contains(msg, "exit status 128")):
		return unavailable(AccessDenied, configPath, "", err)
	}
	return nil
}

// timeoutUnavailable is the error of a keychain call that did not finish
// within timeout; stuck says an earlier call is still waiting.
func timeoutUnavailable(timeout time.Duration, stuck bool, configPath string) *UnavailableError {
	d := timeout.String()
	if stuck {
		d += " (an earlier request is still waiting for it)"
	}
	return unavailable(KeychainTimeout, configPath, d, context.DeadlineExceeded)
}

// busDetail says why no session bus was found.
func busDetail() string {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return "DBUS_SESSION_BUS_ADDRESS is set but nothing answers there"
	}
	return fmt.Sprintf("DBUS_SESSION_BUS_ADDRESS is unset and /run/user/%d/bus does not exist", os.Getuid())
}
