package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/ipc"
)

// adoScope is the daemon's default git_scope.
const adoScope = "499b84ac-1321-427f-aa17-267ca6975798/.default"

// fixedNow is the clock of unit tests.
var fixedNow = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeDaemon answers requests in-process, recording them.
type fakeDaemon struct {
	mu      sync.Mutex
	reqs    []ipc.Request
	answer  func(req *ipc.Request, onEvent func(*ipc.Event)) (*ipc.Response, error)
	profile *ipc.ProfileInfo
}

func (f *fakeDaemon) call(ctx context.Context, req *ipc.Request, onEvent func(*ipc.Event)) (*ipc.Response, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, *req)
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(req, onEvent)
	}
	return defaultAnswer(req, f.profile)
}

func (f *fakeDaemon) requests() []ipc.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ipc.Request(nil), f.reqs...)
}

// managementScope is the public cloud's management scope, as the Azure CLI
// asks for it.
const managementScope = "https://management.core.windows.net//.default"

// testToken is the token fake daemons hand out for scopes.
func testToken(profile string, scopes []string) *ipc.Token {
	scope := strings.Join(scopes, " ")
	if scope == "" {
		scope = databricksScope
	}
	return &ipc.Token{
		AccessToken: "tok-" + scope,
		TokenType:   "Bearer",
		ExpiresOn:   fixedNow.Unix() + 3599,
		Profile:     orDefault(profile, "prod"),
		Scope:       scope,
		Tenant:      "a1bc2d34-5e67-8f89-01ab-c2345d6c78de",
	}
}

func testProfile() *ipc.ProfileInfo {
	return &ipc.ProfileInfo{
		Name:                "prod",
		Flow:                "client-secret",
		Tenant:              "a1bc2d34-5e67-8f89-01ab-c2345d6c78de",
		ClientID:            "12a34b56-789c-0d12-e3fa-b456789c0123",
		Scopes:              []string{databricksScope},
		DatabricksHost:      "https://adb-1234567890123456.7.azuredatabricks.net",
		WorkspaceResourceID: "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws",
		MetadataURL:         "http://127.0.0.1:8771/s3cret/prod",
	}
}

// defaultAnswer is a well-behaved daemon: profiles named "needs" need a
// sign-in, "down" has Entra unavailable, "nope" is unknown.
func defaultAnswer(req *ipc.Request, p *ipc.ProfileInfo) (*ipc.Response, error) {
	switch req.Profile {
	case "needs":
		e := &ipc.Error{Code: ipc.CodeNeedsLogin, Message: "profile needs is not signed in."}
		return &ipc.Response{Error: e}, e
	case "down":
		e := &ipc.Error{Code: ipc.CodeUnavailable, Message: "Entra ID is unreachable for profile down and no valid token is cached; try again later."}
		return &ipc.Response{Error: e}, e
	case "nope":
		e := &ipc.Error{Code: ipc.CodeUsage, Message: "there is no profile nope in the config."}
		return &ipc.Response{Error: e}, e
	}
	switch req.Op {
	case ipc.OpToken:
		return &ipc.Response{Token: testToken(req.Profile, req.Scopes)}, nil
	case ipc.OpGitToken:
		return &ipc.Response{Token: testToken(req.Profile, []string{adoScope})}, nil
	case ipc.OpProfile:
		if p == nil {
			p = testProfile()
		}
		return &ipc.Response{Profile: p}, nil
	case ipc.OpLogin:
		return &ipc.Response{Login: &ipc.LoginResult{Account: "app@contoso", Tenant: "t1"}}, nil
	case ipc.OpLogout:
		return &ipc.Response{}, nil
	case ipc.OpVerify:
		return &ipc.Response{Verify: &ipc.VerifyResult{Valid: true, KeyID: "k1", Issuer: "https://sts.windows.net/t/"}}, nil
	case ipc.OpStatus:
		return &ipc.Response{Status: &ipc.Status{Version: "1.0.0", PID: 42, Uptime: 3725, Store: "keyring"}}, nil
	}
	e := &ipc.Error{Code: ipc.CodeUsage, Message: "unknown op"}
	return &ipc.Response{Error: e}, e
}

// testApp is an app on buffers with the fake daemon f.
func testApp(f *fakeDaemon, env map[string]string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &app{
		stdin:       strings.NewReader(""),
		stdout:      &out,
		stderr:      &errb,
		getenv:      func(k string) string { return env[k] },
		now:         func() time.Time { return fixedNow },
		loc:         time.FixedZone("CET", 3600),
		call:        f.call,
		stdinIsTerm: func() bool { return false },
	}
	return a, &out, &errb
}

// runApp runs argv and returns the exit code, stdout and stderr.
func runApp(t *testing.T, a *app, argv ...string) (int, string, string) {
	t.Helper()
	code := a.main(append([]string{"entra-helper"}, argv...))
	return code, a.stdout.(*bytes.Buffer).String(), a.stderr.(*bytes.Buffer).String()
}

// makeJWT builds an unsigned-looking JWT with the given claims.
func makeJWT(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString([]byte("signature"))
}

func secs(n int64) time.Duration { return time.Duration(n) * time.Second }
