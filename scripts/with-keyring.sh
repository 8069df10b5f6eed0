#!/usr/bin/env bash
# with-keyring.sh CMD [ARGS...]
#
# Runs CMD inside a private D-Bus session with gnome-keyring-daemon started and
# its default ("login") collection unlocked, so tests can use a real Secret
# Service. Safe for CI: needs no TTY, no X and no stdin, and never touches the
# user's real keyring (HOME, XDG_DATA_HOME, XDG_RUNTIME_DIR and friends point at
# a throwaway directory that is removed afterwards).
#
# Exported to CMD:
#   ENTRA_HELPER_KEYRING=1          a real Secret Service is on the session bus
#   DBUS_SESSION_BUS_ADDRESS        the private session bus
#   HOME, XDG_*                     the throwaway directories
# Exits with CMD's status, or 2 (with a message) if the Secret Service can't
# be started.
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 CMD [ARGS...]" >&2
	exit 2
fi

die() {
	echo "with-keyring: $*" >&2
	exit 2
}

for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found: install the dbus and gnome-keyring packages (apt-get install dbus gnome-keyring)"
done

# Stage 2: we are inside the private session bus.
if [[ "${_WITH_KEYRING_INNER:-}" == 1 ]]; then
	unset _WITH_KEYRING_INNER
	[[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]] || die "dbus-run-session did not set DBUS_SESSION_BUS_ADDRESS"

	# A fixed password: the keyring only lives for this run. The daemon
	# reads it from stdin (no TTY needed) and creates or unlocks the login
	# keyring with it (an empty password leaves no login collection).
	# --daemonize returns once the daemon is up.
	out=$(printf '%s' "entra-helper-test" |
		gnome-keyring-daemon --daemonize --unlock --components=secrets 2>&1) ||
		die "gnome-keyring-daemon failed to start: $out"
	while IFS= read -r line; do
		case "$line" in
		GNOME_KEYRING_CONTROL=*) export "${line?}" ;;
		esac
	done <<<"$out"

	# Wait (bounded) until org.freedesktop.secrets answers on the bus and
	# the default collection is unlocked.
	ready=""
	for _ in $(seq 1 50); do
		if dbus-send --session --print-reply --dest=org.freedesktop.secrets \
			/org/freedesktop/secrets/aliases/default \
			org.freedesktop.DBus.Properties.Get \
			string:org.freedesktop.Secret.Collection string:Locked 2>/dev/null |
			grep -q 'boolean false'; then
			ready=1
			break
		fi
		sleep 0.1
	done
	[[ -n "$ready" ]] || die "the Secret Service did not come up unlocked on the private bus (gnome-keyring-daemon output: $out)"

	export ENTRA_HELPER_KEYRING=1
	set +e
	"$@" </dev/null
	rc=$?
	set -e
	exit "$rc"
fi

# Stage 1: a throwaway home for the keyring files, then a private bus.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/with-keyring.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/cache" "$tmp/runtime"
chmod 0700 "$tmp" "$tmp/runtime"

set +e
env -u DBUS_SESSION_BUS_ADDRESS -u GNOME_KEYRING_CONTROL -u DISPLAY -u WAYLAND_DISPLAY \
	HOME="$tmp/home" \
	XDG_DATA_HOME="$tmp/data" \
	XDG_CONFIG_HOME="$tmp/config" \
	XDG_CACHE_HOME="$tmp/cache" \
	XDG_RUNTIME_DIR="$tmp/runtime" \
	GOCACHE="${GOCACHE:-$(go env GOCACHE 2>/dev/null || echo "$HOME/.cache/go-build")}" \
	GOMODCACHE="${GOMODCACHE:-$(go env GOMODCACHE 2>/dev/null || echo "$HOME/go/pkg/mod")}" \
	GOPATH="${GOPATH:-$(go env GOPATH 2>/dev/null || echo "$HOME/go")}" \
	_WITH_KEYRING_INNER=1 \
	dbus-run-session -- "$0" "$@" </dev/null
rc=$?
set -e
exit "$rc"
