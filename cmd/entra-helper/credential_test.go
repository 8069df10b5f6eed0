package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/ipc"
)

func TestReadCredential(t *testing.T) {
	tests := []struct {
		name, in string
		want     credential
		err      string
	}{
		{"git's get", "protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\nusername=contoso\n\n",
			credential{protocol: "https", host: "dev.azure.com", path: "contoso/p/_git/r", username: "contoso"}, ""},
		{"EOF ends it", "protocol=https\nhost=h:8443", credential{protocol: "https", host: "h:8443"}, ""},
		{"CRLF", "protocol=https\r\nhost=h\r\n\r\n", credential{protocol: "https", host: "h"}, ""},
		{"stops at the empty line", "protocol=https\n\nhost=h\n", credential{protocol: "https"}, ""},
		{"newer keys ignored",
			"capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=h\nwwwauth[]=Bearer authorization_uri=x\nwwwauth[]=Basic realm=\"x\"\npassword_expiry_utc=1700000000\nquit=0\nstate[]=a.b=c\n",
			credential{protocol: "https", host: "h"}, ""},
		{"erase carries the password", "protocol=https\nhost=h\nusername=u\npassword=p=q\n",
			credential{protocol: "https", host: "h", username: "u", password: "p=q"}, ""},
		{"url", "url=https://org@dev.azure.com/org/_git/r%20x\n",
			credential{protocol: "https", host: "dev.azure.com", path: "org/_git/r x", username: "org"}, ""},
		{"empty value", "protocol=https\nhost=\n", credential{protocol: "https"}, ""},
		{"empty input", "", credential{}, ""},
		{"no =", "protocol=https\nhost dev.azure.com\n", credential{}, "line 2 of git's request has no '='"},
		{"empty key", "=x\n", credential{}, "line 1 of git's request has an empty key"},
		{"NUL", "host=a\x00b\n", credential{}, "NUL"},
		{"bad url", "url=::\n", credential{}, "line 1 of git's request: url= is not a URL"},
		{"too long", "wwwauth[]=" + strings.Repeat("x", maxCredentialInput) + "\n", credential{}, "longer than 256 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := readCredential(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *c != tt.want {
				t.Fatalf("got %+v, want %+v", *c, tt.want)
			}
		})
	}
}

func TestReadCredentialErrorsNeverQuoteTheLine(t *testing.T) {
	_, err := readCredential(strings.NewReader("protocol=https\npassword-secret-value\n"))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v; want an error without the line", err)
	}
}

