package main

// git's credential-helper protocol (gitcredentials(7), git-credential(1)):
// git runs the helper string from credential.<url>.helper with the action
// (get, store or erase) appended as the last argument, writes key=value
// lines on its stdin up to an empty line or EOF, and on get reads key=value
// lines back. A helper that answers nothing lets git ask the next helper.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/jwt"
)

const credentialUsage = `Usage: entra-helper credential [-p PROFILE] [--url URL] get|store|erase

git's credential helper: git runs it (see ` + "`entra-helper git configure`" + `) and it answers
git's requests for the URL with an Entra access token of the profile's git_scope
(Azure Repos' resource by default) as the password.

  get     answers username, password and password_expiry_utc for a request
          under URL (https only); nothing for any other, so git asks its next
          helper
  erase   git was refused with the password: the daemon forgets that cached
          token (never the sign-in), so the next get has a new one
  store   accepted and ignored: the daemon keeps the tokens, nothing is saved

Options:
  -p, --profile NAME   the profile (default: $ENTRA_HELPER_PROFILE, else the default profile)
      --url URL        the URL this helper answers for: its host and, when git
                       sends a path (credential.useHttpPath), its path prefix
                       (default: https://dev.azure.com and https://*.visualstudio.com)

A username git sends (from a URL like https://contoso@dev.azure.com/...) is
answered back as given.
`

// maxCredentialInput bounds what git may send on stdin (a request with
// every WWW-Authenticate header is a few kilobytes).
const maxCredentialInput = 256 << 10

// defaultGitHosts are the hosts a helper without --url answers for: Azure
// Repos. A leading "*." matches any subdomain.
var defaultGitHosts = []string{"dev.azure.com", "*.visualstudio.com"}

// credential is the part of git's credential description the helper uses.
type credential struct {
	protocol, host, path, username, password string
}

// readCredential reads git's key=value lines up to an empty line or EOF.
// Keys it does not use (password_expiry_utc, wwwauth[], capability[],
// authtype, state[], ...) are ignored, as git-credential(1) asks; a line
// without "=" or an empty key is an error. Errors never quote a line: it
// may hold a password.
func readCredential(r io.Reader) (*credential, error) {
	br := bufio.NewReader(io.LimitReader(r, maxCredentialInput+1))
	c := &credential{}
	read := 0
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		read += len(line)
		if read > maxCredentialInput {
			return nil, fmt.Errorf("git's request is longer than %d KiB", maxCredentialInput>>10)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading git's request: %v", err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			return c, nil // an empty line or EOF ends the request
		}
		key, value, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d of git's request has no '=' (the protocol is key=value lines)", n)
		case key == "":
			return nil, fmt.Errorf("line %d of git's request has an empty key", n)
		case strings.ContainsRune(line, 0):
			return nil, fmt.Errorf("line %d of git's request holds a NUL byte", n)
		}
		switch key {
		case "protocol":
			c.protocol = value
		case "host":
			c.host = value
		case "path":
			c.path = value
		case "username":
			c.username = value
		case "password":
			c.password = value
		case "url":
			// As git does: url= sets protocol, host, path and username
			// anew (git itself sends them apart).
			u, err := parseCredentialURL(value)
			if err != nil {
				return nil, fmt.Errorf("line %d of git's request: %v", n, err)
			}
			c.protocol, c.host, c.path, c.username = u.protocol, u.host, u.path, u.username
		}
		if err == io.EOF {
			return c, nil
		}
	}
}

// parseCredentialURL splits a URL the way git's credential_from_url does:
// the path without its leading slash, percent-decoded; the username as
// given.
func parseCredentialURL(s string) (*credential, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return nil, errors.New("url= is not a URL like https://host/path")
	}
	c := &credential{protocol: strings.ToLower(u.Scheme), host: u.Host, path: strings.TrimPrefix(u.Path, "/")}
	if u.User != nil {
		c.username = u.User.Username()
	}
	return c, nil
}

// gitTarget is what one helper answers for: https on host (or, with a
// leading "*.", its subdomains) and, when git sends a path, paths under
// path.
type gitTarget struct {
	hosts    []string
	path     string // without leading or trailing slashes; "" is every path
	username string // from the URL; "" for any
}

