package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
)

func TestResourceScope(t *testing.T) {
	tests := []struct{ resource, want string }{
		{"https://management.core.windows.net/", "https://management.core.windows.net//.default"},
		{"https://management.azure.com", "https://management.azure.com/.default"},
		{"2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", databricksScope},
		{"https://graph.microsoft.com/", "https://graph.microsoft.com//.default"},
	}
	for _, tt := range tests {
		if got := entra.Scope(tt.resource); got != tt.want {
			t.Errorf("entra.Scope(%q) = %q, want %q", tt.resource, got, tt.want)
		}
	}
	if entra.Scope("https://management.core.windows.net/") != managementScope {
		t.Errorf("managementScope %q is not the management resource's scope", managementScope)
	}
	if entra.Clouds[0].ManagementScope() != managementScope {
		t.Errorf("the public cloud's management scope is %q", entra.Clouds[0].ManagementScope())
	}
}

func TestTokenRequest(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		profile  string
		scopes   []string
		minValid int64
	}{
		{name: "defaults", args: nil},
		{name: "env profile", env: map[string]string{envProfile: "envp"}, profile: "envp"},
		{name: "flag beats env", env: map[string]string{envProfile: "envp"}, args: []string{"-p", "flagp"}, profile: "flagp"},
		{name: "global flag", args: []string{"--profile=g"}, profile: "g"},
		{name: "scopes", args: []string{"--scope", "a/.default", "--scope=b c"}, scopes: []string{"a/.default", "b", "c"}},
		{name: "resource", args: []string{"--resource", "https://management.core.windows.net/"}, scopes: []string{managementScope}},
		{name: "scope and resource", args: []string{"--scope", "x", "--resource", "r"}, scopes: []string{"x", "r/.default"}},
		{name: "min valid", args: []string{"--min-valid", "10m"}, minValid: 600000},
		// Under a millisecond is still an explicit demand, never 0 (the default).
		{name: "min valid under 1ms", args: []string{"--min-valid", "500us"}, minValid: 1},
		{name: "min valid rounds up", args: []string{"--min-valid", "1500us"}, minValid: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDaemon{}
			a, _, errb := testApp(f, tt.env)
			argv := []string{"token"}
			if tt.name == "global flag" {
				argv = append(tt.args, "token")
			} else {
				argv = append(argv, tt.args...)
			}
			if code, _, _ := runApp(t, a, argv...); code != 0 {
				t.Fatalf("exit %d: %s", code, errb)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Op != ipc.OpToken || r.Profile != tt.profile || !reflect.DeepEqual(r.Scopes, tt.scopes) || r.MinValidMS != tt.minValid {
				t.Errorf("request = %+v, want profile %q scopes %q min_valid_ms %d", r, tt.profile, tt.scopes, tt.minValid)
			}
		})
	}
}

func TestTokenOutputFormats(t *testing.T) {
	tok := testToken("prod", nil).AccessToken
	exp := fixedNow.Unix() + 3599
	tests := []struct {
		format string
		want   string
	}{
		{"token", tok + "\n"},
		{"header", "Authorization: Bearer " + tok + "\n"},
		{"json", fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_on":%d,"expires_in":3599,"profile":"prod","scope":%q,"tenant":"a1bc2d34-5e67-8f89-01ab-c2345d6c78de"}`+"\n", tok, exp, databricksScope)},
		// 12:59:59 UTC is 13:59:59 in the test's CET (UTC+1).
		{"az", fmt.Sprintf("{\n  \"accessToken\": %q,\n  \"expiresOn\": \"2024-03-01 13:59:59.000000\",\n  \"expires_on\": %d,\n  \"subscription\": \"\",\n  \"tenant\": \"a1bc2d34-5e67-8f89-01ab-c2345d6c78de\",\n  \"tokenType\": \"Bearer\"\n}\n", tok, exp)},
		{"exec-credential", fmt.Sprintf(`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false},"status":{"expirationTimestamp":"2024-03-01T12:59:59Z","token":%q}}`+"\n", tok)},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			for _, flag := range []string{"-o", "--output"} {
				a, _, _ := testApp(&fakeDaemon{}, nil)
				code, out, errOut := runApp(t, a, "token", flag, tt.format)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				if out != tt.want {
					t.Errorf("%s %s output\n got %q\nwant %q", flag, tt.format, out, tt.want)
				}
			}
		})
	}
}

// TestTokenJSONTypes checks field names and JSON types as a consumer sees
// them.
func TestTokenJSONTypes(t *testing.T) {
	for _, tt := range []struct {
		format string
		fields map[string]string // field -> JSON type
	}{
		{"json", map[string]string{"access_token": "string", "token_type": "string", "expires_on": "number", "expires_in": "number", "profile": "string", "scope": "string", "tenant": "string"}},
		{"az", map[string]string{"accessToken": "string", "expiresOn": "string", "expires_on": "number", "subscription": "string", "tenant": "string", "tokenType": "string"}},
	} {
		a, _, _ := testApp(&fakeDaemon{}, nil)
		_, out, _ := runApp(t, a, "token", "-o", tt.format)
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		if len(m) != len(tt.fields) {
			t.Errorf("%s: fields %v, want exactly %v", tt.format, m, tt.fields)
		}
		for k, typ := range tt.fields {
			got := "missing"
			switch m[k].(type) {
			case string:
				got = "string"
			case float64:
				got = "number"
			}
			if got != typ {
				t.Errorf("%s: %s is %s, want %s", tt.format, k, got, typ)
			}
		}
	}
}

