package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/internal/private"
	"github.com/entra-helper/entra-helper/ipc"
)

const setupUsage = `Usage: entra-helper setup [-p PROFILE] [--flow FLOW] [--tenant TENANT] [--client-id ID]
                          [--cloud public|usgov|china] [--authority-host URL]
                          [--databricks-host URL] [--username NAME] [--federated-token-file PATH]
                          [--secret-stdin | --certificate-stdin | --password-stdin |
                           --refresh-token-stdin] [--store keyring|file] [--no-browser]
                          [--no-login] [--yes]

From nothing to a signed-in profile: asks on a terminal for what the options
do not give, picks a secret store that works on this machine, says what it
will write, writes the config file (a commented [profiles.PROFILE] table;
other profiles and comments are kept), signs the profile in to prove it
works, and prints the commands to use it.

The store: the OS keychain when it answers here; else (or with --store file)
the encrypted file store with a fresh random key in a 0600 file next to the
config (an existing key file is kept, never replaced). Secrets are read from
stdin or a prompt without echo, never from the command line, and go only to
the store.

Options:
  -p, --profile NAME          the profile to create or update (default: "default")
      --flow FLOW             client-secret | client-certificate | federated | browser |
                              device-code | username-password | refresh-token | managed-identity
      --tenant TENANT         tenant ID or domain; may be left out with --databricks-host
                              (found from the workspace)
      --client-id ID          the application (client) ID
      --cloud CLOUD           public (default) | usgov | china
      --authority-host URL    a private or test authority instead of the cloud's
      --databricks-host URL   the Azure Databricks workspace URL
      --username NAME         the user (username-password) or a login hint
      --federated-token-file PATH   the federated flow's token file
      --secret-stdin ...      as for entra-helper login: read the secret from stdin
      --store STORE           keyring | file (default: the keychain if it answers here, else file)
      --no-browser            browser flow: only print the sign-in URL
      --no-login              write the config only; sign in later with entra-helper login
  -y, --yes                   do not ask for confirmation (scripts)

Examples:
  entra-helper setup
  entra-helper setup -p sp --flow client-secret --tenant contoso.onmicrosoft.com \
      --client-id 12a34b56-789c-0d12-e3fa-b456789c0123 --secret-stdin --yes < secret.txt
`

// flowSecret is the login option that carries each flow's secret.
var flowSecret = map[string]string{
	"client-secret":      "secret-stdin",
	"client-certificate": "certificate-stdin",
	"username-password":  "password-stdin",
	"refresh-token":      "refresh-token-stdin",
}

var flows = []string{"client-secret", "client-certificate", "federated", "browser", "device-code",
	"username-password", "refresh-token", "managed-identity"}

// validProfileName reports whether name is a profile name setup writes: one
// or more ASCII letters, digits, '_', '.' and '-'. (A loop, not a regexp:
// the client compiles nothing at start-up, which every command, token
// included, would pay.)
func validProfileName(name string) bool {
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return name != ""
}

// setupInput is what setup asks for.
type setupInput struct {
	profile, flow, tenant, clientID, cloud, authority, databricksHost, username, federatedFile string
	store, secretFlag                                                                          string
	yes, noBrowser, noLogin                                                                    bool
}

func (a *app) cmdSetup(args []string) error {
	fs := newFlagSet("setup")
	in := setupInput{}
	profile := a.profileFlag(fs)
	strs := map[string]*string{}
	for _, name := range []string{"flow", "tenant", "client-id", "cloud", "authority-host", "databricks-host", "username", "federated-token-file", "store"} {
		strs[name] = fs.String("", name, "")
	}
	for _, k := range secretKinds {
		fs.Bool("", k.flag)
	}
	yes := fs.Bool("y", "yes")
	noBrowser := fs.Bool("", "no-browser")
	noLogin := fs.Bool("", "no-login")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q (secrets are read from stdin, never from the command line)", fs.args[0])
	}
	for _, k := range secretKinds {
		if fs.isSet(k.flag) {
			if in.secretFlag != "" {
				return fs.usagef("--%s and --%s both read stdin; give one", in.secretFlag, k.flag)
			}
			in.secretFlag = k.flag
		}
	}
	in.profile, in.flow, in.tenant, in.clientID = *profile, *strs["flow"], *strs["tenant"], *strs["client-id"]
	in.cloud, in.authority, in.databricksHost = *strs["cloud"], *strs["authority-host"], *strs["databricks-host"]
	in.username, in.federatedFile, in.store = *strs["username"], *strs["federated-token-file"], *strs["store"]
	in.yes, in.noBrowser, in.noLogin = *yes, *noBrowser, *noLogin
	if in.store != "" && in.store != "keyring" && in.store != "file" {
		return fs.usagef("--store %q: want keyring or file", in.store)
	}
	if err := a.askSetup(&in); err != nil {
		return err
	}
	return a.setup(in)
}

