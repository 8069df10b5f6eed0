// Package packaging holds the Linux packages' definition (nfpm.yaml), the
// systemd units and launchd plist (rendered by daemon/svc and kept in sync by
// its tests), maintainer scripts, man pages and shell completions. Its test
// builds the .deb and checks what it installs.
package packaging
