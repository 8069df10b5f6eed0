package store

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	state := t.TempDir()
	keyFile := writeKeyFile(t, randBytes(t, 32), 0o600)
	tests := []struct {
		name, kind, stateDir, keyFile string
		wantName, wantReason, wantErr string
	}{
		{"keyring", "keyring", "", "", "keyring", `store = "keyring"`, ""},
		{"default", "", "", "", "keyring", `service "entra-helper"`, ""},
		{"file", "file", state, keyFile, "file", "AES-256-GCM encrypted files in " + filepath.Join(state, "store"), ""},
		{"file without state dir", "file", "", keyFile, "", "", "needs a state directory"},
		{"file with a bad key file", "file", state, filepath.Join(state, "missing"), "", "", "cannot read the store key file"},
		{"unknown", "vault", state, "", "", "", `unknown store "vault": want "keyring" or "file"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, reason, err := Open(tc.kind, tc.stateDir, tc.keyFile, "")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open: %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != tc.wantName || !strings.Contains(reason, tc.wantReason) {
				t.Fatalf("Open = %s, %q; want %s and a reason with %q", s.Name(), reason, tc.wantName, tc.wantReason)
			}
		})
	}
	checkPrivate(t, filepath.Join(state, "store"))
}