// targetOf parses the helper's --url ("" for Azure Repos' hosts).
func targetOf(rawURL string) (*gitTarget, error) {
	if rawURL == "" {
		return &gitTarget{hosts: defaultGitHosts}, nil
	}
	u, err := checkGitURL(rawURL)
	if err != nil {
		return nil, err
	}
	t := &gitTarget{hosts: []string{u.Host}, path: strings.Trim(u.Path, "/")}
	if u.User != nil {
		t.username = u.User.Username()
	}
	return t, nil
}

// checkGitURL parses an https URL a helper may answer for: a host, maybe a
// username and a path; no password, query or fragment. The scheme and host
// come back lower-case.
func checkGitURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not a URL like https://dev.azure.com/contoso", s)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return nil, fmt.Errorf("%q does not use https: tokens are only given over https", s)
	}
	if _, hasPass := u.User.Password(); hasPass || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not hold a password, a query or a fragment", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q has an invalid port", s)
		}
	}
	u.Scheme = "https"
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

// hostPort lower-cases h and drops https' default port.
func hostPort(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ":443")
}

// matches reports whether the helper answers c: https, the host, the
// username if the URL named one, and the path prefix when git sent a path.
// Without a path (credential.useHttpPath off) git's own URL matching chose
// this helper for the host.
func (t *gitTarget) matches(c *credential) bool {
	if c.protocol != "https" || c.host == "" {
		return false
	}
	host := hostPort(c.host)
	ok := false
	for _, h := range t.hosts {
		h = hostPort(h)
		if sub, wild := strings.CutPrefix(h, "*."); wild {
			ok = ok || strings.HasSuffix(host, "."+sub)
		} else {
			ok = ok || host == h
		}
	}
	if !ok {
		return false
	}
	if t.username != "" && c.username != "" && c.username != t.username {
		return false
	}
	if t.path == "" || c.path == "" {
		return true
	}
	p := strings.Trim(c.path, "/")
	return p == t.path || strings.HasPrefix(p, t.path+"/")
}

func (a *app) cmdCredential(args []string) error {
	fs := newFlagSet("credential")
	profile := a.profileFlag(fs)
	rawURL := fs.String("", "url", "")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) != 1 {
		return fs.usagef("name one action: get, store or erase (git appends it)")
	}
	target, err := targetOf(*rawURL)
	if err != nil {
		return usageError("--url " + err.Error())
	}
	action := fs.args[0]
	switch action {
	case "get", "store", "erase":
	default:
		return nil // git-credential(1): ignore actions a helper does not know
	}
	c, err := readCredential(a.stdin)
	if err != nil {
		return failf("%v", err)
	}
	if !target.matches(c) {
		return nil // not ours: git asks its next helper
	}
	switch action {
	case "get":
		return a.credentialGet(*profile, target, c)
	case "erase":
		return a.credentialErase(*profile, c)
	}
	return nil // store: the daemon keeps the tokens
}

// credentialGet answers git with the profile's git token.
func (a *app) credentialGet(profile string, target *gitTarget, c *credential) error {
	tok, err := a.getToken(&ipc.Request{Op: ipc.OpGitToken, Profile: profile})
	if err != nil {
		return err
	}
	user := c.username
	if user == "" {
		user = target.username
	}
	if user == "" {
		user = tokenUsername(tok.AccessToken)
	}
	if strings.ContainsAny(user, "\n\x00") {
		return failf("the username for git holds a line break")
	}
	_, err = fmt.Fprintf(a.stdout, "username=%s\npassword=%s\npassword_expiry_utc=%d\n", user, tok.AccessToken, tok.ExpiresOn)
	return err
}

// tokenUsername is the username answered when git sent none: the user's
// name, else the application's client ID (service principals, managed
// identities). Azure Repos reads only the password.
func tokenUsername(tok string) string {
	if j, err := jwt.Decode(tok); err == nil {
		if s := j.FirstClaim("upn", "preferred_username", "unique_name", "appid", "azp"); s != "" {
			return s
		}
	}
	return "entra-helper"
}

// credentialErase tells the daemon that git was refused with the token. No
// daemon answering means no token is cached: nothing to do.
func (a *app) credentialErase(profile string, c *credential) error {
	a.noAutostart = true
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	_, err := a.do(ctx, &ipc.Request{Op: ipc.OpGitErase, Profile: profile, Token: c.password}, nil)
	var ee *exitError
	if errors.As(err, &ee) && ee.code == exitNoDaemon {
		return nil
	}
	return err
}
