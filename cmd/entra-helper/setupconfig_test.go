package main

import (
	"errors"
	"strings"
	"testing"
)

func TestEditConfig(t *testing.T) {
	daemonKeys := []tomlKey{{"store", "file", "encrypted"}, {"store_key_file", `C:\keys\store.key`, ""}}
	prof := []tomlKey{{"flow", "client-secret", ""}, {"tenant", "contoso.onmicrosoft.com", ""}}
	for _, tt := range []struct {
		name, doc string
		tables    []string
		want      string
	}{
		{
			name:   "empty",
			doc:    "",
			tables: []string{"daemon", "profiles.sp"},
			want: "# head\n[daemon]\nstore = \"file\"   # encrypted\nstore_key_file = \"C:\\\\keys\\\\store.key\"\n\n" +
				"[profiles.sp]\nflow = \"client-secret\"\ntenant = \"contoso.onmicrosoft.com\"\n",
		},
		{
			name: "keeps other profiles, comments and top-level keys; daemon goes above the first table",
			doc: "default_profile = \"prod\"\n\n# production\n[profiles.prod]\nflow = \"browser\" # mine\n\n" +
				"[profiles.sp]\nclient_id = \"x\"\ntenant = \"old\"\n\n# trailing\n",
			tables: []string{"daemon", "profiles.sp"},
			want: "default_profile = \"prod\"\n\n# head\n[daemon]\nstore = \"file\"   # encrypted\nstore_key_file = \"C:\\\\keys\\\\store.key\"\n\n" +
				"# production\n[profiles.prod]\nflow = \"browser\" # mine\n\n" +
				"[profiles.sp]\nclient_id = \"x\"\ntenant = \"contoso.onmicrosoft.com\"\nflow = \"client-secret\"\n\n# trailing\n",
		},
		{
			name:   "updates the daemon table in place",
			doc:    "[daemon]\nlog_level = \"debug\"\nstore = \"keyring\"\n\n[profiles.a]\nflow = \"browser\"\n",
			tables: []string{"daemon"},
			want:   "[daemon]\nlog_level = \"debug\"\nstore = \"file\"   # encrypted\nstore_key_file = \"C:\\\\keys\\\\store.key\"\n\n[profiles.a]\nflow = \"browser\"\n",
		},
		{
			name:   "quoted header",
			doc:    "[profiles.\"sp\"]\ntenant = \"old\"\n",
			tables: []string{"profiles.sp"},
			want:   "[profiles.\"sp\"]\ntenant = \"contoso.onmicrosoft.com\"\nflow = \"client-secret\"\n",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := editConfig(tt.doc, tt.tables, map[string][]tomlKey{"daemon": daemonKeys, "profiles.sp": prof},
				map[string]string{"daemon": "head"})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	for _, doc := range []string{"profiles.sp.flow = \"browser\"\n", "[profiles]\nsp = { flow = \"browser\" }\n", "daemon = { store = \"file\" }\n"} {
		if _, err := editConfig(doc, []string{"profiles.sp"}, map[string][]tomlKey{"profiles.sp": prof}, nil); err == nil {
			t.Errorf("editConfig accepted %q, which it cannot edit safely", doc)
		}
	}
	if v := tableValue("[daemon]\nstore = \"file\" # x\nstore_key_file = 'C:\\k'\n", "daemon", "store_key_file"); v != `C:\k` {
		t.Errorf("tableValue = %q", v)
	}
	if !strings.Contains(tomlString(`a"b\c`), `a\"b\\c`) {
		t.Error("tomlString does not escape")
	}
}

// Without a terminal and without --yes, the refusal says what happened
// (nothing was written, and why) and what to do, in one sentence.
func TestConfirmWithoutTerminal(t *testing.T) {
	a, _, _ := testApp(&fakeDaemon{}, nil)
	for _, what := range []string{"Write this", "Switch to the file store"} {
		err := a.confirm(false, what, "--yes")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage {
			t.Fatalf("confirm(%q): %v, want a usage error", what, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "nothing was written: ") || !strings.Contains(msg, `"`+what+`?"`) ||
			!strings.Contains(msg, "stdin is not a terminal") || !strings.Contains(msg, "pass --yes") {
			t.Errorf("confirm(%q): %q", what, msg)
		}
	}
	if err := a.confirm(true, "Write this", "--yes"); err != nil {
		t.Errorf("confirm with --yes: %v", err)
	}
}