// TestAzExpiresOnParses checks expiresOn the way the Databricks SDK reads
// it: ParseInLocation with "2006-01-02 15:04:05.999999" in local time.
func TestAzExpiresOnParses(t *testing.T) {
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("X", -7*3600), time.FixedZone("Y", 5*3600+1800)} {
		a, _, _ := testApp(&fakeDaemon{}, nil)
		a.loc = loc
		_, out, _ := runApp(t, a, "token", "-o", "az")
		var v struct {
			ExpiresOn string `json:"expiresOn"`
			Int       int64  `json:"expires_on"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		got, err := time.ParseInLocation("2006-01-02 15:04:05.999999", v.ExpiresOn, loc)
		if err != nil {
			t.Fatal(err)
		}
		if got.Unix() != v.Int || v.Int != fixedNow.Unix()+3599 {
			t.Errorf("%s: expiresOn %q is %d, expires_on %d", loc, v.ExpiresOn, got.Unix(), v.Int)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"frobnicate"},
		{"token", "--bogus"},
		{"token", "-o"},
		{"token", "-o", "yaml"},
		{"token", "--min-valid", "soon"},
		{"token", "--min-valid", "-5m"},
		{"token", "--resource="},
		{"token", "extra"},
		{"login", "--secret-stdin", "--password-stdin"},
		{"login", "mysecret"},
		{"status", "--json=maybe"},
		{"databricks"},
		{"databricks", "frob"},
		{"databricks", "env", "--shell", "tcsh"},
		{"databricks", "configure", "--databricks-profile", "a]b"},
		{"inspect", "a", "b"},
		{"version", "x"},
		{"-x", "token"},
		{"-p"},
	}
	for _, args := range tests {
		a, _, _ := testApp(&fakeDaemon{}, nil)
		code, out, errOut := runApp(t, a, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want 2 (stdout %q, stderr %q)", args, code, out, errOut)
		}
		if errOut == "" {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "token"}, {"token", "--help"}, {"login", "-h"},
		{"logout", "--help"}, {"status", "--help"}, {"headers", "--help"}, {"databricks", "--help"},
		{"databricks", "env", "--help"}, {"inspect", "--help"}, {"version", "--help"}} {
		a, _, _ := testApp(&fakeDaemon{}, nil)
		code, out, _ := runApp(t, a, args...)
		if code != 0 || !strings.Contains(out, "Usage") && !strings.Contains(out, "usage") {
			t.Errorf("%q: exit %d, stdout %q", args, code, out)
		}
	}
	a, _, _ := testApp(&fakeDaemon{}, nil)
	_, out, _ := runApp(t, a, "login", "--help")
	if !strings.Contains(out, "deprecated") {
		t.Errorf("login help does not say username-password is deprecated:\n%s", out)
	}
}

func TestExitCodes(t *testing.T) {
	plain := errors.New("boom")
	tests := []struct {
		name     string
		err      error
		code     int
		contains string
	}{
		{"needs login", &ipc.Error{Code: ipc.CodeNeedsLogin, Message: "profile p is not signed in."}, 3, "entra-helper login -p p"},
		{"needs login named", &ipc.Error{Code: ipc.CodeNeedsLogin, Message: "profile p needs a sign-in: run `entra-helper login -p p`."}, 3, "entra-helper login -p p`."},
		{"unavailable", &ipc.Error{Code: ipc.CodeUnavailable, Message: "Entra is down for profile p."}, 5, "Entra is down"},
		{"usage", &ipc.Error{Code: ipc.CodeUsage, Message: "no profile p."}, 2, "no profile p."},
		{"failed", &ipc.Error{Code: ipc.CodeFailed, Message: "wrong secret for profile p."}, 1, "wrong secret"},
		{"forbidden", &ipc.Error{Code: ipc.CodeForbidden, Message: "not allowed."}, 1, "not allowed"},
		{"no daemon", fmt.Errorf("%w at /x: refused", ipc.ErrNoDaemon), 4, "entra-helperd"},
		{"not owner", ipc.ErrNotOwner, 4, "ENTRA_HELPER_SOCKET"},
		{"other", plain, 1, "profile p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
				var ie *ipc.Error
				if errors.As(tt.err, &ie) {
					return &ipc.Response{Error: ie}, ie
				}
				return nil, tt.err
			}}
			a, _, _ := testApp(f, nil)
			code, out, errOut := runApp(t, a, "token", "-p", "p")
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if out != "" || !strings.Contains(errOut, tt.contains) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stdout %q, stderr %q: want one line containing %q", out, errOut, tt.contains)
			}
		})
	}
}

// TestTokenWarningGoesToStderr: a token served with less left than asked is
// printed as usual (exit 0) and the daemon's warning goes to stderr, once.
func TestTokenWarningGoesToStderr(t *testing.T) {
	const warning = `profile "prod": the token has 3m0s left, less than the 5m0s asked`
	f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
		tok := testToken(req.Profile, req.Scopes)
		tok.Warning = warning
		return &ipc.Response{Token: tok}, nil
	}}
	a, _, _ := testApp(f, nil)
	code, out, errOut := runApp(t, a, "token")
	if code != 0 || out != testToken("prod", nil).AccessToken+"\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if errOut != "entra-helper: warning: "+warning+"\n" {
		t.Fatalf("stderr %q", errOut)
	}
}
