package svc

import (
	"encoding/xml"
	"fmt"
	"path"
	"strings"

	"github.com/entra-helper/entra-helper/ipc"
)

// Names and paths shared by the service definitions, the packages and the docs.
const (
	// ServiceName is the systemd unit name (without ".service") and the Windows service name.
	ServiceName = "entra-helperd"
	// LaunchdLabel is the launchd job label; the plist is <LaunchdLabel>.plist.
	LaunchdLabel = "com.github.entra-helper.entra-helperd"
	// SystemUser is the dedicated account the system service runs as on Linux.
	SystemUser = "entra-helper"
	// SystemConfigFile is the config file of the Linux system service.
	SystemConfigFile = "/etc/entra-helper/config.toml"
	// SystemStoreKeyFile is the file store key the Linux system service loads as the
	// systemd credential "store.key".
	SystemStoreKeyFile = "/etc/entra-helper/store.key"
	// DarwinSystemConfigFile is the config file of the macOS LaunchDaemon.
	DarwinSystemConfigFile = "/Library/Application Support/entra-helper/config.toml"
)

// systemRuntimeDir is the systemd RuntimeDirectory= that holds the system
// socket: the daemon started with --system listens on ipc.LinuxSystemSocket,
// so the unit never names the socket itself.
var systemRuntimeDir = strings.TrimPrefix(path.Dir(ipc.LinuxSystemSocket), "/run/")

// ExecArgs are the daemon's arguments in a service definition of mode:
// "run", and for a system service "run --system" (which listens on the
// system socket, ipc.SystemSocketPath, that clients dial).
func ExecArgs(mode Mode) []string {
	if mode == System {
		return []string{"run", "--system"}
	}
	return []string{"run"}
}

// Mode says whether the service runs for the invoking user or for the whole system.
type Mode int

const (
	// User is a per-user service: a systemd user unit or a launchd LaunchAgent.
	User Mode = iota
	// System is a system service: a systemd system unit, a launchd LaunchDaemon
	// or a Windows service.
	System
)

// String returns "user" or "system".
func (m Mode) String() string {
	if m == System {
		return "system"
	}
	return "user"
}

// userUnitBody is the [Service] and [Install] part of the systemd user unit
// after ExecStart. User managers cannot apply most sandboxing options, so it
// keeps to what works unprivileged.
const userUnitBody = `ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
UMask=0077
LimitCORE=0
NoNewPrivileges=yes

[Install]
WantedBy=default.target
`

// systemUnitBody is the rest of the systemd system unit after ExecStart.
var systemUnitBody = `ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
User=` + SystemUser + `
Group=` + SystemUser + `
Environment=ENTRA_HELPER_CONFIG=` + SystemConfigFile + `
RuntimeDirectory=` + systemRuntimeDir + `
RuntimeDirectoryMode=0755
StateDirectory=entra-helper
StateDirectoryMode=0700
LoadCredential=store.key:` + SystemStoreKeyFile + `
UMask=0077
LimitCORE=0
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RemoveIPC=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
`

// RenderSystemdUnit returns the systemd unit file for mode, starting execPath
// (an absolute path) with ExecArgs(mode). The user unit is wanted by
// default.target; the system unit runs as the entra-helper user with the
// runtime and state directories, the store key credential and sandboxing.
func RenderSystemdUnit(mode Mode, execPath string) (string, error) {
	exec, err := systemdExecArg(execPath)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("[Unit]\n")
	b.WriteString("Description=entra-helper daemon: keeps Microsoft Entra ID tokens fresh\n")
	b.WriteString("Documentation=man:entra-helperd(8)\n")
	if mode == System {
		b.WriteString("Wants=network-online.target\nAfter=network-online.target\n")
	}
	b.WriteString("\n[Service]\nType=simple\n")
	b.WriteString("ExecStart=" + exec + " " + strings.Join(ExecArgs(mode), " ") + "\n")
	if mode == System {
		b.WriteString(systemUnitBody)
	} else {
		b.WriteString(userUnitBody)
	}
	return b.String(), nil
}

// systemdExecArg quotes an absolute executable path for ExecStart=, escaping
// systemd's specifiers (%) and variable expansion ($).
func systemdExecArg(p string) (string, error) {
	if err := checkExecPath(p); err != nil {
		return "", err
	}
	p = strings.ReplaceAll(p, "%", "%%")
	p = strings.ReplaceAll(p, "$", "$$")
	if !strings.ContainsAny(p, " \t\"'\\;") {
		return p, nil
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(p) + `"`, nil
}

// checkExecPath rejects paths no service definition can hold safely.
func checkExecPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("the daemon's path %q is not absolute", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("the daemon's path %q contains a control character", p)
		}
	}
	// The service library renders definitions through its own template engine:
	// keep its action delimiters out of the literal text we hand it.
	if strings.Contains(p, "{{") {
		return fmt.Errorf("the daemon's path %q contains \"{{\"", p)
	}
	return nil
}

// LaunchdLogFile returns the file the launchd job writes its stdout and stderr
// to: ~/Library/Logs/entra-helper/entra-helperd.log for a LaunchAgent (home is
// the user's home directory), /Library/Logs/entra-helper/entra-helperd.log for
// a LaunchDaemon.
func LaunchdLogFile(mode Mode, home string) string {
	if mode == System {
		return "/Library/Logs/entra-helper/entra-helperd.log"
	}
	return strings.TrimSuffix(home, "/") + "/Library/Logs/entra-helper/entra-helperd.log"
}

// RenderLaunchdPlist returns the launchd property list for mode, running
// execPath with ExecArgs(mode): started at load, restarted when it exits
// with a failure, logging to LaunchdLogFile(mode, home).
func RenderLaunchdPlist(mode Mode, execPath, home string) (string, error) {
	if err := checkExecPath(execPath); err != nil {
		return "", err
	}
	if mode == User && home == "" {
		return "", fmt.Errorf("no home directory for the LaunchAgent's log file")
	}
	log := LaunchdLogFile(mode, home)
	if strings.Contains(log, "{{") {
		return "", fmt.Errorf("the home directory %q contains \"{{\"", home)
	}
	var b strings.Builder
	str := func(key, value string) {
		fmt.Fprintf(&b, "\t<key>%s</key>\n\t<string>%s</string>\n", key, xmlEscape(value))
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
`)
	str("Label", LaunchdLabel)
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	fmt.Fprintf(&b, "\t\t<string>%s</string>\n", xmlEscape(execPath))
	for _, a := range ExecArgs(mode) {
		fmt.Fprintf(&b, "\t\t<string>%s</string>\n", xmlEscape(a))
	}
	b.WriteString("\t</array>\n")
	if mode == System {
		b.WriteString("\t<key>EnvironmentVariables</key>\n\t<dict>\n")
		fmt.Fprintf(&b, "\t\t<key>ENTRA_HELPER_CONFIG</key>\n\t\t<string>%s</string>\n", xmlEscape(DarwinSystemConfigFile))
		b.WriteString("\t</dict>\n")
	}
	b.WriteString(`	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>10</integer>
	<key>ProcessType</key>
	<string>Background</string>
	<key>Umask</key>
	<integer>63</integer>
	<key>SoftResourceLimits</key>
	<dict>
		<key>Core</key>
		<integer>0</integer>
	</dict>
`)
	str("StandardOutPath", log)
	str("StandardErrorPath", log)
	b.WriteString("</dict>\n</plist>\n")
	return b.String(), nil
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}
