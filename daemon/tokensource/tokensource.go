// Package tokensource defines the seam between the broker and the flows: what a
// token source is, the Token it returns and the classified errors it raises.
// It knows nothing of MSAL.
package tokensource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/entra-helper/entra-helper/internal/secret"
)

// Token is an access token fresh from the identity provider.
type Token struct {
	Value     secret.Secret
	ExpiresOn time.Time
	// RefreshIn is Entra's refresh_in hint (0 when absent): renew after this
	// long from issuance.
	RefreshIn time.Duration
	Scopes    []string
	Tenant    string
}

// Source obtains access tokens for one profile.
type Source interface {
	// Acquire returns a new access token for scopes. It never answers from an
	// access-token cache: the caller owns the access-token lifecycle. It may
	// use a stored refresh token or credential.
	Acquire(ctx context.Context, scopes []string) (Token, error)
}

// Kind classifies a failure so the broker and the client can act on it.
type Kind int

const (
	// KindFailed is any failure not listed below (exit 1): wrong secret,
	// unknown client, store failure, bad certificate.
	KindFailed Kind = iota
	// KindNeedsLogin means only an interactive sign-in can help (exit 3):
	// nothing stored, refresh token expired, revoked or needing consent/MFA.
	KindNeedsLogin
	// KindUnavailable means Entra is unreachable, failing (5xx) or
	// throttling; retrying later may help (exit 5 when no token is cached).
	KindUnavailable
	// KindUsage means the request or the config is wrong (exit 2).
	KindUsage
)

// Error is a classified failure. Message is one sentence of advice for the
// user; it never contains a token or secret.
type Error struct {
	Kind       Kind
	Code       string        // Entra's error (e.g. "invalid_client"), if any
	AADSTS     string        // e.g. "AADSTS7000215", if any
	Message    string        // advice for the user
	RetryAfter time.Duration // from a Retry-After header, if any
	Err        error         // the cause, for logs; must not hold secrets
}

func (e *Error) Error() string {
	if e.AADSTS != "" {
		return fmt.Sprintf("%s (%s)", e.Message, e.AADSTS)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, KindFailed if it is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFailed
}

// Account is who a profile is signed in as.
type Account struct {
	Username string // upn or preferred_username; "" for service principals
	ObjectID string
	Tenant   string
}

// LoginInput is what the user handed to `entra-helper login`.
type LoginInput struct {
	ClientSecret secret.Secret
	Password     secret.Secret
	RefreshToken secret.Secret
	Certificate  secret.Secret // PEM with certificate chain and key
	NoBrowser    bool
}

// Prompt is progress a sign-in reports to the user while it runs.
type Prompt struct {
	Kind    PromptKind
	Message string
	URL     string
}

// PromptKind says what a Prompt carries; the daemon maps it to the wire's
// event kinds.
type PromptKind int

// The kinds of Prompt.
const (
	PromptInfo       PromptKind = iota // Message is progress to show
	PromptDeviceCode                   // Message is Entra's device-code text to show the user
	PromptBrowserURL                   // URL is the sign-in page to open
)

// Profile is a Source that can also sign in and out.
type Profile interface {
	Source
	// Login signs the profile in and stores what it must keep. notify is
	// called with prompts (device code text, browser URL) as they arrive.
	Login(ctx context.Context, in LoginInput, notify func(Prompt)) (Account, error)
	// Logout deletes everything the profile stored.
	Logout(ctx context.Context) error
	// Account returns the signed-in account, if any is known.
	Account(ctx context.Context) (Account, bool)
}
