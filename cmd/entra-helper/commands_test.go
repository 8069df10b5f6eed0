package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/ipc"
)

func TestLoginSecrets(t *testing.T) {
	const secret = "Zx8Q~very-secret-value"
	tests := []struct {
		name  string
		flag  string
		stdin string
		get   func(l *ipc.LoginRequest) string
		want  string
	}{
		{"client secret", "--secret-stdin", secret + "\n", func(l *ipc.LoginRequest) string { return l.ClientSecret }, secret},
		{"client secret CRLF", "--secret-stdin", secret + "\r\n", func(l *ipc.LoginRequest) string { return l.ClientSecret }, secret},
		{"password keeps spaces", "--password-stdin", " pass word \n", func(l *ipc.LoginRequest) string { return l.Password }, " pass word "},
		{"refresh token", "--refresh-token-stdin", "1.AXoA" + secret, func(l *ipc.LoginRequest) string { return l.RefreshToken }, "1.AXoA" + secret},
		{"certificate", "--certificate-stdin", "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n", func(l *ipc.LoginRequest) string { return l.Certificate }, "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDaemon{}
			a, _, _ := testApp(f, nil)
			a.stdin = strings.NewReader(tt.stdin)
			code, out, errOut := runApp(t, a, "login", "-p", "sp", tt.flag)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			reqs := f.requests()
			if len(reqs) != 1 || reqs[0].Op != ipc.OpLogin || reqs[0].Profile != "sp" || reqs[0].Login == nil {
				t.Fatalf("requests %+v", reqs)
			}
			if got := tt.get(reqs[0].Login); got != tt.want {
				t.Errorf("sent %q, want %q", got, tt.want)
			}
			if strings.Contains(out+errOut, strings.TrimSpace(tt.want)) {
				t.Errorf("the secret was printed: %q %q", out, errOut)
			}
			if !strings.Contains(out, "Signed in sp as app@contoso") {
				t.Errorf("stdout %q", out)
			}
		})
	}
}

func TestLoginStdinProblems(t *testing.T) {
	for _, tt := range []struct{ flag, stdin, want string }{
		{"--secret-stdin", "", "empty"},
		{"--secret-stdin", "\n", "empty"},
		{"--secret-stdin", "a\nb\n", "more than one line"},
		{"--password-stdin", strings.Repeat("x", maxSecret+1), "larger"},
	} {
		f := &fakeDaemon{}
		a, _, _ := testApp(f, nil)
		a.stdin = strings.NewReader(tt.stdin)
		code, _, errOut := runApp(t, a, "login", tt.flag)
		if code != 2 || !strings.Contains(errOut, tt.want) || len(f.requests()) != 0 {
			t.Errorf("%s %q: exit %d, stderr %q", tt.flag, tt.stdin, code, errOut)
		}
	}
}