// interactive reports whether setup may ask on the terminal.
func (a *app) interactive() bool { return a.stdinIsTerm != nil && a.stdinIsTerm() }

// ask prints label (with def) and reads one line from the terminal.
func (a *app) ask(label, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(a.stderr, "%s [%s]: ", label, def)
	} else {
		fmt.Fprintf(a.stderr, "%s: ", label)
	}
	v, err := readLine(a.stdin)
	if err != nil {
		return "", failf("reading the answer failed: %v", err)
	}
	if v = strings.TrimSpace(v); v == "" {
		v = def
	}
	return v, nil
}

// need fills *v from the terminal, or fails naming the option.
func (a *app) need(v *string, label, option, def string) error {
	if *v != "" {
		return nil
	}
	if !a.interactive() {
		if def != "" {
			*v = def
			return nil
		}
		return usageError(fmt.Sprintf("setup needs %s: pass --%s (stdin is not a terminal to ask on); see `entra-helper setup --help`", label, option))
	}
	for *v == "" {
		s, err := a.ask(strings.ToUpper(label[:1])+label[1:], def)
		if err != nil {
			return err
		}
		*v = s
	}
	return nil
}

// askSetup completes in from the terminal, or fails naming what is missing.
func (a *app) askSetup(in *setupInput) error {
	if err := a.need(&in.profile, "a profile name", "profile", "default"); err != nil {
		return err
	}
	if !validProfileName(in.profile) {
		return usageError(fmt.Sprintf("profile name %q: use only letters, digits, '_', '.' and '-'", in.profile))
	}
	if in.flow == "" && in.secretFlag != "" {
		for f, s := range flowSecret {
			if s == in.secretFlag {
				in.flow = f
			}
		}
	}
	if err := a.need(&in.flow, "the sign-in flow ("+strings.Join(flows, ", ")+")", "flow", ""); err != nil {
		return err
	}
	if !slices.Contains(flows, in.flow) {
		return usageError(fmt.Sprintf("flow %q: want one of %s", in.flow, strings.Join(flows, ", ")))
	}
	if in.secretFlag != "" && flowSecret[in.flow] != in.secretFlag {
		return usageError(fmt.Sprintf("--%s does not go with flow %s", in.secretFlag, in.flow))
	}
	if in.flow != "managed-identity" {
		if in.databricksHost == "" && a.interactive() {
			if _, err := a.askOptional(&in.databricksHost, "Azure Databricks workspace URL (empty for none)"); err != nil {
				return err
			}
		}
		if in.tenant == "" && in.databricksHost == "" {
			if err := a.need(&in.tenant, "the tenant (ID or domain)", "tenant", ""); err != nil {
				return err
			}
		}
		if err := a.need(&in.clientID, "the application (client) ID", "client-id", ""); err != nil {
			return err
		}
	}
	switch in.flow {
	case "username-password":
		if err := a.need(&in.username, "the username", "username", ""); err != nil {
			return err
		}
	case "federated":
		if err := a.need(&in.federatedFile, "the federated token file", "federated-token-file", ""); err != nil {
			return err
		}
	}
	return nil
}

// askOptional asks on the terminal for a value that may stay empty.
func (a *app) askOptional(v *string, label string) (bool, error) {
	s, err := a.ask(label, "")
	if err != nil {
		return false, err
	}
	*v = s
	return s != "", nil
}

