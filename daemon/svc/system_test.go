package svc

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/ipc"
)

// TestSystemServiceListensWhereClientsDial renders the system service
// definition of each OS and checks that it starts the daemon with
// --system, which listens on ipc.SystemSocketPathFor(goos) (the socket or
// pipe that the client of that OS dials), and that nothing in the
// definition points the daemon elsewhere (ENTRA_HELPER_SOCKET) or keeps
// the socket's directory from existing.
func TestSystemServiceListensWhereClientsDial(t *testing.T) {
	for _, tc := range []struct {
		goos, exe string
	}{
		{"linux", "/usr/bin/entra-helperd"},
		{"darwin", "/usr/local/bin/entra-helperd"},
		{"windows", `C:\Program Files\entra-helper\entra-helperd.exe`},
	} {
		t.Run(tc.goos, func(t *testing.T) {
			c := &controller{goos: tc.goos, mode: System, exe: tc.exe}
			cfg, err := c.config()
			if err != nil {
				t.Fatal(err)
			}
			sock := ipc.SystemSocketPathFor(tc.goos)
			var def string // the definition as the service manager reads it
			var args []string
			switch tc.goos {
			case "linux":
				def = cfg.Option["SystemdScript"].(string)
				m := regexp.MustCompile(`(?m)^ExecStart=(\S+) (.*)$`).FindStringSubmatch(def)
				if m == nil || m[1] != tc.exe {
					t.Fatalf("no ExecStart of %s in\n%s", tc.exe, def)
				}
				args = strings.Fields(m[2])
				// systemd creates /run/<RuntimeDirectory> for the socket.
				if want := "RuntimeDirectory=" + strings.TrimPrefix(path.Dir(sock), "/run/"); !strings.Contains(def, want+"\n") || !strings.HasPrefix(sock, "/run/") {
					t.Errorf("the unit lacks %q for the socket %s", want, sock)
				}
			case "darwin":
				def = cfg.Option["LaunchdConfig"].(string)
				m := regexp.MustCompile(`(?s)<key>ProgramArguments</key>\s*<array>(.*?)</array>`).FindStringSubmatch(def)
				if m == nil {
					t.Fatalf("no ProgramArguments in\n%s", def)
				}
				for _, s := range regexp.MustCompile(`<string>(.*?)</string>`).FindAllStringSubmatch(m[1], -1) {
					args = append(args, s[1])
				}
				if len(args) == 0 || args[0] != tc.exe {
					t.Fatalf("ProgramArguments %q do not start %s", args, tc.exe)
				}
				args = args[1:]
			case "windows":
				if cfg.Executable != tc.exe {
					t.Fatalf("the service runs %q, want %q", cfg.Executable, tc.exe)
				}
				args = cfg.Arguments
				for k, v := range cfg.EnvVars {
					def += k + "=" + v + "\n"
				}
			}
			if !slices.Equal(args, []string{"run", "--system"}) {
				t.Errorf("the service starts the daemon with %q, want run --system", args)
			}
			if strings.Contains(def, ipc.SocketEnv) || cfg.EnvVars[ipc.SocketEnv] != "" {
				t.Errorf("the definition sets %s, so the daemon would not listen on %s:\n%s", ipc.SocketEnv, sock, def)
			}
		})
	}
	// Each OS has its own path, the one its client dials.
	want := map[string]string{
		"linux":   "/run/entra-helper/daemon.sock",
		"darwin":  "/var/run/entra-helper/daemon.sock",
		"windows": `\\.\pipe\entra-helper`,
	}
	for goos, p := range want {
		if got := ipc.SystemSocketPathFor(goos); got != p {
			t.Errorf("SystemSocketPathFor(%s) = %q, want %q", goos, got, p)
		}
	}
}
