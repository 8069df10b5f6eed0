//go:build !linux

package daemon

import (
	"runtime"

	"go.uber.org/zap"
)

// disableCoreDumps is a no-op where the OS offers no per-process switch we use.
func disableCoreDumps(*zap.Logger) {}

func platformOpener(url string) (string, []string) {
	switch runtime.GOOS {
	case "darwin":
		return "open", []string{url}
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler", url}
	default:
		return "xdg-open", []string{url}
	}
}
