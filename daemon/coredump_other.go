//go:build !linux

package daemon

import "go.uber.org/zap"

// disableCoreDumps is a no-op where the OS offers no per-process switch we use.
func disableCoreDumps(*zap.Logger) {}
