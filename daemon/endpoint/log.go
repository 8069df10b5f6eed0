package endpoint

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// logAnswer records one answer of a loopback endpoint on log as msg, with
// its status, method, peer address, time taken, profile and reason (each
// when not empty) and extra, at answerLevel. Callers never pass the path, a
// query, a header or a token.
func logAnswer(log *zap.Logger, msg string, r *http.Request, status int, took time.Duration, profile, reason string, extra ...zap.Field) {
	ce := log.Check(answerLevel(status), msg)
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