func TestLoginTerminalPrompt(t *testing.T) {
	f := &fakeDaemon{}
	a, _, _ := testApp(f, nil)
	a.stdinIsTerm = func() bool { return true }
	var prompt string
	a.readSecretTerm = func(p string) (string, error) { prompt = p; return "typed-secret", nil }
	if code, _, errOut := runApp(t, a, "login", "-p", "sp", "--secret-stdin"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if prompt != "Client secret for profile sp: " || f.requests()[0].Login.ClientSecret != "typed-secret" {
		t.Errorf("prompt %q, request %+v", prompt, f.requests()[0].Login)
	}
	// A PEM is not typed: the user is told to pipe the file.
	a, _, _ = testApp(&fakeDaemon{}, nil)
	a.stdinIsTerm = func() bool { return true }
	code, _, errOut := runApp(t, a, "login", "-p", "sp", "--certificate-stdin")
	if code != 2 || !strings.Contains(errOut, "< app.pem") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	// A failing terminal read is an error, not an empty secret.
	a, _, _ = testApp(&fakeDaemon{}, nil)
	a.stdinIsTerm = func() bool { return true }
	a.readSecretTerm = func(string) (string, error) { return "", errors.New("no tty") }
	if code, _, _ := runApp(t, a, "login", "--password-stdin"); code != 1 {
		t.Errorf("exit %d", code)
	}
}

func TestLoginEvents(t *testing.T) {
	for _, tt := range []struct {
		name      string
		args      []string
		events    []ipc.Event
		wantErr   []string
		noBrowser bool
	}{
		{"device code", nil, []ipc.Event{{Kind: ipc.EventDeviceCode, Message: "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD1234 to authenticate."}},
			[]string{"enter the code ABCD1234"}, false},
		{"browser", nil, []ipc.Event{{Kind: ipc.EventBrowserURL, URL: "https://login.example/authorize?x=1"}},
			[]string{"Opening the sign-in page", "https://login.example/authorize?x=1"}, false},
		{"no browser", []string{"--no-browser"}, []ipc.Event{{Kind: ipc.EventBrowserURL, URL: "https://login.example/authorize?x=1"}},
			[]string{"Open this page", "https://login.example/authorize?x=1"}, true},
		{"info", nil, []ipc.Event{{Kind: ipc.EventInfo, Message: "waiting for the browser"}}, []string{"waiting for the browser"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *ipc.Request
			f := &fakeDaemon{answer: func(req *ipc.Request, onEvent func(*ipc.Event)) (*ipc.Response, error) {
				got = req
				for i := range tt.events {
					onEvent(&tt.events[i])
				}
				return &ipc.Response{Login: &ipc.LoginResult{Account: "ada@contoso.com"}}, nil
			}}
			a, _, _ := testApp(f, nil)
			code, out, errOut := runApp(t, a, append([]string{"login", "-p", "me"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q: %q", w, errOut)
				}
			}
			if got.Login == nil || got.Login.NoBrowser != tt.noBrowser {
				t.Errorf("login request %+v", got.Login)
			}
			if out != "Signed in me as ada@contoso.com.\n" {
				t.Errorf("stdout %q", out)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	f := &fakeDaemon{}
	a, _, _ := testApp(f, map[string]string{envProfile: "sp"})
	code, out, _ := runApp(t, a, "logout")
	if code != 0 || !strings.Contains(out, "Signed out profile sp") || f.requests()[0].Op != ipc.OpLogout || f.requests()[0].Profile != "sp" {
		t.Errorf("exit %d, out %q, requests %+v", code, out, f.requests())
	}
}

func TestStatus(t *testing.T) {
	st := &ipc.Status{
		Version: "1.2.3", PID: 99, Uptime: 3725.4, Store: "file", StoreReason: "no Secret Service",
		Config: "/etc/eh.toml", MetadataURL: "127.0.0.1:8771", Requests: 1234, IdPCalls: 56,
		IdentityDown: "listen tcp 127.0.0.1:8772: bind: address already in use",
		Profiles: []ipc.ProfileStatus{
			{Name: "prod", Flow: "client-secret", State: ipc.StateReady, Account: "app-1", Tenant: "t1",
				Tokens: []ipc.TokenStatus{
					{Scope: databricksScope, ExpiresOn: fixedNow.Unix() + 3000, RenewsAt: fixedNow.Unix() + 1800, Failures: 2, LastError: "Entra answered 503"},
					{Scope: managementScope, Warning: "the token has 2m0s left, less than the 5m0s asked"},
				}},
			{Name: "me", Flow: "browser", State: ipc.StateNeedsLogin, LastError: "the refresh token expired"},
		},
	}
	f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
		return &ipc.Response{Status: st}, nil
	}}
	a, _, _ := testApp(f, nil)
	code, out, _ := runApp(t, a, "status")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"entra-helperd 1.2.3 (pid 99)", "1h02m", "metadata endpoint", "127.0.0.1:8771",
		"managed-identity endpoint", "off: listen tcp 127.0.0.1:8772: bind: address already in use (set identity_listen in [daemon] to a free port)", "file (no Secret Service)", "/etc/eh.toml", "1234", "56",
		"profile prod (client-secret): ready", "account  app-1",
		databricksScope, "13:50:00 (in 50m00s)", "13:30:00 (in 30m00s)", "Entra answered 503",
		"profile me (browser): needs-login", "the refresh token expired", "entra-helper login -p me", "no cached tokens",
		managementScope + "  none yet", "warning (" + managementScope + "): the token has 2m0s left, less than the 5m0s asked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1970") {
		t.Errorf("status shows the Unix epoch for a never-issued token:\n%s", out)
	}
	a, _, _ = testApp(f, nil)
	code, out, _ = runApp(t, a, "status", "--json")
	if code != 0 || !strings.Contains(out, `"uptime_seconds": 3725.4`) || !strings.Contains(out, `"state": "needs-login"`) {
		t.Errorf("status --json: %s", out)
	}
}

func TestHeaders(t *testing.T) {
	f := &fakeDaemon{}
	a, _, _ := testApp(f, nil)
	code, out, errOut := runApp(t, a, "headers", "-p", "sp")
	want := "Authorization: Bearer tok-" + databricksScope + "\n" +
		"X-Databricks-Azure-SP-Management-Token: tok-" + managementScope + "\n" +
		"X-Databricks-Azure-Workspace-Resource-Id: /subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws\n"
	if code != 0 || out != want {
		t.Errorf("exit %d (%s)\n got %q\nwant %q", code, errOut, out, want)
	}
	for _, r := range f.requests() {
		if r.Profile != "sp" {
			t.Errorf("request for %q", r.Profile)
		}
	}

	// No workspace resource ID: two lines. A user without management
	// access: the Authorization header alone, and a note on stderr.
	p := testProfile()
	p.WorkspaceResourceID = ""
	f = &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
		if req.Op == ipc.OpToken && req.Scopes[0] == managementScope {
			e := &ipc.Error{Code: ipc.CodeFailed, Message: "no access to management for profile me."}
			return &ipc.Response{Error: e}, e
		}
		return defaultAnswer(req, p)
	}}
	a, _, _ = testApp(f, nil)
	code, out, errOut = runApp(t, a, "headers", "-p", "me")
	if code != 0 || out != "Authorization: Bearer tok-"+databricksScope+"\n" || !strings.Contains(errOut, "X-Databricks-Azure-SP-Management-Token") {
		t.Errorf("exit %d, out %q, err %q", code, out, errOut)
	}

	// Entra down: fail with 5.
	a, _, _ = testApp(&fakeDaemon{}, nil)
	if code, _, _ := runApp(t, a, "headers", "-p", "down"); code != 5 {
		t.Errorf("down: exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	a, _, _ := testApp(&fakeDaemon{}, nil)
	code, out, _ := runApp(t, a, "version")
	if code != 0 || !strings.HasPrefix(out, "entra-helper ") {
		t.Errorf("exit %d, %q", code, out)
	}
}

func TestFlagSet(t *testing.T) {
	fs := newFlagSet("x")
	p := fs.String("p", "profile", "def")
	o := fs.String("o", "output", "token")
	l := fs.List("", "scope")
	b := fs.Bool("", "json")
	if err := fs.parse([]string{"pos1", "-pprod", "--scope", "a", "-ojson", "--scope=b", "--json", "-", "--", "--scope"}); err != nil {
		t.Fatal(err)
	}
	if *p != "prod" || *o != "json" || strings.Join(*l, ",") != "a,b" || !*b || strings.Join(fs.args, ",") != "pos1,-,--scope" {
		t.Errorf("p %q o %q l %q b %v args %q", *p, *o, *l, *b, fs.args)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[int64]string{0: "0s", 59: "59s", 61: "1m01s", 3600: "1h00m", 3725: "1h02m", 90000: "1d1h"} {
		if got := humanDuration(secs(d)); got != want {
			t.Errorf("%ds: %q, want %q", d, got, want)
		}
	}
}

// TestGlobalOptions: the options before the command go through the same
// parser as the commands' options, stopping at the command.
func TestGlobalOptions(t *testing.T) {
	for _, tt := range []struct {
		argv    []string
		env     string
		code    int
		profile string
		errWant string
	}{
		{argv: []string{"-p", "a", "status"}, profile: "a"},
		{argv: []string{"--profile=b", "status"}, profile: "b"},
		{argv: []string{"-pc", "status"}, profile: "c"},
		{argv: []string{"--", "status"}, env: "e", profile: "e"},
		{argv: []string{"-p"}, code: 2, errWant: "option -p needs a value; see `entra-helper --help`"},
		{argv: []string{"--bogus", "status"}, code: 2, errWant: "unknown option --bogus; see `entra-helper --help`"},
	} {
		var got string
		f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
			got = req.Profile
			return &ipc.Response{Status: &ipc.Status{}}, nil
		}}
		a, _, _ := testApp(f, map[string]string{envProfile: tt.env})
		code, _, errOut := runApp(t, a, tt.argv...)
		if code != tt.code || tt.errWant != "" && !strings.Contains(errOut, tt.errWant) || tt.code == 0 && a.profile != tt.profile && got != tt.profile {
			t.Errorf("%q: exit %d, profile %q/%q, stderr %q", tt.argv, code, a.profile, got, errOut)
		}
	}
	a, out, _ := testApp(&fakeDaemon{}, nil)
	if code, _, _ := runApp(t, a, "--help", "status"); code != 0 || !strings.Contains(out.String(), "entra-helper [-p PROFILE] COMMAND") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}
