package entratest

import (
	"strings"
	"testing"
)

// FuzzParseJWT feeds arbitrary client assertions to the decoder the token
// endpoint uses: it must never panic, and whatever it accepts must have
// three parts.
func FuzzParseJWT(f *testing.F) {
	keys, err := sharedKeys()
	if err != nil {
		f.Fatal(err)
	}
	tok, err := signJWT(keys[0].key, map[string]any{"kid": keys[0].kid}, map[string]any{"aud": []string{"a", "b"}, "exp": 1})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{tok, "", "..", "a.b.c", "eyJ9.eyJ9.", strings.Repeat(".", 10), "e30.e30.AA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseJWT(s)
		if err != nil {
			return
		}
		if strings.Count(s, ".") != 2 {
			t.Fatalf("accepted %q", s)
		}
		_ = p.aud()
		_, _ = p.num("exp")
		_ = p.verify(&keys[0].key.PublicKey)
		_ = p.str("alg", true)
	})
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		scope    string
		resource string
		perms    string
		dflt     bool
		aadsts   int
	}{
		{databricks + "/.default openid offline_access profile", databricks, "user_impersonation", true, 0},
		{management + "/.default", management, "user_impersonation", true, 0},
		{"https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read", "https://graph.microsoft.com", "User.Read Mail.Read", false, 0},
		{"User.Read", GraphResource, "User.Read", false, 0},
		{"openid profile", GraphResource, "openid profile email", false, 0},
		{databricks + "/.default " + management + "/.default", "", "", false, 28000},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			sc, e := parseScopes(tt.scope)
			if tt.aadsts != 0 {
				if e == nil || e.aadsts != tt.aadsts {
					t.Fatalf("error = %v, want AADSTS%d", e, tt.aadsts)
				}
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if sc.resource != tt.resource || strings.Join(sc.perms, " ") != tt.perms || sc.dflt != tt.dflt {
				t.Errorf("got resource %q perms %q default %v", sc.resource, sc.perms, sc.dflt)
			}
		})
	}
}
