// Package secret holds values that must never be printed: client secrets,
// refresh tokens, access tokens, passwords. A Secret redacts itself in every
// output path (fmt verbs, JSON, text marshalling, slog, zap's reflection).
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

// Secret is a string that never shows itself. Use Reveal at the one place the
// plain value is needed (an HTTP body, the wire answer to an allowed peer).
// The value sits behind a pointer so that even fmt's reflection paths that
// bypass methods (unexported fields, %p) print an address, not the text.
type Secret struct{ p *string }

// New wraps s.
func New(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{p: &s}
}

// Reveal returns the plain value.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// Empty reports whether no value is held.
func (s Secret) Empty() bool { return s.p == nil }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return `secret.Secret("` + Redacted + `")` }

// Format implements fmt.Formatter so that every verb (%s %v %q %x %d ...) redacts.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
