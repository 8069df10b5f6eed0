package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/entra-helper/entra-helper/ipc"
)

const databricksUsage = `Usage: entra-helper databricks env [-p PROFILE] [--shell sh|fish|powershell|cmd]
       entra-helper databricks configure [-p PROFILE] [--databricks-profile NAME]

Makes the Databricks CLI, its Go and Python SDKs and Terraform's provider take
their tokens from entra-helperd through its loopback metadata endpoint
(auth_type metadata-service). The profile needs databricks_host in the config
and the daemon's metadata_listen must be on.

env        prints export lines for DATABRICKS_HOST, DATABRICKS_AUTH_TYPE and
           DATABRICKS_METADATA_SERVICE_URL:  eval "$(entra-helper databricks env -p prod)"
configure  writes the same as a profile of ~/.databrickscfg ($DATABRICKS_CONFIG_FILE
           honoured): the section NAME (default: the entra-helper profile's name) gets
           host, auth_type = metadata-service and metadata_service_url, and loses its
           other credentials (token, client_secret, azure_client_secret, ...); every
           other line, comment and section is kept as it is. A file the Go and
           Python SDKs would read differently (a section twice, [ prod ] with
           spaces, continuation lines, ...) is left unchanged and the lines named.

Options:
  -p, --profile NAME            the entra-helper profile
      --databricks-profile NAME the .databrickscfg section to write (configure)
      --shell SHELL             the syntax of env's lines (default: sh; powershell on Windows)
`

// isDatabricksAuthKey reports whether key (lower case) is a .databrickscfg
// key of another authentication method, removed from the section configure
// writes so none can compete with the metadata service.
func isDatabricksAuthKey(key string) bool {
	switch key {
	case "token", "username", "password", "client_id", "client_secret",
		"azure_client_id", "azure_client_secret", "azure_tenant_id", "azure_use_msi", "azure_login_app_id",
		"google_credentials", "google_service_account", "databricks_id_token_filepath", "oidc_token_env":
		return true
	}
	return false
}

func (a *app) cmdDatabricks(args []string) error {
	if len(args) == 0 {
		return usageError("databricks needs a subcommand: env or configure; see `entra-helper databricks --help`")
	}
	switch args[0] {
	case "env":
		return a.cmdDatabricksEnv(args[1:])
	case "configure":
		return a.cmdDatabricksConfigure(args[1:])
	case "-h", "--help", "help":
		return errHelp
	}
	return usageError(fmt.Sprintf("unknown databricks subcommand %q (env, configure); see `entra-helper databricks --help`", args[0]))
}

// databricksProfile fetches the profile's settings and checks it can be
// served by the metadata endpoint.
func (a *app) databricksProfile(profile string) (*ipc.ProfileInfo, error) {
	p, err := a.profileInfo(profile)
	if err != nil {
		return nil, err
	}
	name := orDefault(p.Name, profile)
	if p.DatabricksHost == "" {
		return nil, failf("%s has no databricks_host; add it to the profile in the entra-helper config", profileName(name))
	}
	if p.MetadataURL == "" && p.MetadataDown != "" {
		return nil, failf("the daemon's Databricks metadata endpoint is off because its default address is taken (%s), so %s cannot be served to Databricks tools; set metadata_listen in the [daemon] table of the config to a free loopback port (e.g. \"127.0.0.1:8781\") and restart entra-helperd", p.MetadataDown, profileName(name))
	}
	if p.MetadataURL == "" {
		return nil, failf("the daemon's Databricks metadata endpoint is off, so %s cannot be served to Databricks tools; set metadata_listen in the [daemon] table of the config", profileName(name))
	}
	return p, nil
}

func (a *app) cmdDatabricksEnv(args []string) error {
	fs := newFlagSet("databricks")
	profile := a.profileFlag(fs)
	shell := shellFlag(fs)
	if err := parseEnvFlags(fs, args, shell); err != nil {
		return err
	}
	p, err := a.databricksProfile(*profile)
	if err != nil {
		return err
	}
	return a.printEnv(*shell, [][2]string{
		{"DATABRICKS_HOST", p.DatabricksHost},
		{"DATABRICKS_AUTH_TYPE", "metadata-service"},
		{"DATABRICKS_METADATA_SERVICE_URL", p.MetadataURL},
	})
}

// shellFlag adds --shell: the syntax of printed variables (default sh;
// powershell on Windows).
func shellFlag(fs *flagSet) *string {
	def := "sh"
	if runtime.GOOS == "windows" {
		def = "powershell"
	}
	return fs.String("", "shell", def)
}

