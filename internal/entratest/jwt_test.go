package entratest

import (
	"strings"
	"testing"
)

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
