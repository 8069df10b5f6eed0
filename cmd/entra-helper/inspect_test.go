package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/jwt"
)

func sampleJWT(t *testing.T) string {
	return makeJWT(t,
		map[string]any{"alg": "RS256", "typ": "JWT", "kid": "key-1"},
		map[string]any{
			"aud":   "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d",
			"iss":   "https://sts.windows.net/a1bc2d34-5e67-8f89-01ab-c2345d6c78de/",
			"tid":   "a1bc2d34-5e67-8f89-01ab-c2345d6c78de",
			"oid":   "oid-1",
			"upn":   "ada@contoso.com",
			"appid": "app-1",
			"scp":   "user_impersonation",
			"roles": []string{"r1", "r2"},
			"nbf":   fixedNow.Unix() - 300,
			"iat":   fixedNow.Unix() - 300,
			"exp":   fixedNow.Unix() + 3300,
			"xms":   map[string]any{"a": 1},
		})
}

func TestInspect(t *testing.T) {
	jwt := sampleJWT(t)
	for _, tt := range []struct {
		name  string
		args  []string
		stdin string
	}{
		{"argument", []string{"inspect", jwt}, ""},
		{"stdin implicit", []string{"inspect"}, jwt + "\n"},
		{"stdin dash", []string{"inspect", "-"}, jwt},
		{"header line", []string{"inspect"}, "Authorization: Bearer " + jwt + "\n"},
		{"token json", []string{"inspect"}, `{"access_token":"` + jwt + `","token_type":"Bearer"}`},
		{"az json", []string{"inspect"}, `{"accessToken":"` + jwt + `"}`},
		{"exec credential", []string{"inspect"}, `{"kind":"ExecCredential","status":{"token":"` + jwt + `"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDaemon{}
			a, _, _ := testApp(f, nil)
			a.stdin = strings.NewReader(tt.stdin)
			code, out, errOut := runApp(t, a, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range []string{
				"alg  RS256", "kid  key-1",
				"aud    2ff814a6-3304-4ab8-85cb-cd0e6f879c1d",
				"iss    https://sts.windows.net/",
				"tid    a1bc2d34", "oid    oid-1", "upn    ada@contoso.com", "appid  app-1",
				"scp    user_impersonation", "roles  r1, r2",
				"nbf    2024-03-01 12:55:00 CET (5m00s ago)",
				"exp    2024-03-01 13:55:00 CET (expires in 55m00s)",
				`xms    {"a":1}`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, jwt) || strings.Contains(out, "signature") {
				t.Errorf("output shows the token:\n%s", out)
			}
			if len(f.requests()) != 0 {
				t.Errorf("inspect without --verify asked the daemon")
			}
		})
	}
}

func TestInspectExpired(t *testing.T) {
	jwt := makeJWT(t, map[string]any{"alg": "RS256"}, map[string]any{"exp": fixedNow.Unix() - 90, "nbf": fixedNow.Unix() + 60})
	a, _, _ := testApp(&fakeDaemon{}, nil)
	_, out, _ := runApp(t, a, "inspect", jwt)
	if !strings.Contains(out, "(EXPIRED 1m30s ago)") || !strings.Contains(out, "(NOT YET VALID: in 1m00s)") {
		t.Errorf("output:\n%s", out)
	}
}

func TestInspectJSON(t *testing.T) {
	a, _, _ := testApp(&fakeDaemon{}, nil)
	code, out, _ := runApp(t, a, "inspect", "--json", sampleJWT(t))
	var v struct {
		Header map[string]any `json:"header"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if v.Header["kid"] != "key-1" || v.Claims["upn"] != "ada@contoso.com" || v.Claims["exp"] != float64(fixedNow.Unix()+3300) {
		t.Errorf("decoded %+v", v)
	}
}

func TestInspectErrors(t *testing.T) {
	for _, tt := range []struct {
		tok  string
		code int
		want string
	}{
		{"", 2, "no token"},
		{"not-a-jwt", 1, "not a JWT"},
		{"a.b.c.d.e", 1, "encrypted"},
		{"!!!.e30.x", 1, "header"},
		{"e30.bm90anNvbg.x", 1, "claims"},
	} {
		a, _, _ := testApp(&fakeDaemon{}, nil)
		a.stdin = strings.NewReader(tt.tok)
		code, _, errOut := runApp(t, a, "inspect")
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q", tt.tok, code, errOut)
		}
	}
}

func TestInspectTerminalStdin(t *testing.T) {
	a, _, _ := testApp(&fakeDaemon{}, nil)
	a.stdinIsTerm = func() bool { return true }
	if code, _, errOut := runApp(t, a, "inspect"); code != 2 || !strings.Contains(errOut, "pipe one in") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestInspectVerify(t *testing.T) {
	jwt := sampleJWT(t)
	for _, tt := range []struct {
		name   string
		result *ipc.VerifyResult
		code   int
		want   string
	}{
		{"valid", &ipc.VerifyResult{Valid: true, KeyID: "key-1", Issuer: "https://sts.windows.net/t/"}, 0, "signature: valid (RS256, key key-1"},
		{"invalid", &ipc.VerifyResult{Valid: false, Reason: "no key key-1 in the issuer's keys"}, 1, "NOT valid: no key key-1"},
	} {
		f := &fakeDaemon{answer: func(req *ipc.Request, _ func(*ipc.Event)) (*ipc.Response, error) {
			if req.Op != ipc.OpVerify || req.Token != jwt {
				t.Errorf("request %+v", req)
			}
			return &ipc.Response{Verify: tt.result}, nil
		}}
		a, _, _ := testApp(f, nil)
		code, out, errOut := runApp(t, a, "inspect", "--verify", jwt)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%s: exit %d, out %q, err %q", tt.name, code, out, errOut)
		}
	}
}

func FuzzDecodeJWT(f *testing.F) {
	f.Add("e30.e30.x")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjEuNWUxMH0.x")
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, s string) {
		j, err := jwt.Decode(extractToken(s))
		if err == nil && (j.Header == nil || j.Claims == nil) {
			t.Fatal("nil maps without an error")
		}
		if err == nil {
			a, _, _ := testApp(&fakeDaemon{}, nil)
			a.writeJWT(a.stdout, j)
		}
	})
}