// parseEnvFlags parses the flags of an env command, which takes no
// arguments, and checks the --shell value.
func parseEnvFlags(fs *flagSet, args []string, shell *string) error {
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q", fs.args[0])
	}
	switch *shell {
	case "sh", "bash", "zsh", "fish", "powershell", "pwsh", "cmd":
		return nil
	}
	return fs.usagef("unknown shell %q (sh, fish, powershell, cmd)", *shell)
}

// printEnv prints the variables kvs in the syntax of shell.
func (a *app) printEnv(shell string, kvs [][2]string) error {
	var b strings.Builder
	for _, kv := range kvs {
		b.WriteString(envLine(shell, kv[0], kv[1]))
	}
	_, err := fmt.Fprint(a.stdout, b.String())
	return err
}

// envLine sets variable k to v in the syntax of shell.
func envLine(shell, k, v string) string {
	switch shell {
	case "fish":
		return "set -gx " + k + " " + shellQuote(v) + "\n"
	case "powershell", "pwsh":
		return "$Env:" + k + " = '" + strings.ReplaceAll(v, "'", "''") + "'\n"
	case "cmd":
		return "set \"" + k + "=" + v + "\"\n"
	}
	return "export " + k + "=" + shellQuote(v) + "\n"
}

// shellQuote quotes s for a POSIX shell when it has anything but plain
// characters.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (a *app) cmdDatabricksConfigure(args []string) error {
	flags := newFlagSet("databricks")
	profile := a.profileFlag(flags)
	section := flags.String("", "databricks-profile", "")
	if err := flags.parse(args); err != nil {
		return err
	}
	if len(flags.args) > 0 {
		return flags.usagef("unexpected argument %q", flags.args[0])
	}
	if flags.isSet("databricks-profile") && !validSection(*section) {
		return flags.usagef("--databricks-profile %q is not a usable section name", *section)
	}
	p, err := a.databricksProfile(*profile)
	if err != nil {
		return err
	}
	name := *section
	if name == "" {
		name = orDefault(p.Name, orDefault(*profile, "DEFAULT"))
	}
	path, err := a.databricksCfgPath()
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return failf("cannot read %s: %v; fix its permissions or point DATABRICKS_CONFIG_FILE at another file", path, err)
	}
	updated, err := editDatabricksCfg(old, name, [][2]string{
		{"host", p.DatabricksHost},
		{"auth_type", "metadata-service"},
		{"metadata_service_url", p.MetadataURL},
	})
	if err != nil {
		return failf("%s is left unchanged: %v", path, err)
	}
	if err := writeFileAtomic(path, updated, 0o600); err != nil {
		return failf("cannot write %s: %v; make its directory writable or point DATABRICKS_CONFIG_FILE at another file", path, err)
	}
	fmt.Fprintf(a.stdout, "Wrote profile [%s] to %s: host %s, auth_type metadata-service through entra-helperd.\n", name, path, p.DatabricksHost)
	fmt.Fprintf(a.stdout, "Use it with: databricks -p %s ...  or  DATABRICKS_CONFIG_PROFILE=%s\n", shellQuote(name), shellQuote(name))
	return nil
}

// validSection rejects names that would break the INI file.
func validSection(s string) bool {
	return s != "" && strings.TrimSpace(s) == s && !strings.ContainsAny(s, "[]\r\n")
}

// databricksCfgPath is $DATABRICKS_CONFIG_FILE (with ~ expanded, as the SDKs
// do), else ~/.databrickscfg.
func (a *app) databricksCfgPath() (string, error) {
	p := a.getenv("DATABRICKS_CONFIG_FILE")
	if p == "" {
		p = "~/.databrickscfg"
	}
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", failf("cannot find the home directory for %s: %v; set DATABRICKS_CONFIG_FILE", p, err)
		}
		p = filepath.Join(home, p[1:])
	}
	return p, nil
}

// writeFileAtomic replaces path's content with data through a temporary
// file in the same directory and a rename, keeping the mode of an existing
// file (mode for a new one) and creating a missing directory (0700). A
// symlink at path is followed, so the link stays and its target is replaced
// (or created, when the link dangles).
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	path, err := linkTarget(path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// linkTarget is the file a chain of symlinks at path ends in, whether or not
// that file exists yet; path itself when it is no symlink.
func linkTarget(path string) (string, error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real, nil
	}
	for range 40 { // the kernel's limit on a chain of links
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			// Not filepath.Join: cleaning "dir/../x" lexically is wrong
			// when dir is itself a link.
			dest = filepath.Dir(path) + string(filepath.Separator) + dest
		}
		path = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}
