package endpoint

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"go.uber.org/zap/zapcore"

	"github.com/entra-helper/entra-helper/entra"
)

// The hot path of the loopback endpoints: a token answered from the cache.
// Its body is rendered without reflection, its headers are set without
// allocating, and a workspace header already in normal form is not parsed (docs/performance.md).

// Header values of a token answer, shared by every answer: net/http only
// reads a handler's header values, and nothing here changes them.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
	hdrNoCache = []string{"no-cache"}
	hdrNosniff = []string{"nosniff"}
)

// setTokenHeaders sets the headers of a token answer: JSON, never cached.
func setTokenHeaders(h http.Header) {
	h["Content-Type"] = hdrJSON
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
	h["X-Content-Type-Options"] = hdrNosniff
}

// jsonPlain reports whether s is written by json.Marshal as it is: printable
// ASCII other than '"' and '\\', and other than '<', '>' and '&', which
// json.Marshal escapes.
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// appendKey opens the object (b empty) or adds a comma, then "key":.
func appendKey(b []byte, key string) []byte {
	if len(b) == 0 {
		b = append(b, '{')
	} else {
		b = append(b, ',')
	}
	return append(append(append(b, '"'), key...), '"', ':')
}

// appendJSONString appends ,"key":"v" to b as json.Marshal writes it; the
// first field opens the object. A string json.Marshal would escape is
// encoded by json.Marshal.
func appendJSONString(b []byte, key, v string) []byte {
	b = appendKey(b, key)
	if jsonPlain(v) {
		return append(append(append(b, '"'), v...), '"')
	}
	enc, _ := json.Marshal(v) // a string always encodes
	return append(b, enc...)
}

// appendJSONInt appends ,"key":n to b; the first field opens the object.
func appendJSONInt(b []byte, key string, n int64) []byte {
	return strconv.AppendInt(appendKey(b, key), n, 10)
}

// sameWorkspace reports whether the X-Databricks-Host header got names the
// workspace want (normalised by entra.WorkspaceURL, as config.Load leaves
// databricks_host). A header that is already the normal form, as the SDKs
// send it from a DATABRICKS_HOST written by this program, matches without
// being parsed.
func sameWorkspace(want, got string) bool {
	if want == "" {
		return false
	}
	if got == want {
		return true
	}
	g, ok := entra.WorkspaceURL(got)
	return ok && g == want
}

// bodyPool holds the buffers token answers are rendered into (writeToken).
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// answerLevel is the log level of an endpoint's answer: a token handed out
// (200) is logged at debug level only, since the access policy's audit
// trail records it (aggregated) and a line per answer would cost more than
// the rest of the answer (docs/performance.md); a refusal at info, a
// failure (5xx) at warn.
func answerLevel(status int) zapcore.Level {
	switch {
	case status == http.StatusOK:
		return zapcore.DebugLevel
	case status >= 500:
		return zapcore.WarnLevel
	}
	return zapcore.InfoLevel
}