func TestGitTargetMatches(t *testing.T) {
	c := func(proto, host, path, user string) *credential {
		return &credential{protocol: proto, host: host, path: path, username: user}
	}
	tests := []struct {
		url  string
		c    *credential
		want bool
	}{
		{"", c("https", "dev.azure.com", "", ""), true},
		{"", c("https", "DEV.azure.com:443", "x/_git/y", ""), true},
		{"", c("https", "contoso.visualstudio.com", "", ""), true},
		{"", c("https", "visualstudio.com", "", ""), false},
		{"", c("https", "evilvisualstudio.com", "", ""), false},
		{"", c("http", "dev.azure.com", "", ""), false},
		{"", c("https", "github.com", "", ""), false},
		{"", c("https", "dev.azure.com.evil.example", "", ""), false},
		{"https://dev.azure.com/contoso", c("https", "dev.azure.com", "contoso/p/_git/r", ""), true},
		{"https://dev.azure.com/contoso/", c("https", "dev.azure.com", "contoso", ""), true},
		{"https://dev.azure.com/contoso", c("https", "dev.azure.com", "contosoevil/p/_git/r", ""), false},
		{"https://dev.azure.com/contoso", c("https", "dev.azure.com", "fabrikam/p/_git/r", ""), false},
		{"https://dev.azure.com/contoso", c("https", "dev.azure.com", "", ""), true}, // no useHttpPath: git matched the URL
		{"https://dev.azure.com/contoso", c("https", "ssh.dev.azure.com", "contoso", ""), false},
		{"https://127.0.0.1:8443/contoso", c("https", "127.0.0.1:8443", "contoso/_git/repo", ""), true},
		{"https://127.0.0.1:8443/contoso", c("https", "127.0.0.1:9443", "contoso/_git/repo", ""), false},
		{"https://contoso@dev.azure.com/contoso", c("https", "dev.azure.com", "contoso/x", "contoso"), true},
		{"https://contoso@dev.azure.com/contoso", c("https", "dev.azure.com", "contoso/x", "mallory"), false},
		{"https://dev.azure.com", c("https", "dev.azure.com", "any/_git/thing", "anyone"), true},
		{"https://dev.azure.com", c("", "dev.azure.com", "", ""), false},
	}
	for _, tt := range tests {
		tg, err := targetOf(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.matches(tt.c); got != tt.want {
			t.Errorf("%q matches %+v = %v, want %v", tt.url, *tt.c, got, tt.want)
		}
	}
}

func TestCheckGitURL(t *testing.T) {
	for _, bad := range []string{"http://dev.azure.com/x", "dev.azure.com/x", "https://u:pw@dev.azure.com", "https://h/?q=1", "https://h/#f", "https://h:0", "https://h:99999", "ssh://git@ssh.dev.azure.com"} {
		if _, err := checkGitURL(bad); err == nil {
			t.Errorf("checkGitURL(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "pw") && strings.Contains(bad, "pw") && !strings.Contains(err.Error(), "password") {
			t.Errorf("error quotes the password: %v", err)
		}
	}
	u, err := checkGitURL("HTTPS://Contoso@DEV.Azure.com/Contoso")
	if err != nil || u.String() != "https://Contoso@dev.azure.com/Contoso" {
		t.Fatalf("got %v, %v", u, err)
	}
}

func TestCredentialGet(t *testing.T) {
	f := &fakeDaemon{}
	a, out, errb := testApp(f, nil)
	a.stdin = strings.NewReader("capability[]=authtype\nprotocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\nusername=contoso\nwwwauth[]=Basic realm=\"x\"\n\n")
	code := a.main([]string{"entra-helper", "credential", "-p", "ado", "--url", "https://dev.azure.com/contoso", "get"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	want := fmt.Sprintf("username=contoso\npassword=tok-%s\npassword_expiry_utc=%d\n", adoScope, fixedNow.Unix()+3599)
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Op != ipc.OpGitToken || reqs[0].Profile != "ado" || len(reqs[0].Scopes) != 0 {
		t.Fatalf("requests = %+v", reqs)
	}
	if got := out.String(); got != want {
		t.Fatalf("output = %q", got)
	}
	if strings.Contains(out.String(), "capability") {
		t.Fatal("the helper claimed a capability it does not have")
	}
}

func TestCredentialGetUsernameFromToken(t *testing.T) {
	for _, tt := range []struct {
		claims map[string]any
		want   string
	}{
		{map[string]any{"upn": "alice@contoso.example", "appid": "app"}, "alice@contoso.example"},
		{map[string]any{"appid": "12a34b56-789c-0d12-e3fa-b456789c0123"}, "12a34b56-789c-0d12-e3fa-b456789c0123"},
		{map[string]any{}, "entra-helper"},
	} {
		jwt := makeJWT(t, map[string]any{"alg": "RS256"}, tt.claims)
		f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
			return &ipc.Response{Token: &ipc.Token{AccessToken: jwt, ExpiresOn: 1700000000}}, nil
		}}
		a, out, _ := testApp(f, nil)
		a.stdin = strings.NewReader("protocol=https\nhost=contoso.visualstudio.com\n")
		if code := a.main([]string{"entra-helper", "credential", "get"}); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if want := "username=" + tt.want + "\npassword=" + jwt + "\npassword_expiry_utc=1700000000\n"; out.String() != want {
			t.Errorf("output = %q, want %q", out.String(), want)
		}
	}
}

func TestCredentialOtherHostsAndActions(t *testing.T) {
	for _, tt := range []struct {
		in, action string
	}{
		{"protocol=https\nhost=github.com\n", "get"},
		{"protocol=http\nhost=dev.azure.com\n", "get"},
		{"protocol=https\nhost=dev.azure.com\npath=fabrikam/_git/r\n", "get"},
		{"protocol=https\nhost=dev.azure.com\npath=contoso/_git/r\nusername=u\npassword=p\n", "store"},
		{"protocol=https\nhost=github.com\npassword=p\n", "erase"},
		{"protocol=https\nhost=dev.azure.com\n", "frobnicate"},
	} {
		f := &fakeDaemon{}
		a, out, errb := testApp(f, nil)
		a.stdin = strings.NewReader(tt.in)
		code := a.main([]string{"entra-helper", "credential", "--url", "https://dev.azure.com/contoso", tt.action})
		if code != 0 || out.Len() != 0 || errb.Len() != 0 || len(f.requests()) != 0 {
			t.Errorf("%s %q: exit %d, out %q, err %q, %d requests; want silence", tt.action, tt.in, code, out, errb, len(f.requests()))
		}
	}
}

func TestCredentialErase(t *testing.T) {
	f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
		return &ipc.Response{}, nil
	}}
	a, _, errb := testApp(f, nil)
	a.stdin = strings.NewReader("protocol=https\nhost=dev.azure.com\npath=contoso/_git/r\nusername=u\npassword=the-token\npassword_expiry_utc=1700000000\n")
	if code := a.main([]string{"entra-helper", "-p", "ado", "credential", "--url", "https://dev.azure.com/contoso", "erase"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].Op != ipc.OpGitErase || reqs[0].Profile != "ado" || reqs[0].Token != "the-token" {
		t.Fatalf("requests = %+v", reqs)
	}
	if !a.noAutostart {
		t.Error("erase may start a daemon")
	}
	// No daemon: nothing is cached, nothing to erase.
	f.answer = func(*ipc.Request, func(*ipc.Event)) (*ipc.Response, error) {
		return nil, &exitError{code: exitNoDaemon, msg: "no entra-helperd answers"}
	}
	a, _, errb = testApp(f, nil)
	a.stdin = strings.NewReader("protocol=https\nhost=dev.azure.com\npassword=x\n")
	if code := a.main([]string{"entra-helper", "credential", "erase"}); code != 0 {
		t.Fatalf("erase without a daemon: exit %d: %s", code, errb)
	}
}

func TestCredentialErrors(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		in       string
		code     int
		contains string
	}{
		{[]string{"credential"}, "", 2, "name one action"},
		{[]string{"credential", "get", "store"}, "", 2, "name one action"},
		{[]string{"credential", "--url", "http://dev.azure.com", "get"}, "", 2, "does not use https"},
		{[]string{"credential", "get"}, "protocol=https\nhost dev.azure.com\n", 1, "line 2 of git's request has no '='"},
		{[]string{"credential", "-p", "needs", "get"}, "protocol=https\nhost=dev.azure.com\n", 3, "entra-helper login -p needs"},
		{[]string{"credential", "-p", "down", "get"}, "protocol=https\nhost=dev.azure.com\n", 5, "unreachable"},
	} {
		a, out, errb := testApp(&fakeDaemon{}, nil)
		a.stdin = strings.NewReader(tt.in)
		code := a.main(append([]string{"entra-helper"}, tt.args...))
		if code != tt.code || !strings.Contains(errb.String(), tt.contains) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d with %q", tt.args, code, errb, out, tt.code, tt.contains)
		}
	}
}

