package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/daemon/config"
)

// repoRoot is the repository, one level up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// debEntry is one line of `dpkg-deb -c`.
type debEntry struct {
	mode, owner string
}

// listDeb parses `dpkg-deb -c` into path -> entry (paths without the leading ".").
func listDeb(t *testing.T, deb string) map[string]debEntry {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, out)
	}
	entries := map[string]debEntry{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("unexpected dpkg-deb -c line %q", line)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if p == "" {
			p = "/"
		}
		entries[p] = debEntry{mode: f[0], owner: f[1]}
	}
	return entries
}

// TestDebPackage builds the packages with scripts/package.sh for this
// machine's architecture, then checks the .deb's contents, modes, control
// scripts and what it puts into a scratch root.
func TestDebPackage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Linux packages are built on Linux")
	}
	if testing.Short() {
		t.Skip("-short: building the packages compiles both binaries and nfpm")
	}
	for _, tool := range []string{"dpkg-deb", "sha256sum", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	root := repoRoot(t)
	dist := t.TempDir()
	const version = "1.2.3-test"
	cmd := exec.Command("sh", filepath.Join(root, "scripts", "package.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "VERSION="+version, "ARCHES="+runtime.GOARCH, "DIST="+dist, "FORMATS=deb rpm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("goreleaser/nfpm")) && bytes.Contains(out, []byte("dial tcp")) {
			t.Skipf("nfpm cannot be downloaded here:\n%s", out)
		}
		t.Fatalf("scripts/package.sh: %v\n%s", err, out)
	}

	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dist, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("want one .deb and one .rpm in dist, got %v %v\n%s", debs, rpms, out)
	}
	deb := debs[0]

	// SHA256SUMS covers both packages and matches them.
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{deb, rpms[0]} {
		if !bytes.Contains(sums, []byte(filepath.Base(p))) {
			t.Errorf("SHA256SUMS lacks %s:\n%s", filepath.Base(p), sums)
		}
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	if rpm, err := os.ReadFile(rpms[0]); err != nil || !bytes.HasPrefix(rpm, []byte{0xed, 0xab, 0xee, 0xdb}) {
		t.Errorf("%s is not an rpm (err %v)", rpms[0], err)
	}

	// Control fields.
	info, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v\n%s", err, info)
	}
	for _, want := range []string{"Package: entra-helper", "Version: 1.2.3~test", "Architecture: " + runtime.GOARCH} {
		if !bytes.Contains(info, []byte(want)) {
			t.Errorf("control lacks %q:\n%s", want, info)
		}
	}

	// Contents and modes.
	entries := listDeb(t, deb)
	want := map[string]string{
		"/usr/bin/entra-helper":                                  "-rwxr-xr-x",
		"/usr/bin/entra-helperd":                                 "-rwxr-xr-x",
		"/usr/lib/systemd/system/entra-helperd.service":          "-rw-r--r--",
		"/usr/lib/systemd/user/entra-helperd.service":            "-rw-r--r--",
		"/usr/lib/sysusers.d/entra-helper.conf":                  "-rw-r--r--",
		"/usr/share/doc/entra-helper/config.example.toml":        "-rw-r--r--",
		"/usr/share/doc/entra-helper/install.md":                 "-rw-r--r--",
		"/usr/share/man/man1/entra-helper.1.gz":                  "-rw-r--r--",
		"/usr/share/man/man8/entra-helperd.8.gz":                 "-rw-r--r--",
		"/usr/share/bash-completion/completions/entra-helper":    "-rw-r--r--",
		"/usr/share/zsh/vendor-completions/_entra-helper":        "-rw-r--r--",
		"/usr/share/fish/vendor_completions.d/entra-helper.fish": "-rw-r--r--",
		"/etc/entra-helper":                                      "drwxr-x---",
	}
	for p, mode := range want {
		e, ok := entries[p]
		if !ok {
			keys := make([]string, 0, len(entries))
			for k := range entries {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("the .deb lacks %s; it has:\n%s", p, strings.Join(keys, "\n"))
			continue
		}
		if e.mode != mode || e.owner != "root/root" {
			t.Errorf("%s: %s %s, want %s root/root", p, e.mode, e.owner, mode)
		}
	}
	for p, e := range entries {
		if strings.HasPrefix(e.mode, "-") && strings.ContainsAny(e.mode[4:], "w") {
			t.Errorf("%s is writable by group or others: %s", p, e.mode)
		}
		if strings.Contains(p, "site-functions") {
			t.Errorf("the .deb has the rpm's zsh path %s", p)
		}
	}

	// Unpack into a scratch root (no maintainer script runs) and compare.
	scratch := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, scratch).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	same := map[string]string{
		"usr/lib/systemd/system/entra-helperd.service":          "packaging/systemd/system/entra-helperd.service",
		"usr/lib/systemd/user/entra-helperd.service":            "packaging/systemd/user/entra-helperd.service",
		"usr/share/doc/entra-helper/config.example.toml":        "packaging/config.example.toml",
		"usr/share/bash-completion/completions/entra-helper":    "packaging/completions/entra-helper.bash",
		"usr/share/fish/vendor_completions.d/entra-helper.fish": "packaging/completions/entra-helper.fish",
	}
	for got, src := range same {
		a, err1 := os.ReadFile(filepath.Join(scratch, got))
		b, err2 := os.ReadFile(filepath.Join(root, src))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s (%v, %v)", got, src, err1, err2)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(scratch, "usr/lib/systemd/system/entra-helperd.service"))
	if !bytes.Contains(unit, []byte("ExecStart=/usr/bin/entra-helperd run --system\n")) {
		t.Errorf("the system unit does not start /usr/bin/entra-helperd in system mode:\n%s", unit)
	}
	for _, bin := range []string{"entra-helper", "entra-helperd"} {
		out, err := exec.Command(filepath.Join(scratch, "usr/bin", bin), "version").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte(version)) {
			t.Errorf("%s version: %v %q, want the version %s", bin, err, out, version)
		}
	}

	// Maintainer scripts: present, executable, the ones in packaging/scripts.
	control := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-e", deb, control).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	for script, src := range map[string]string{"postinst": "postinstall.sh", "prerm": "preremove.sh", "postrm": "postremove.sh"} {
		p := filepath.Join(control, script)
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("the .deb has no %s: %v", script, err)
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", script, fi.Mode())
		}
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(root, "packaging/scripts", src))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from packaging/scripts/%s", script, src)
		}
	}
}

