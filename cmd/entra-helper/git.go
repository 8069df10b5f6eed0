package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const gitUsage = `Usage: entra-helper git configure [-p PROFILE] --url URL [--unset]

Makes git ask entra-helper for the passwords of URL (and every repository under
it): writes these entries of your global git config with ` + "`git config --global`" + `,
keeping every other line:

  credential.URL.helper = ""    (git forgets the helpers configured before, so
                                 none answers for URL or saves the token)
  credential.URL.helper = /path/to/entra-helper credential -p PROFILE --url URL
  credential.URL.useHttpPath = true   (git sends the repository path, so each
                                 organisation may have its own profile)

Options:
  -p, --profile NAME   the profile whose git_scope token is the password
                       (default: $ENTRA_HELPER_PROFILE, else the default profile
                       when git asks)
      --url URL        https://dev.azure.com/ORG, https://ORG.visualstudio.com,
                       or any https URL; a username in it
                       (https://ORG@dev.azure.com/ORG) is answered back to git
      --unset          remove these entries instead

Example:
  entra-helper git configure -p ado --url https://dev.azure.com/contoso
  git clone https://dev.azure.com/contoso/project/_git/repo
`

// ourHelperRE matches the helper values entra-helper writes (any path, any
// profile), so configure replaces them and --unset removes them.
const ourHelperRE = `entra-helper(\.exe)?'? credential( |$)`

func (a *app) cmdGit(args []string) error {
	if len(args) == 0 || args[0] != "configure" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return errHelp
		}
		return usageError("usage: entra-helper git configure [-p PROFILE] --url URL [--unset]; see `entra-helper git --help`")
	}
	fs := newFlagSet("git")
	profile := a.profileFlag(fs)
	rawURL := fs.String("", "url", "")
	unset := fs.Bool("", "unset")
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q", fs.args[0])
	}
	if *rawURL == "" {
		return fs.usagef("--url is required (e.g. --url https://dev.azure.com/contoso)")
	}
	u, err := checkGitURL(*rawURL)
	if err != nil {
		return fs.usagef("--url %v", err)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	target := u.String()
	section := "credential." + target
	git, err := exec.LookPath("git")
	if err != nil {
		return failf("git was not found on PATH; install git first")
	}
	if *unset {
		if err := a.unsetGitHelper(git, section); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "git no longer asks entra-helper for %s.\n", target)
		return nil
	}
	helper, err := a.helperCommand(*profile, target)
	if err != nil {
		return err
	}
	if err := a.unsetGitHelper(git, section); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"--add", section + ".helper", ""},
		{"--add", section + ".helper", helper},
		{section + ".useHttpPath", "true"},
	} {
		if _, err := gitConfig(git, args...); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "git now asks entra-helper (%s) for %s:\n  %s.helper = %s\n  %s.useHttpPath = true\n",
		profileName(*profile), target, section, helper, section)
	return nil
}

// unsetGitHelper removes the entries configure writes for section, and the
// section when nothing else is left in it.
func (a *app) unsetGitHelper(git, section string) error {
	for _, args := range [][]string{
		{"--unset-all", section + ".helper", "^$"},
		{"--unset-all", section + ".helper", ourHelperRE},
		{"--unset-all", section + ".useHttpPath"},
	} {
		if code, err := gitConfig(git, args...); err != nil && code != 5 { // 5: nothing to unset
			return err
		}
	}
	code, err := gitConfig(git, "--get-regexp", "^"+quoteRegexp(section)+`\.`)
	if code == 1 { // nothing left in the section
		_, err = gitConfig(git, "--remove-section", section)
		if err != nil {
			// An already absent section is not an error worth failing on.
			return nil
		}
	} else if err != nil {
		return err
	}
	return nil
}

// gitConfig runs `git config --global args...` and returns its exit code;
// err says what failed, with git's own message.
func gitConfig(git string, args ...string) (int, error) {
	cmd := exec.Command(git, append([]string{"config", "--global"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", ee.ExitCode())
		}
		return ee.ExitCode(), failf("`git config --global %s` failed: %s", args[0], msg)
	}
	if err != nil {
		return -1, failf("cannot run git: %v", err)
	}
	return 0, nil
}

// helperCommand is the helper value git runs with the action appended: the
// absolute path of this program (as invoked, so a symlink that survives
// upgrades stays one) and its arguments, quoted for the shell git uses. A
// path that needs quoting takes git's "!" form, since git only recognises a
// bare absolute path.
func (a *app) helperCommand(profile, target string) (string, error) {
	exe, err := a.selfPath()
	if err != nil {
		return "", failf("cannot find entra-helper's own path: %v", err)
	}
	exe = filepath.ToSlash(exe)
	args := []string{"credential"}
	if profile != "" {
		args = append(args, "-p", profile)
	}
	args = append(args, "--url", target)
	for i, s := range args {
		args[i] = shellQuote(s)
	}
	line := shellQuote(exe) + " " + strings.Join(args, " ")
	if shellQuote(exe) != exe {
		line = "!" + line
	}
	return line, nil
}

// selfPath is the absolute path of the running client as it was invoked.
func (a *app) selfPath() (string, error) {
	p := a.argv0
	if p != "" && !strings.ContainsAny(p, `/\`) {
		p, _ = exec.LookPath(p)
	}
	if p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
				return abs, nil
			}
		}
	}
	return os.Executable()
}

// quoteRegexp escapes the regular-expression metacharacters of s (those
// regexp.QuoteMeta escapes, which git's extended expressions share), so
// that git matches s literally. The client does not link package regexp:
// its initialisation would be paid by every command.
func quoteRegexp(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`\.+*?()|[]{}^$`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