// configPath is the config file the daemon reads: $ENTRA_HELPER_CONFIG,
// else <user config dir>/entra-helper/config.toml.
func (a *app) configPath() (string, error) {
	if p := a.getenv("ENTRA_HELPER_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", failf("cannot find the config directory (%v); set ENTRA_HELPER_CONFIG", err)
	}
	return filepath.Join(dir, "entra-helper", "config.toml"), nil
}

// storePlan is the store part of a setup: which store, and for the file
// store its key file and whether it is created.
type storePlan struct {
	kind      string
	keyFile   string
	createKey bool
	why       string // why this store, for the plan
}

// pickStore chooses the store: want if set (the keychain only if it
// answers), else the config's, else the keychain when it answers here and
// the file store otherwise.
func (a *app) pickStore(ctx context.Context, cfgPath, doc, want string) (storePlan, error) {
	configured := tableValue(doc, "daemon", "store")
	kind := want
	if kind == "" {
		kind = configured
	}
	if kind == "" || kind == "keyring" {
		c, err := a.storeCheck(ctx, cfgPath, "keyring")
		switch {
		case err != nil:
			return storePlan{}, failf("cannot check the keychain: %v", err)
		case c.Level == ipc.CheckOK:
			return storePlan{kind: "keyring", why: "the OS keychain answers here"}, nil
		case kind == "keyring":
			return storePlan{}, failf("%s; %s", c.Message, c.Fix)
		}
		p, err := a.fileStorePlan(cfgPath, doc)
		p.why = "the keychain cannot be used here: " + strings.TrimPrefix(c.Message, "keyring: ")
		return p, err
	}
	p, err := a.fileStorePlan(cfgPath, doc)
	p.why = "asked for"
	if want == "" {
		p.why = "the config's store"
	}
	return p, err
}

// storeCheck asks `entra-helperd check` about store kind.
func (a *app) storeCheck(ctx context.Context, cfgPath, kind string) (ipc.Check, error) {
	checks, err := a.daemonChecks(ctx, "--config", cfgPath, "--store", kind)
	if err != nil {
		return ipc.Check{}, err
	}
	for _, c := range checks {
		if c.Name == "store" {
			return c, nil
		}
	}
	return ipc.Check{}, errors.New("entra-helperd check reported no store check")
}

// fileStorePlan keeps the configured key file if it exists, else plans a
// fresh one (next to the config unless one is configured).
func (a *app) fileStorePlan(cfgPath, doc string) (storePlan, error) {
	key := tableValue(doc, "daemon", "store_key_file")
	if key == "" {
		key = filepath.Join(filepath.Dir(cfgPath), "store.key")
	}
	_, err := os.Stat(key)
	switch {
	case err == nil:
		return storePlan{kind: "file", keyFile: key}, nil
	case errors.Is(err, fs.ErrNotExist):
		return storePlan{kind: "file", keyFile: key, createKey: true}, nil
	}
	return storePlan{}, failf("cannot check the store key file: %v", err)
}

