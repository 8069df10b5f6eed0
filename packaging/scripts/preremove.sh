#!/bin/sh
# Pre-remove script of the entra-helper .deb and .rpm: on removal (not on
# upgrade) it stops and disables the system service. Per-user services belong
# to their users: they are told in entra-helperd(8) to run
# `entra-helperd service uninstall` first.
set -e

# deb: "remove" (upgrade is "upgrade"); rpm: 0 (erase) or 1 (upgrade).
case "$1" in
remove | 0)
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now entra-helperd.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
