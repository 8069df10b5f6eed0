#!/bin/sh
# Post-remove script of the entra-helper .deb and .rpm. It reloads systemd.
# The entra-helper user, /etc/entra-helper (config, store key) and
# /var/lib/entra-helper (the encrypted store) are kept: they hold the
# administrator's data. On `dpkg --purge` the state is removed too.
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/entra-helper
fi
exit 0
