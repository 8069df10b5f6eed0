package svc

import (
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the unit files and plist under packaging/ from the renderers")

func TestRenderSystemdUnit(t *testing.T) {
	hardening := []string{
		"User=entra-helper", "Group=entra-helper",
		"RuntimeDirectory=entra-helper", "StateDirectory=entra-helper",
		"LoadCredential=store.key:/etc/entra-helper/store.key",
		"Environment=ENTRA_HELPER_CONFIG=/etc/entra-helper/config.toml",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
		"ProtectControlGroups=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
		"RestrictNamespaces=yes", "LockPersonality=yes", "MemoryDenyWriteExecute=yes",
		"SystemCallArchitectures=native", "CapabilityBoundingSet=", "UMask=0077", "LimitCORE=0",
		"WantedBy=multi-user.target",
	}
	common := []string{
		"ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "[Install]", "UMask=0077", "LimitCORE=0",
	}
	tests := []struct {
		name    string
		mode    Mode
		exec    string
		want    []string
		notWant []string
	}{
		{"user", User, "/usr/bin/entra-helperd",
			append([]string{"ExecStart=/usr/bin/entra-helperd run", "WantedBy=default.target"}, common...),
			[]string{"multi-user.target", "User=", "LoadCredential", "ProtectSystem"}},
		{"system", System, "/usr/bin/entra-helperd",
			append(append([]string{"ExecStart=/usr/bin/entra-helperd run --system", "After=network-online.target"}, common...), hardening...),
			[]string{"default.target", "ENTRA_HELPER_SOCKET"}},
		{"path with a space", User, "/opt/my tools/entra-helperd",
			[]string{`ExecStart="/opt/my tools/entra-helperd" run`}, nil},
		{"specifier and variable", User, "/opt/100%/$HOME/entra-helperd",
			[]string{"ExecStart=/opt/100%%/$$HOME/entra-helperd run"}, nil},
		{"quote and backslash", System, `/opt/a"b\c/entra-helperd`,
			[]string{`ExecStart="/opt/a\"b\\c/entra-helperd" run --system`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unit, err := RenderSystemdUnit(tt.mode, tt.exec)
			if err != nil {
				t.Fatal(err)
			}
			lines := map[string]bool{}
			for _, l := range strings.Split(unit, "\n") {
				lines[l] = true
			}
			for _, w := range tt.want {
				if !lines[w] {
					t.Errorf("unit lacks the line %q:\n%s", w, unit)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(unit, nw) {
					t.Errorf("unit contains %q:\n%s", nw, unit)
				}
			}
		})
	}
}

func TestRenderRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"entra-helperd", "bin/entra-helperd", "/opt/a\nb", "/opt/{{Name}}/x", ""} {
		if _, err := RenderSystemdUnit(User, p); err == nil {
			t.Errorf("RenderSystemdUnit(%q) succeeded", p)
		}
		if _, err := RenderLaunchdPlist(User, p, "/Users/a"); err == nil {
			t.Errorf("RenderLaunchdPlist(%q) succeeded", p)
		}
	}
	if _, err := RenderLaunchdPlist(User, "/usr/local/bin/entra-helperd", ""); err == nil {
		t.Error("RenderLaunchdPlist without a home succeeded")
	}
}

// plistEntries decodes the top-level dict of a plist into key -> raw element
// text, failing on malformed XML.
func plistEntries(t *testing.T, plist string) map[string]string {
	t.Helper()
	var doc struct {
		Dict struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal([]byte(plist), &doc); err != nil {
		t.Fatalf("plist is not well-formed XML: %v\n%s", err, plist)
	}
	d := xml.NewDecoder(strings.NewReader(string(doc.Dict.Inner)))
	out := map[string]string{}
	var key string
	depth := 0
	var val strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > 1 {
				val.WriteString("<" + tk.Name.Local + ">")
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				if tk.Name.Local == "key" {
					key = val.String()
				} else {
					if tk.Name.Local == "true" || tk.Name.Local == "false" {
						val.WriteString(tk.Name.Local)
					}
					out[key] = val.String()
				}
				val.Reset()
			} else {
				val.WriteString("</" + tk.Name.Local + ">")
			}
		case xml.CharData:
			if depth > 0 {
				val.WriteString(strings.TrimSpace(string(tk)))
			}
		}
	}
	return out
}

