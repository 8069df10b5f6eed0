//go:build unix

package e2e

// The encrypted file store (store = "file"), as a headless service uses it:
// refresh tokens and secrets survive a kill -9, nothing readable is left in
// the state directory, nothing goes to the keychain, and a wrong key is a
// clear failure that destroys nothing.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entra-helper/entra-helper/internal/entratest"
	"github.com/entra-helper/entra-helper/store"
)

func TestFileStoreEndToEnd(t *testing.T) {
	const (
		user   = "e2e-filestore-user"
		sp     = "e2e-filestore-sp"
		secret = "file-store~Client.Secret-Value-9876543210xyz"
	)
	e := newEnvWith(t, entratest.Options{AutoApproveDeviceCodes: true},
		profileTOML(user, "device-code", publicClientID)+profileTOML(sp, "client-secret", spClientID))
	stateDir := filepath.Join(e.dir, "state")
	keyFile := filepath.Join(e.dir, "store.key")
	writeStoreKey(t, keyFile)
	e.daemonConfig(`store = "file"`, `state_dir = "`+stateDir+`"`, `store_key_file = "`+keyFile+`"`)
	e.addAlice()
	e.entra.AddApp(entratest.App{ClientID: spClientID, Secret: secret})
	e.secrets = append(e.secrets, secret)
	e.startDaemon()
	if st := e.status(); st.Store != "file" {
		t.Fatalf("status says store %q, want file", st.Store)
	}

	mustLogin(t, e, "", "-p", user)
	mustLogin(t, e, secret, "-p", sp, "--secret-stdin")
	var accessTokens []string
	for _, args := range [][]string{{"-p", user}, {"-p", sp}, {"-p", user, "--resource", managementRes}} {
		accessTokens = append(accessTokens, e.token(args...))
	}

	// The test reads the store as the daemon does, to know the refresh
	// token it must not find in the clear.
	fileStore, err := store.NewFile(filepath.Join(stateDir, "store"), keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rt := storedRefreshToken(t, fileStore, user)
	e.secrets = append(e.secrets, rt)
	if got, err := fileStore.Get(context.Background(), "profile/"+sp+"/client-secret"); err != nil || string(got) != secret {
		t.Fatalf("the file store does not hold the client secret (err %v)", err)
	}
	for _, p := range []string{user, sp} {
		if left := keyringLeftovers(t, p); len(left) > 0 {
			t.Errorf("with store = \"file\" the keychain holds %v", left)
		}
	}

	// kill -9 and start again: both profiles work without a new sign-in.
	e.killDaemon()
	signIns := interactiveGrants(e.entra)
	e.startDaemon()
	accessTokens = append(accessTokens, e.token("-p", user), e.token("-p", sp))
	if n := interactiveGrants(e.entra) - signIns; n != 0 {
		t.Errorf("after a restart the daemon made %d interactive grant requests, want 0", n)
	}
	rt = storedRefreshToken(t, fileStore, user)
	e.secrets = append(e.secrets, rt)

	checkStateDir(t, stateDir, append([]string{secret, rt, alicePassword}, accessTokens...))

	// A wrong key: a clear failure, and the stored data is left as it was.
	e.stopDaemon()
	before := snapshotDir(t, stateDir)
	writeStoreKey(t, keyFile)
	e.startDaemon()
	for _, p := range []string{user, sp} {
		_, stderr, code := e.client("", "token", "-p", p)
		if code == 0 || code == 4 || !strings.Contains(stderr, p) {
			t.Errorf("token -p %s with a wrong store key: exit %d, %q; want a failure naming the profile", p, code, stderr)
		}
	}
	e.stopDaemon()
	if after := snapshotDir(t, stateDir); !equalSnapshots(before, after) {
		t.Errorf("a daemon with a wrong store key changed the store's files")
	}
}

// writeStoreKey writes 32 random bytes, 0600, as `head -c32 /dev/urandom`.
func writeStoreKey(t *testing.T, path string) {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkStateDir walks every file under dir: none may hold a secret or a
// token, nor plaintext JSON of MSAL's cache or a key name; files are 0600
// and directories 0700.
func checkStateDir(t *testing.T, dir string, secrets []string) {
	t.Helper()
	words := [][]byte{[]byte("refresh"), []byte("secret"), []byte("access_token"), []byte("home_account_id"), []byte("profile/"), []byte(alice)}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if perm := info.Mode().Perm(); perm&0o077 != 0 && path != dir {
				t.Errorf("directory %s is %o, want no access for group and others", rel, perm)
			}
			return nil
		}
		files++
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("file %s is %o, want 600", rel, perm)
		}
		for _, w := range words {
			if bytes.Contains(bytes.ToLower([]byte(rel)), w) {
				t.Errorf("the file name %s shows %q", rel, w)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lower := bytes.ToLower(b)
		for i, s := range secrets {
			if len(s) >= 8 && bytes.Contains(b, []byte(s)) {
				t.Errorf("file %s holds secret or token #%d in the clear", rel, i)
			}
		}
		for _, w := range words {
			if bytes.Contains(lower, w) {
				t.Errorf("file %s holds %q in the clear", rel, w)
			}
		}
		if json.Valid(b) || bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			t.Errorf("file %s holds plaintext JSON", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Fatalf("the state directory holds %d files: where did the store go?", files)
	}
}

// snapshotDir maps every file under dir to its content.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
