package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

const versionUsage = `Usage: entra-helper version

Prints the client's version, and the Go version and platform it was built for.
`

// clientVersion is the link-time version, else the module version or VCS
// revision recorded in the build, else "dev".
func clientVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
	}
	return "dev"
}

func (a *app) cmdVersion(args []string) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			return errHelp
		}
		return usageError(fmt.Sprintf("unexpected argument %q; see `entra-helper version --help`", args[0]))
	}
	_, err := fmt.Fprintf(a.stdout, "entra-helper %s (%s, %s/%s)\n", clientVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