// gitEnv points git's global config at a fresh file for the test.
func gitEnv(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gitconfig")
	t.Setenv("GIT_CONFIG_GLOBAL", cfg)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", dir)
	return cfg
}

func gitGetAll(t *testing.T, key string) []string {
	t.Helper()
	out, err := exec.Command("git", "config", "--global", "--get-all", key).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return nil
		}
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func TestGitConfigure(t *testing.T) {
	cfg := gitEnv(t)
	const other = "[user]\n\tname = Ada\n[credential]\n\thelper = store\n[credential \"https://dev.azure.com/contoso\"]\n\thelper = manager\n\tusername = ada\n"
	if err := os.WriteFile(cfg, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(t.TempDir(), "entra-helper")
	if err := os.WriteFile(self, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	configure := func(args ...string) string {
		t.Helper()
		a, out, errb := testApp(&fakeDaemon{}, nil)
		if code := a.main(append([]string{self, "git", "configure"}, args...)); code != 0 {
			t.Fatalf("git configure %v: exit %d: %s", args, code, errb)
		}
		return out.String()
	}
	const key = "credential.https://dev.azure.com/contoso.helper"
	ours := self + " credential -p ado --url https://dev.azure.com/contoso"
	for range 2 { // idempotent
		out := configure("-p", "ado", "--url", "https://DEV.azure.com/contoso/")
		if !strings.Contains(out, ours) {
			t.Errorf("configure did not say what it wrote: %q", out)
		}
		if got := gitGetAll(t, key); strings.Join(got, "|") != "manager||"+ours {
			t.Fatalf("helpers = %q", got)
		}
	}
	if got := gitGetAll(t, "credential.https://dev.azure.com/contoso.useHttpPath"); len(got) != 1 || got[0] != "true" {
		t.Fatalf("useHttpPath = %q", got)
	}
	// The helpers git runs for a repository there: ours alone.
	out, err := exec.Command("git", "config", "--global", "--get-urlmatch", "credential.helper", "https://dev.azure.com/contoso/p/_git/r").Output()
	if err != nil || strings.TrimSpace(string(out)) != ours {
		t.Errorf("--get-urlmatch credential.helper = %q, %v", out, err)
	}
	// Another profile for the same URL replaces ours.
	configure("-p", "other", "--url", "https://dev.azure.com/contoso")
	if got := gitGetAll(t, key); len(got) != 3 || !strings.Contains(got[2], "-p other") {
		t.Fatalf("helpers after reconfiguring = %q", got)
	}
	// --unset removes what configure wrote and keeps every other line.
	configure("--url", "https://dev.azure.com/contoso", "--unset")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != other {
		t.Fatalf("after --unset the config is\n%s\nwant\n%s", b, other)
	}
	// A URL of its own: the section goes away entirely on --unset.
	configure("--url", "https://contoso@dev.azure.com/contoso/proj")
	if got := gitGetAll(t, "credential.https://contoso@dev.azure.com/contoso/proj.helper"); len(got) != 2 || got[0] != "" ||
		got[1] != self+" credential --url https://contoso@dev.azure.com/contoso/proj" {
		t.Fatalf("helpers = %q", got)
	}
	configure("--url", "https://contoso@dev.azure.com/contoso/proj", "--unset")
	if b, _ := os.ReadFile(cfg); string(b) != other {
		t.Fatalf("after --unset the config is\n%s", b)
	}
}

func TestGitConfigureUsage(t *testing.T) {
	gitEnv(t)
	for _, args := range [][]string{
		{"git"}, {"git", "frob"}, {"git", "configure"}, {"git", "configure", "--url", "http://dev.azure.com/x"},
		{"git", "configure", "--url", "https://u:pw@dev.azure.com/x"}, {"git", "configure", "--url", "https://h", "extra"},
	} {
		a, _, errb := testApp(&fakeDaemon{}, nil)
		if code := a.main(append([]string{"entra-helper"}, args...)); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errb)
		}
	}
}

func TestHelperCommandQuotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my tools")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, "entra-helper")
	if err := os.WriteFile(self, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &app{argv0: self}
	got, err := a.helperCommand("it's", "https://dev.azure.com/contoso")
	if err != nil {
		t.Fatal(err)
	}
	want := "!'" + filepath.ToSlash(self) + `' credential -p 'it'\''s' --url https://dev.azure.com/contoso`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func FuzzReadCredential(f *testing.F) {
	f.Add("protocol=https\nhost=dev.azure.com\npath=a/_git/b\nusername=u\n\n")
	f.Add("url=https://u@h:1/p\ncapability[]=authtype\nwwwauth[]=Bearer x=y\n")
	f.Add("=\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := readCredential(strings.NewReader(in))
		if err != nil {
			if c != nil {
				t.Fatal("a credential with an error")
			}
			return
		}
		tg, _ := targetOf("")
		_ = tg.matches(c)
	})
}
