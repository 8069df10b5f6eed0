package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad writes arbitrary documents to a file and loads them: Load must
// never panic, and every error must name the file.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"",
		"default_profile = \"p\"\n[daemon]\nmin_valid = \"5m\"\nmetadata_listen = \"127.0.0.1:0\"\n",
		"[profiles.p]\nflow = \"client-secret\"\ntenant = \"t\"\nclient_id = \"c\"\nscopes = [\"a\"]\n",
		"profiles.p = { flow = \"browser\", tenant = \"t\", client_id = \"c\" }\n",
		"[profiles]\n\"a.b\".flow = 1\n[[profiles.x]]\n",
		"[profiles.p]\ndatabricks_host = \"https://h/\"\nauthority_host = \"https://[::1]:0\"\n",
		"[daemon\n",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, doc string) {
		p := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(p)
		if err != nil {
			if !strings.HasPrefix(err.Error(), p+":") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if cfg.Daemon.MinValid <= 0 {
			t.Errorf("loaded config with min_valid %v", cfg.Daemon.MinValid)
		}
		for name, prof := range cfg.Profiles {
			if prof.Name != name || len(prof.Scopes) == 0 {
				t.Errorf("profile %q: %#v", name, prof)
			}
		}
	})
}
