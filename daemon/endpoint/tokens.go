package endpoint

import (
	"context"
	"net/http"
	"time"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
)

// effectiveMinValid is the least lifetime a token handed out over a
// loopback endpoint has left: the configured min_valid, at least
// MinTokenValidity.
func effectiveMinValid(minValid func() time.Duration) time.Duration {
	if minValid != nil && minValid() > MinTokenValidity {
		return minValid()
	}
	return MinTokenValidity
}

// freshToken asks tokens for a token of profile with at least minValid left
// and checks what comes back: a token that is empty or has less than
// MinTokenValidity left (by now) is an error, never an answer. (The broker
// may serve less than minValid when Entra issues shorter tokens, with a
// warning in the daemon's log.)
func freshToken(ctx context.Context, tokens Tokens, profile string, scopes []string, minValid time.Duration, now func() time.Time) (tokensource.Token, error) {
	tok, err := tokens.Token(ctx, profile, scopes, minValid)
	if err != nil {
		return tokensource.Token{}, err
	}
	if tok.Value.Empty() {
		return tokensource.Token{}, &tokensource.Error{Kind: tokensource.KindFailed, Message: "the identity provider returned an empty token"}
	}
	if tok.ExpiresOn.Sub(now()) < MinTokenValidity {
		return tokensource.Token{}, &tokensource.Error{Kind: tokensource.KindUnavailable, Message: "no token with enough lifetime left is available; try again shortly"}
	}
	return tok, nil
}

// writeToken answers 200 with a token answer as JSON that no cache keeps:
// render appends the object's fields (appendJSONString, appendJSONInt) to
// an empty buffer, without reflection. The pooled buffer is zeroed after
// the write, so no copy of the token stays in the pool.
func writeToken(w http.ResponseWriter, render func(b []byte) []byte) {
	bp := bodyPool.Get().(*[]byte)
	body := append(render((*bp)[:0]), '}')
	setTokenHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // copied into the connection's buffer
	clear(body)
	*bp = body[:0]
	bodyPool.Put(bp)
}