// tableValue returns the string value of key in table of a TOML document,
// "" when absent (setup's own reading: the daemon validates the result).
func tableValue(doc, table, key string) string {
	current := ""
	for _, l := range strings.Split(doc, "\n") {
		if name, ok := tableName(l); ok {
			current = name
			continue
		}
		if current == table && keyOf(l) == key {
			_, v, _ := strings.Cut(l, "=")
			v = strings.TrimSpace(v)
			if strings.HasPrefix(v, `"`) {
				if end := strings.Index(v[1:], `"`); end >= 0 {
					return strings.ReplaceAll(v[1:end+1], `\\`, `\`)
				}
			}
			if strings.HasPrefix(v, `'`) {
				if end := strings.Index(v[1:], `'`); end >= 0 {
					return v[1 : end+1]
				}
			}
		}
	}
	return ""
}

// daemonKeys are the [daemon] keys that select plan's store.
func (p storePlan) daemonKeys() []tomlKey {
	if p.kind == "keyring" {
		return []tomlKey{{"store", "keyring", "secrets in the OS keychain"}}
	}
	return []tomlKey{
		{"store", "file", "AES-256-GCM encrypted files (0600) in the state directory"},
		{"store_key_file", p.keyFile, "their key: keep it (without it the stored secrets are lost), never share it"},
	}
}

// describe says, for the plan, what the store part writes.
func (p storePlan) describe(w func(string, ...any)) {
	w("  store: %s: %s", p.kind, p.why)
	if p.kind == "file" {
		if p.createKey {
			w("  create %s: a fresh random 32-byte key, mode 0600", p.keyFile)
		} else {
			w("  keep the key file %s", p.keyFile)
		}
	}
}

// createKey writes a fresh random key, never replacing a file, readable by
// its owner only (0600; an owner-only DACL on Windows).
func createKey(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return private.WriteNew(path, []byte(hex.EncodeToString(b)+"\n"))
}

// confirm asks before writing, unless yes; without a terminal it needs yes.
func (a *app) confirm(yes bool, what, option string) error {
	if yes {
		return nil
	}
	if !a.interactive() {
		return usageError(fmt.Sprintf("nothing was written: stdin is not a terminal to ask %q on; pass %s to go ahead without asking", what+"?", option))
	}
	ans, err := a.ask(what+"? (yes/no)", "yes")
	if err != nil {
		return err
	}
	if a := strings.ToLower(ans); a != "y" && a != "yes" {
		return &exitError{code: exitFailed, msg: "nothing was written"}
	}
	return nil
}

// writeConfig writes doc to cfgPath after `entra-helperd check` has loaded it
// from a temporary file beside it: a broken edit never replaces a config.
func (a *app) writeConfig(ctx context.Context, cfgPath, doc string) error {
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o700); err != nil {
		return failf("cannot create the config directory: %v", err)
	}
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(cfgPath); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(cfgPath), ".config-*.toml")
	if err != nil {
		return failf("cannot write the config: %v", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(doc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err != nil {
		return failf("cannot write the config: %v", err)
	}
	checks, err := a.daemonChecks(ctx, "--config", tmp.Name())
	if err != nil {
		return failf("cannot check the new config: %v; nothing was written", err)
	}
	for _, c := range checks {
		if c.Name == "config" && c.Level != ipc.CheckOK {
			return failf("the config setup would write does not load (%s); nothing was written",
				strings.ReplaceAll(c.Message, tmp.Name(), cfgPath))
		}
	}
	if err := os.Rename(tmp.Name(), cfgPath); err != nil {
		return failf("cannot write the config: %v", err)
	}
	return nil
}

// apply creates plan's key file when it is new, then writes doc to cfgPath;
// the new key is removed again if the config cannot be written.
func (a *app) apply(ctx context.Context, sp storePlan, cfgPath, doc string) error {
	if sp.createKey {
		if err := createKey(sp.keyFile); err != nil {
			return failf("cannot create the store key file %s: %v; nothing was written", sp.keyFile, err)
		}
	}
	if err := a.writeConfig(ctx, cfgPath, doc); err != nil {
		if sp.createKey {
			os.Remove(sp.keyFile)
		}
		return err
	}
	return nil
}

// readConfig returns the config file's path and text ("" when there is
// none).
func (a *app) readConfig() (string, string, error) {
	cfgPath, err := a.configPath()
	if err != nil {
		return "", "", err
	}
	b, err := os.ReadFile(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return cfgPath, "", nil
	}
	if err != nil {
		return "", "", failf("cannot read %s: %v", cfgPath, err)
	}
	return cfgPath, string(b), nil
}

const configHeader = `entra-helper configuration (see docs/configuration.md), written by entra-helper setup.
Secrets are never in this file: the daemon keeps them in the store of [daemon].`

func (a *app) setup(in setupInput) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfgPath, doc, err := a.readConfig()
	if err != nil {
		return err
	}
	sp, err := a.pickStore(ctx, cfgPath, doc, in.store)
	if err != nil {
		return err
	}
	table := "profiles." + in.profile
	var pk []tomlKey
	add := func(key, val, comment string) {
		if val != "" {
			pk = append(pk, tomlKey{key, val, comment})
		}
	}
	add("flow", in.flow, "how it signs in")
	tenantNote := "tenant ID or verified domain"
	add("tenant", in.tenant, tenantNote)
	add("client_id", in.clientID, "the application (client) ID")
	add("cloud", in.cloud, "public | usgov | china")
	add("authority_host", in.authority, "instead of the cloud's authority")
	add("username", in.username, "")
	add("federated_token_file", in.federatedFile, "")
	dbxNote := "the Azure Databricks workspace"
	if in.tenant == "" {
		dbxNote += "; the tenant is found from its /aad/auth"
	}
	add("databricks_host", in.databricksHost, dbxNote)

	tables := []string{table}
	keys := map[string][]tomlKey{table: pk}
	storeChanges := tableValue(doc, "daemon", "store") != sp.kind && !(sp.kind == "keyring" && tableValue(doc, "daemon", "store") == "")
	if storeChanges || sp.kind == "file" && tableValue(doc, "daemon", "store_key_file") != sp.keyFile {
		tables = append([]string{"daemon"}, tables...)
		keys["daemon"] = sp.daemonKeys()
	}
	comments := map[string]string{table: "Profile " + in.profile + ", written by entra-helper setup."}
	if doc == "" {
		comments["daemon"] = configHeader
		if len(tables) == 1 {
			comments[table] = configHeader + "\n\n" + comments[table]
		}
	}
	newDoc, err := editConfig(doc, tables, keys, comments)
	if err != nil {
		return failf("cannot edit %s: %v; add [profiles.%s] there by hand (see docs/configuration.md)", cfgPath, err, in.profile)
	}

	say := func(f string, v ...any) { fmt.Fprintf(a.stdout, f+"\n", v...) }
	verb := "create"
	if doc != "" {
		verb = "update"
	}
	say("entra-helper setup will %s %s:", verb, cfgPath)
	sp.describe(say)
	for _, t := range tables {
		say("  [%s]", t)
		for _, k := range keys[t] {
			say("    %s", k.line())
		}
	}
	if !in.noLogin {
		say("and then sign profile %s in (%s).", in.profile, in.flow)
	}
	if err := a.confirm(in.yes, "Write this", "--yes"); err != nil {
		return err
	}
	if err := a.apply(ctx, sp, cfgPath, newDoc); err != nil {
		return err
	}
	say("Wrote %s.", cfgPath)
	if err := a.reloadForSetup(ctx, in.profile, sp.kind, storeChanges); err != nil {
		return err
	}
	if in.noLogin {
		say("Sign it in with: %s", loginHint(in.profile))
	} else {
		largs := []string{"-p", in.profile}
		if f := flowSecret[in.flow]; f != "" {
			largs = append(largs, "--"+f)
		}
		if in.noBrowser {
			largs = append(largs, "--no-browser")
		}
		if err := a.cmdLogin(largs); err != nil {
			return err
		}
	}
	p := shellQuote(in.profile)
	say("Next:")
	say("  entra-helper token -p %s                  # an access token", p)
	if in.databricksHost != "" {
		if a.metadataOff(ctx, in.profile) {
			say("  # the Databricks CLI and SDKs: the daemon's metadata endpoint is off; set metadata_listen in [daemon] of %s to a free loopback port (e.g. \"127.0.0.1:8781\"), restart entra-helperd, then run entra-helper databricks env -p %s", cfgPath, p)
		} else {
			say("  eval \"$(entra-helper databricks env -p %s)\"   # the Databricks CLI and SDKs use the daemon", p)
		}
	}
	say("  entra-helperd service install --user      # run the daemon at login instead of on demand")
	return nil
}

// reloadForSetup makes a running daemon take the new config: a reload when
// the store is unchanged, else it says to restart the daemon. With no
// daemon running, the sign-in starts one.
func (a *app) reloadForSetup(ctx context.Context, profile, kind string, storeChanged bool) error {
	path, st := a.runningDaemon(ctx)
	if st == nil {
		return nil // none runs: login starts one with the new config
	}
	if storeChanged && st.Store != kind {
		return failf("entra-helperd (pid %d) runs with the %s store: restart it (`entra-helperd service restart`, or stop pid %d), then run `%s`",
			st.PID, st.Store, st.PID, loginHint(profile))
	}
	if err := reloadDaemon(st.PID); err != nil {
		return failf("cannot make entra-helperd (pid %d) reload its config (%v): restart it, then run `%s`", st.PID, err, loginHint(profile))
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := a.doctorCall(ctx, path, &ipc.Request{Op: ipc.OpProfile, Profile: profile}); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return failf("entra-helperd (pid %d) did not take profile %s after a reload; see `entra-helper doctor`", st.PID, profile)
}

// runningDaemon returns the socket path and the status of the daemon that
// answers there, or a nil status when none does (none is started).
func (a *app) runningDaemon(ctx context.Context) (string, *ipc.Status) {
	path, err := a.socketPath()
	if err != nil {
		return "", nil
	}
	resp, err := a.doctorCall(ctx, path, &ipc.Request{Op: ipc.OpStatus})
	if err != nil || resp == nil {
		return path, nil
	}
	return path, resp.Status
}

// metadataOff reports whether the running daemon serves profile without a
// Databricks metadata endpoint (metadata_listen = "" or its default port
// taken); false when no daemon
// answers (it is not known yet).
func (a *app) metadataOff(ctx context.Context, profile string) bool {
	path, st := a.runningDaemon(ctx)
	if st == nil {
		return false
	}
	resp, err := a.doctorCall(ctx, path, &ipc.Request{Op: ipc.OpProfile, Profile: profile})
	return err == nil && resp != nil && resp.Profile != nil && resp.Profile.MetadataURL == ""
}

// fixFileStore is doctor --fix for a keychain that cannot be used: the
// file store with a fresh key (or the configured one), after saying so.
// Secrets in the keychain stay there; each profile signs in again.
func (a *app) fixFileStore(ctx context.Context, yes bool) error {
	cfgPath, doc, err := a.readConfig()
	if err != nil {
		return err
	}
	sp, err := a.fileStorePlan(cfgPath, doc)
	if err != nil {
		return err
	}
	sp.why = "the keychain cannot be used here"
	newDoc, err := editConfig(doc, []string{"daemon"}, map[string][]tomlKey{"daemon": sp.daemonKeys()}, map[string]string{"daemon": configHeader})
	if err != nil {
		return failf("cannot edit %s: %v; set store = \"file\" in its [daemon] by hand", cfgPath, err)
	}
	say := func(f string, v ...any) { fmt.Fprintf(a.stdout, f+"\n", v...) }
	say("doctor --fix will update %s:", cfgPath)
	sp.describe(say)
	say("  [daemon]")
	for _, k := range sp.daemonKeys() {
		say("    %s", k.line())
	}
	if err := a.confirm(yes, "Switch to the file store", "--yes"); err != nil {
		return err
	}
	if err := a.apply(ctx, sp, cfgPath, newDoc); err != nil {
		return err
	}
	var hints []string
	for _, name := range profileTables(newDoc) {
		hints = append(hints, "`"+loginHint(name)+"`")
	}
	if _, st := a.runningDaemon(ctx); st != nil && st.Store != "file" {
		// It keeps its store until it restarts: a sign-in now would go
		// to the keychain again.
		return failf("wrote %s, but entra-helperd (pid %d) still runs with the %s store: restart it (`entra-helperd service restart`, or stop pid %d), then sign each profile in again (%s)",
			cfgPath, st.PID, st.Store, st.PID, strings.Join(hints, ", "))
	}
	say("Wrote %s. Sign each profile in again (what the keychain holds is not moved):", cfgPath)
	for _, h := range hints {
		say("  %s", strings.Trim(h, "`"))
	}
	return nil
}

// profileTables lists the [profiles.NAME] tables of a config document.
func profileTables(doc string) []string {
	var names []string
	for _, l := range strings.Split(doc, "\n") {
		if name, ok := tableName(l); ok && strings.HasPrefix(name, "profiles.") {
			names = append(names, strings.TrimPrefix(name, "profiles."))
		}
	}
	return names
}
