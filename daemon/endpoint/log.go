package endpoint

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// logAnswer records one answer of a loopback endpoint on log as msg, with
// its status, method, peer address, time taken, profile and reason (each
// when not empty) and extra. A token handed out is logged at debug level
// only: the access policy's audit trail records it (aggregated), and a line
// per answer would cost the hot path more than the rest of the answer
// (docs/performance.md); a 5xx is a warning. Callers never pass the path, a
// query, a header or a token.
func logAnswer(log *zap.Logger, msg string, r *http.Request, status int, took time.Duration, profile, reason string, extra ...zap.Field) {
	level := zap.InfoLevel
	switch {
	case status == http.StatusOK:
		level = zap.DebugLevel
	case status >= 500:
		level = zap.WarnLevel
	}
	ce := log.Check(level, msg)
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.Int("status", status),
		zap.String("method", r.Method),
		zap.String("remote", r.RemoteAddr),
		zap.Duration("took", took),
	}
	if profile != "" {
		fields = append(fields, zap.String("profile", profile))
	}
	if reason != "" {
		fields = append(fields, zap.String("reason", reason))
	}
	ce.Write(append(fields, extra...)...)
}
