package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	dbconfig "github.com/databricks/databricks-sdk-go/config"
)

// readersSeeProfile reads content with the Databricks Go SDK's own loader
// (gopkg.in/ini.v1 with its options) and, where python3 is installed, with
// Python's configparser as the Python SDK does, and fails unless both see
// section holding every value of cfgValues and no other credential.
func readersSeeProfile(t *testing.T, content []byte, section string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".databrickscfg")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := dbconfig.LoadFile(path)
	if err != nil {
		t.Fatalf("the Databricks Go SDK cannot read the result: %v\n%s", err, content)
	}
	checkProfileValues(t, "Go SDK", f.Section(section).KeysHash(), content)

	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not found: configparser's reading not checked")
		return
	}
	const script = `import configparser, json, sys
p = configparser.ConfigParser()
p.read(sys.argv[1])
s = sys.argv[2]
print(json.dumps(dict(p.defaults()) if s == p.default_section else dict(p[s])))`
	out, err := exec.Command(py, "-c", script, path, section).Output()
	if err != nil {
		t.Fatalf("Python's configparser cannot read the result: %v\n%s", err, content)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	checkProfileValues(t, "configparser", got, content)
}

func checkProfileValues(t *testing.T, reader string, got map[string]string, content []byte) {
	t.Helper()
	for _, kv := range cfgValues {
		if got[kv[0]] != kv[1] {
			t.Errorf("%s reads %s = %q, want %q, in\n%s", reader, kv[0], got[kv[0]], kv[1], content)
		}
	}
	for k := range got {
		if isDatabricksAuthKey(k) {
			t.Errorf("%s still reads credential %s in\n%s", reader, k, content)
		}
	}
}

// The refusals are real: each refused file is one the readers read
// differently or not at all.
func TestRefusedFilesAreOnesTheReadersDisagreeOn(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	for _, in := range []string{
		"[prod]\nhost = a\n[prod]\ntoken = dapi\n",    // Go merges; Python: DuplicateSectionError
		"[prod]\ncluster_id = a\nCLUSTER_ID = b\n",    // Python: DuplicateOptionError
		"[prod]\ncluster_id = c\n  more\n",            // Go: no delimiter
		"[dev]\nx = 1\n  [prod]\nauth_type = pat\n",   // Go: a [prod] section; Python: x's value
		"x = 1\n[prod]\n",                             // Python: MissingSectionHeaderError
		"[ prod ]\nhost = h\n",                        // both: no "prod"
		"[prod]\nx = \"\"\"a\ntoken = dapi\n\"\"\"\n", // Go: x is three lines; Python: a line with no delimiter
		"[prod]\nx = \"\"\"a\n",                       // Go: no closing quotes
		"[prod]\n\"token\" = dapi\n",                  // Go: token; Python: "token"
	} {
		path := filepath.Join(t.TempDir(), "cfg")
		os.WriteFile(path, []byte(in), 0o600)
		goErr, pyErr := "", ""
		var goKeys map[string]string
		if f, err := dbconfig.LoadFile(path); err != nil {
			goErr = err.Error()
		} else {
			goKeys = f.Section("prod").KeysHash()
		}
		out, err := exec.Command(py, "-c", `import configparser, json, sys
p = configparser.ConfigParser()
p.read(sys.argv[1])
print(json.dumps(dict(p["prod"]) if p.has_section("prod") else None))`, path).CombinedOutput()
		if err != nil {
			pyErr = string(out)
		}
		var pyKeys map[string]string
		_ = json.Unmarshal(out, &pyKeys)
		agree := goErr == "" && pyErr == "" && len(goKeys) > 0 && len(pyKeys) == len(goKeys)
		for k, v := range goKeys {
			agree = agree && pyKeys[k] == v
		}
		if agree {
			t.Errorf("both readers read %q alike (%v): it need not be refused", in, goKeys)
		}
		if _, err := editDatabricksCfg([]byte(in), "prod", cfgValues); err == nil {
			t.Errorf("%q was not refused", in)
		}
	}
}
