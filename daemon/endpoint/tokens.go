package endpoint

import (
	"context"
	"time"

	"github.com/entra-helper/entra-helper/daemon/auth"
)

// freshToken asks tokens for a token of profile with at least minValid left
// and checks what comes back: a token that is empty or has less than
// minValid left (by now) is an error, never an answer.
func freshToken(ctx context.Context, tokens Tokens, profile string, scopes []string, minValid time.Duration, now func() time.Time) (auth.Token, error) {
	tok, err := tokens.Token(ctx, profile, scopes, minValid)
	if err != nil {
		return auth.Token{}, err
	}
	if tok.Value.Empty() {
		return auth.Token{}, &auth.Error{Kind: auth.KindFailed, Message: "the identity provider returned an empty token"}
	}
	if tok.ExpiresOn.Sub(now()) < minValid {
		return auth.Token{}, &auth.Error{Kind: auth.KindUnavailable, Message: "no token with enough lifetime left is available; try again shortly"}
	}
	return tok, nil
}