func TestRenderLaunchdPlist(t *testing.T) {
	tests := []struct {
		name    string
		mode    Mode
		exec    string
		home    string
		want    map[string]string
		notWant []string
	}{
		{"agent", User, "/usr/local/bin/entra-helperd", "/Users/ada", map[string]string{
			"Label":             LaunchdLabel,
			"ProgramArguments":  "<string>/usr/local/bin/entra-helperd</string><string>run</string>",
			"RunAtLoad":         "true",
			"KeepAlive":         "<key>SuccessfulExit</key><false></false>",
			"StandardErrorPath": "/Users/ada/Library/Logs/entra-helper/entra-helperd.log",
			"StandardOutPath":   "/Users/ada/Library/Logs/entra-helper/entra-helperd.log",
			"Umask":             "63",
		}, []string{"EnvironmentVariables", "UserName"}},
		{"daemon", System, "/usr/local/bin/entra-helperd", "", map[string]string{
			"StandardErrorPath":    "/Library/Logs/entra-helper/entra-helperd.log",
			"EnvironmentVariables": "<key>ENTRA_HELPER_CONFIG</key><string>/Library/Application Support/entra-helper/config.toml</string>",
			"ProgramArguments":     "<string>/usr/local/bin/entra-helperd</string><string>run</string><string>--system</string>",
		}, []string{"ENTRA_HELPER_SOCKET"}},
		{"escaped", User, "/Applications/A & B <x>/entra-helperd", "/Users/o'neil", map[string]string{
			"ProgramArguments":  "<string>/Applications/A & B <x>/entra-helperd</string><string>run</string>",
			"StandardErrorPath": "/Users/o'neil/Library/Logs/entra-helper/entra-helperd.log",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plist, err := RenderLaunchdPlist(tt.mode, tt.exec, tt.home)
			if err != nil {
				t.Fatal(err)
			}
			got := plistEntries(t, plist)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.notWant {
				if _, ok := got[k]; ok {
					t.Errorf("plist has %s", k)
				}
			}
		})
	}
}

// TestSystemdAnalyzeVerify has systemd itself check the rendered units.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt package systemd)")
	}
	exe, err := os.Executable() // an executable that exists, for ExecStart
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{User, System} {
		t.Run(mode.String(), func(t *testing.T) {
			unit, err := RenderSystemdUnit(mode, exe)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, ServiceName+".service")
			if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", "--man=no", path}
			if mode == User {
				args = append([]string{"--user"}, args...)
			}
			cmd := exec.Command(sa, args...)
			runtimeDir := t.TempDir()
			cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir, "SYSTEMD_LOG_LEVEL=notice")
			out, err := cmd.CombinedOutput()
			if err != nil && strings.Contains(string(out), "Failed to initialize manager") {
				t.Skipf("systemd-analyze cannot run here: %s", strings.TrimSpace(string(out)))
			}
			if err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Fatalf("systemd-analyze %s: %v\n%s\nunit:\n%s", strings.Join(args, " "), err, out, unit)
			}
			if mode != System {
				return
			}
			// The sandboxing must keep systemd's exposure score low.
			out, err = exec.Command(sa, "security", "--offline=yes", "--no-pager", path).CombinedOutput()
			if err != nil {
				t.Logf("systemd-analyze security --offline unavailable: %v", err)
				return
			}
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no exposure level in:\n%s", out)
			}
			score, _ := strconv.ParseFloat(string(m[1]), 64)
			if score > 3.0 {
				t.Errorf("exposure level %.1f > 3.0:\n%s", score, out)
			}
		})
	}
}

// TestPackagedDefinitions keeps the unit files and the plist shipped under
// packaging/ identical to what the renderers produce (go test -update rewrites them).
func TestPackagedDefinitions(t *testing.T) {
	files := []struct {
		path   string
		render func() (string, error)
	}{
		{"../../packaging/systemd/system/entra-helperd.service", func() (string, error) {
			return RenderSystemdUnit(System, "/usr/bin/entra-helperd")
		}},
		{"../../packaging/systemd/user/entra-helperd.service", func() (string, error) {
			return RenderSystemdUnit(User, "/usr/bin/entra-helperd")
		}},
		{"../../packaging/launchd/" + LaunchdLabel + ".plist", func() (string, error) {
			return RenderLaunchdPlist(User, "/usr/local/bin/entra-helperd", "@HOME@")
		}},
	}
	for _, f := range files {
		want, err := f.render()
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatalf("%v (run `go test ./daemon/svc -run TestPackagedDefinitions -update`)", err)
		}
		if string(got) != want {
			t.Errorf("%s differs from the renderer's output: run `go test ./daemon/svc -run TestPackagedDefinitions -update`", f.path)
		}
	}
}
