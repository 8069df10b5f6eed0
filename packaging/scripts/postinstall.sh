#!/bin/sh
# Post-install script of the entra-helper .deb and .rpm. It creates the
# account and directories of the system service; it never enables or starts a
# service: the administrator runs `entra-helperd service install --system`
# (or users `entra-helperd service install`).
set -e

user=entra-helper

create_user() {
	if getent passwd "$user" >/dev/null 2>&1; then
		return 0
	fi
	if command -v systemd-sysusers >/dev/null 2>&1 && [ -f /usr/lib/sysusers.d/entra-helper.conf ]; then
		systemd-sysusers /usr/lib/sysusers.d/entra-helper.conf && return 0
	fi
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	if command -v useradd >/dev/null 2>&1; then
		useradd --system --user-group --home-dir /var/lib/entra-helper --no-create-home \
			--shell "$nologin" --comment "entra-helper daemon" "$user"
	elif command -v adduser >/dev/null 2>&1; then
		adduser --system --group --home /var/lib/entra-helper --no-create-home \
			--shell "$nologin" "$user"
	else
		echo "entra-helper: cannot create the system user $user (no useradd or adduser)" >&2
		return 1
	fi
}

# deb: "configure"; rpm: 1 (install) or 2 (upgrade).
case "$1" in
configure | 1 | 2 | "")
	create_user
	# Config and store key live here; the service's user may read, not write.
	install -d -m 0750 -o root -g "$user" /etc/entra-helper
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
		# An upgrade restarts a system service the administrator enabled.
		if systemctl is-active --quiet entra-helperd.service 2>/dev/null; then
			systemctl try-restart entra-helperd.service || true
		fi
	fi
	;;
esac
exit 0
