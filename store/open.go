package store

import (
	"fmt"
	"path/filepath"
)

// Open returns the Store named by kind ("keyring", the default when kind is
// "", or "file") and a one-line reason for the daemon's log saying which
// backend it is and where it keeps its data. The file store lives in
// stateDir/store with its key from keyFile ("" means
// $CREDENTIALS_DIRECTORY/store.key). configPath is the config file that the
// fixes of keychain failures name. Open does not contact the keychain: a
// missing or locked one shows on the first call, which fails in seconds
// with an *UnavailableError.
func Open(kind, stateDir, keyFile, configPath string) (Store, string, error) {
	switch kind {
	case "keyring", "":
		k := NewKeyring(KeyringOptions{ConfigPath: configPath})
		return k, fmt.Sprintf("store = %q: secrets in %s (service %q)", "keyring", keychainName(), k.service), nil
	case "file":
		if stateDir == "" {
			return nil, "", fmt.Errorf("store: store = \"file\" needs a state directory (state_dir or $STATE_DIRECTORY)")
		}
		if keyFile == "" {
			keyFile = DefaultStoreKeyFile()
		}
		dir := filepath.Join(stateDir, "store")
		f, err := NewFile(dir, keyFile)
		if err != nil {
			return nil, "", err
		}
		return f, fmt.Sprintf("store = %q: AES-256-GCM encrypted files in %s, key from %s", "file", dir, keyFile), nil
	}
	return nil, "", fmt.Errorf("store: unknown store %q: want \"keyring\" or \"file\"", kind)
}
