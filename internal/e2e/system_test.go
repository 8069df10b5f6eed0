//go:build unix

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/ipc"
)

// TestSystemModeEndToEnd runs `entra-helperd run --system` as root with a
// profile whose allowed_users names nobody and one that does not: uid 65534
// gets a token of the first through the system socket and through the
// metadata endpoint, is refused the second on both, sees only the first in
// status, and all four decisions are audit records of one format. The
// socket lives in a fresh directory (ENTRA_HELPER_SOCKET), not in
// /run/entra-helper, so runs in parallel never meet.
func TestSystemModeEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the system daemon and a client as another uid")
	}
	profiles := attackProfile + strings.ReplaceAll(attackProfile, "[profiles.sp]", "[profiles.private]")
	profiles = strings.Replace(profiles, "[profiles.sp]", "[profiles.sp]\nallowed_users = [\"nobody\"]", 1)
	e := newEnv(t, profiles)
	e.secrets = append(e.secrets, attackSecret)
	e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: attackSecret})
	e.enableMetadata()
	e.daemonConfig(`log_format = "json"`)

	// A directory every user may enter, holding the system socket's
	// directory (created 0755 by the daemon) and the client.
	open, err := os.MkdirTemp("", "eh-system")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(open)
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(open, "run", "daemon.sock")
	e.setenv(ipc.SocketEnv + "=" + sock)
	e.daemonArgs = []string{"run", "--system"}
	e.startDaemon()
	for _, p := range []string{"sp", "private"} {
		e.t.Cleanup(func() { e.client("", "logout", "-p", p) })
		if _, stderr, code := e.client(attackSecret, "login", "-p", p, "--secret-stdin"); code != 0 {
			t.Fatalf("login -p %s: exit %d: %s", p, code, stderr)
		}
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("system socket: %v, %v; want mode 0666 (the access policy decides)", fi, err)
	}
	client := filepath.Join(open, "entra-helper")
	copyFile(t, filepath.Join(binDir, "entra-helper"), client, 0o755)
	asNobody := func(stdin, name string, args ...string) (string, string, int) {
		cmd := exec.Command(name, args...)
		cmd.Env = []string{"HOME=" + open, "PATH=/usr/bin:/bin", ipc.SocketEnv + "=" + sock, "ENTRA_HELPER_NO_AUTOSTART=1"}
		cmd.Dir = open
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
		out, errOut, code := runCmd(t, cmd, stdin)
		e.outputs = append(e.outputs, errOut)
		return out, errOut, code
	}

	// The socket.
	out, stderr, code := asNobody("", client, "token", "-p", "sp")
	if code != 0 || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("uid %d, token -p sp (allowed): exit %d: %s", nobodyUID, code, stderr)
	}
	e.secrets = append(e.secrets, strings.TrimSpace(out))
	out, stderr, code = asNobody("", client, "token", "-p", "private")
	if code == 0 || out != "" || !strings.Contains(stderr, "profile private does not allow uid 65534") {
		t.Fatalf("uid %d, token -p private: exit %d, stdout %q, stderr %q; want the policy's refusal", nobodyUID, code, out, stderr)
	}
	// Using a profile is not managing it.
	if _, stderr, code := asNobody("", client, "logout", "-p", "sp"); code == 0 || !strings.Contains(stderr, "not sign it in or out") {
		t.Fatalf("uid %d signed profile sp out: exit %d: %s", nobodyUID, code, stderr)
	}
	out, stderr, code = asNobody("", client, "status", "--json")
	var st ipc.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("uid %d, status: exit %d: %s", nobodyUID, code, stderr)
	}
	if len(st.Profiles) != 1 || st.Profiles[0].Name != "sp" || st.Config != "" {
		t.Fatalf("uid %d sees profiles %+v and config %q, want only sp and no config path", nobodyUID, st.Profiles, st.Config)
	}

	// The metadata endpoint, with the URLs the owner reads; curl gets the
	// URL on stdin, never in its argv.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is needed to call the metadata endpoint as another uid")
	}
	for profile, want := range map[string]string{"sp": "200", "private": "403"} {
		url := e.systemMetadataURL(sock, profile)
		cfg := fmt.Sprintf("url = %q\nheader = \"X-Databricks-Metadata-Version: 1\"\nheader = \"X-Databricks-Host: %s\"\nsilent\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\"\n", url, attackWorkspace)
		out, stderr, code := asNobody(cfg, curl, "--config", "-")
		if code != 0 || out != want {
			t.Errorf("metadata endpoint, profile %s, as uid %d: curl exit %d, status %q (%s), want %s", profile, nobodyUID, code, out, stderr, want)
		}
	}

	// The audit trail: the four decisions about uid 65534, one format.
	e.stopDaemon() // a clean stop writes every queued record
	want := map[string]bool{"socket granted sp": false, "socket refused private": false, "metadata granted sp": false, "metadata refused private": false}
	var keys [][]string
	sc := bufio.NewScanner(strings.NewReader(e.daemonLog()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec["logger"] != "audit" || rec["msg"] != "access" || rec["uid"] != float64(nobodyUID) {
			continue
		}
		k := fmt.Sprintf("%s %s %s", rec["surface"], rec["decision"], rec["profile"])
		if _, ok := want[k]; ok {
			want[k] = true
			var fields []string
			for f := range rec {
				if f != "ts" && f != "expires" && f != "reason" {
					fields = append(fields, f)
				}
			}
			slices.Sort(fields)
			keys = append(keys, fields)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no audit record %q for uid %d", k, nobodyUID)
		}
	}
	for _, k := range keys[1:] {
		if !slices.Equal(k, keys[0]) {
			t.Errorf("audit records differ in format: %v and %v", k, keys[0])
		}
	}
}

// systemMetadataURL asks the daemon at sock for the profile's metadata
// URL; its path secret joins the leak check.
func (e *env) systemMetadataURL(sock, profile string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := ipc.Call(ctx, sock, &ipc.Request{Op: ipc.OpProfile, Profile: profile}, nil)
	if err != nil || resp.Profile == nil || resp.Profile.MetadataURL == "" {
		e.t.Fatalf("profile %s: %+v, %v", profile, resp, err)
	}
	parts := strings.Split(resp.Profile.MetadataURL, "/")
	if len(parts) == 5 {
		e.secrets = append(e.secrets, parts[3])
	}
	return resp.Profile.MetadataURL
}
