package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
)

func TestWriteErrorIsJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	writeError(rec, http.StatusForbidden, CodeAccessDenied, `entra-helper: profile "sp" serves "x"`)
	if rec.Code != 403 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if len(got) != 2 || got["error"] != CodeAccessDenied || got["error_description"] != `entra-helper: profile "sp" serves "x"` {
		t.Fatalf("body %v", got)
	}
}

// TestFailureNamesProfileOnce: sources already name the profile in their
// advice; the endpoint adds it only when the message does not.
func TestFailureNamesProfileOnce(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		status int
		code   string
		desc   string
		retry  time.Duration
	}{
		{"source names it", context.Background(),
			&tokensource.Error{Kind: tokensource.KindNeedsLogin, Message: "profile sp is not signed in: run `entra-helper login -p sp --secret-stdin`"},
			401, CodeLoginRequired, "entra-helper: profile sp is not signed in: run `entra-helper login -p sp --secret-stdin`", 0},
		{"broker names it quoted", context.Background(),
			&tokensource.Error{Kind: tokensource.KindFailed, Message: `profile "sp": Entra ID answered 400`},
			500, CodeServerError, `entra-helper: profile "sp": Entra ID answered 400`, 0},
		{"nobody names it", context.Background(),
			&tokensource.Error{Kind: tokensource.KindUnavailable, Message: "Entra ID is unreachable", RetryAfter: 3 * time.Second},
			503, CodeUnavailable, `entra-helper: profile "sp": Entra ID is unreachable`, 3 * time.Second},
		{"needs login without advice", context.Background(),
			&tokensource.Error{Kind: tokensource.KindNeedsLogin, Message: "the refresh token was revoked"},
			401, CodeLoginRequired, `entra-helper: profile "sp": the refresh token was revoked; run: entra-helper login -p sp`, 0},
		{"unclassified", context.Background(), errors.New("boom"),
			500, CodeServerError, `entra-helper: profile "sp": cannot get a token; see the daemon's log (entra-helper status)`, 0},
		{"canceled", canceled, &tokensource.Error{Kind: tokensource.KindUnavailable, Message: "x", RetryAfter: time.Second},
			503, CodeUnavailable, `entra-helper: profile "sp": the request was canceled`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := failureOf(tc.ctx, tc.err, "sp")
			if f.Status != tc.status || f.Code != tc.code || f.Description != tc.desc || f.RetryAfter != tc.retry {
				t.Fatalf("got %+v\nwant %d %s %q %s", f, tc.status, tc.code, tc.desc, tc.retry)
			}
		})
	}
}