// TestMaintainerScripts checks the scripts parse and never enable a service.
func TestMaintainerScripts(t *testing.T) {
	for _, s := range []string{"postinstall.sh", "preremove.sh", "postremove.sh"} {
		p := filepath.Join("scripts", s)
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, forbidden := range []string{"systemctl enable", "systemctl start", "systemctl --user", "enable --now"} {
			if bytes.Contains(b, []byte(forbidden)) {
				t.Errorf("%s runs %q: packages must not enable or start services", s, forbidden)
			}
		}
	}
}

// TestExampleConfig loads the shipped example with the daemon's own loader.
func TestExampleConfig(t *testing.T) {
	cfg, err := config.Load("config.example.toml")
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	names := make([]string, 0, len(cfg.Profiles))
	for n := range cfg.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"me", "prod"}) || cfg.DefaultProfile != "prod" {
		t.Errorf("profiles %v, default %q", names, cfg.DefaultProfile)
	}
}

// TestBashCompletion runs the bash completion function on command lines.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	example, err := filepath.Abs("config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string // the words; the last one is being completed
		want []string
	}{
		{"entra-helper ", []string{"-p", "--profile", "-h", "--help", "--version", "token", "login", "logout", "status", "headers", "databricks", "azure", "credential", "git", "inspect", "version", "help"}},
		{"entra-helper to", []string{"token"}},
		{"entra-helper -p prod tok", []string{"token"}},
		{"entra-helper token -o ", []string{"token", "json", "az", "exec-credential", "header"}},
		{"entra-helper token --output e", []string{"exec-credential"}},
		{"entra-helper token --", []string{"--profile", "--scope", "--resource", "--min-valid", "--output", "--help"}},
		{"entra-helper login --", []string{"--profile", "--secret-stdin", "--password-stdin", "--refresh-token-stdin", "--certificate-stdin", "--no-browser", "--help"}},
		{"entra-helper -p ", []string{"prod", "me"}},
		{"entra-helper token --profile p", []string{"prod"}},
		{"entra-helper databricks ", []string{"env", "configure"}},
		{"entra-helper databricks env --shell f", []string{"fish"}},
		{"entra-helper databricks configure --", []string{"--profile", "--databricks-profile", "--help"}},
		{"entra-helper inspect --", []string{"--verify", "--json", "--help"}},
		{"entra-helper azure ", []string{"env"}},
		{"entra-helper azure env --", []string{"--profile", "--terraform", "--shell", "--help"}},
		{"entra-helper git ", []string{"configure"}},
		{"entra-helper git configure --", []string{"--profile", "--url", "--unset", "--help"}},
		{"entra-helper credential ", []string{"-p", "--profile", "--url", "-h", "--help", "get", "store", "erase"}},
		{"entra-helper status --", []string{"--json", "--help"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			script := `
_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; }
source completions/entra-helper.bash
read -r -a COMP_WORDS <<<"$LINE"
case $LINE in *" ") COMP_WORDS+=("") ;; esac
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_entra_helper
printf '%s\n' "${COMPREPLY[@]}"
`
			cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
			cmd.Env = append(os.Environ(), "LINE="+tt.line, "ENTRA_HELPER_CONFIG="+example)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			sort.Strings(got)
			want := slices.Clone(tt.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("completions %v, want %v", got, want)
			}
		})
	}
}

// TestManPages has groff check the man pages for warnings.
func TestManPages(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff is not installed")
	}
	for _, page := range []string{"man/entra-helper.1", "man/entra-helperd.8"} {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", page)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("groff %s: %v\n%s", page, err, out)
		}
	}
}
