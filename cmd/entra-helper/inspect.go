package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/entra-helper/entra-helper/ipc"
	"github.com/entra-helper/entra-helper/jwt"
)

const inspectUsage = `Usage: entra-helper inspect [--verify] [--json] [TOKEN | -]

Decodes an access token locally and prints its header and claims: aud, iss,
tid, oid, upn/unique_name, appid, scp/roles and nbf/iat/exp in local time with
how long it stays valid. The token is read from stdin when TOKEN is "-" or
missing; "Authorization: Bearer ..." lines and the JSON of ` + "`token -o json`" + `
or ` + "`-o az`" + ` are accepted too. The token itself is never printed.

Options:
      --verify   also check its RS256 signature against the issuer's published
                 keys (asks entra-helperd); exit 1 when it is not valid
      --json     print {"header":{...},"claims":{...}} instead
`

// extractToken finds the token in what a user may paste or pipe: the bare
// token, an "Authorization: Bearer" line, or the JSON of token -o json/az
// or an ExecCredential.
func extractToken(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var v struct {
			AccessToken  string `json:"access_token"`
			AccessToken2 string `json:"accessToken"`
			Status       struct {
				Token string `json:"token"`
			} `json:"status"`
		}
		if json.Unmarshal([]byte(s), &v) == nil {
			for _, t := range []string{v.AccessToken, v.AccessToken2, v.Status.Token} {
				if t != "" {
					return t
				}
			}
		}
		return s
	}
	if line, _, _ := strings.Cut(s, "\n"); strings.HasPrefix(strings.ToLower(line), "authorization:") {
		s = strings.TrimSpace(line[len("authorization:"):])
	}
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	return s
}

func (a *app) cmdInspect(args []string) error {
	fs := newFlagSet("inspect")
	verify := fs.Bool("", "verify")
	asJSON := fs.Bool("", "json")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 1 {
		return fs.usagef("give one token, or - to read it from stdin")
	}
	if len(fs.args) == 0 && a.stdinIsTerm != nil && a.stdinIsTerm() {
		return fs.usagef("give a token, or pipe one in: entra-helper token | entra-helper inspect")
	}
	var raw string
	if len(fs.args) == 0 || fs.args[0] == "-" {
		b, err := io.ReadAll(io.LimitReader(a.stdin, ipc.MaxMessageSize))
		if err != nil {
			return failf("reading the token from stdin failed: %v", err)
		}
		raw = string(b)
	} else {
		raw = fs.args[0]
	}
	tok := extractToken(raw)
	if tok == "" {
		return usageError("no token given: pass it as an argument or on stdin (entra-helper token | entra-helper inspect)")
	}
	j, err := jwt.Decode(tok)
	if err != nil {
		return failf("cannot inspect the token: %v", err)
	}
	if *asJSON {
		if err := writeJSON(a.stdout, map[string]any{"header": j.Header, "claims": j.Claims}, "  "); err != nil {
			return err
		}
	} else {
		a.writeJWT(a.stdout, j)
	}
	if !*verify {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	resp, err := a.do(ctx, &ipc.Request{Op: ipc.OpVerify, Token: tok}, nil)
	if err != nil {
		return err
	}
	v := resp.Verify
	if v == nil {
		return failf("entra-helperd answered without a verification result; see its log")
	}
	out := a.stdout
	if *asJSON {
		out = a.stderr
	}
	if !v.Valid {
		return failf("the token's signature is NOT valid: %s", orDefault(v.Reason, "no reason given"))
	}
	fmt.Fprintf(out, "\nsignature: valid (RS256, key %s of %s)\n", orDefault(v.KeyID, "?"), orDefault(v.Issuer, "the issuer"))
	return nil
}

// Claims shown first, in this order; the rest follow sorted.
var (
	headerOrder = []string{"alg", "typ", "kid", "x5t"}
	claimOrder  = []string{"aud", "iss", "tid", "oid", "sub", "upn", "unique_name", "preferred_username", "name",
		"appid", "azp", "app_displayname", "idtyp", "scp", "roles", "nbf", "iat", "exp"}
)

// writeJWT prints the header and claims for people; times in local time.
func (a *app) writeJWT(w io.Writer, j *jwt.Token) {
	now := a.now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "header:")
	for _, k := range orderedKeys(j.Header, headerOrder) {
		fmt.Fprintf(tw, "  %s\t%s\n", k, claimText(j.Header[k]))
	}
	fmt.Fprintln(tw, "claims:")
	for _, k := range orderedKeys(j.Claims, claimOrder) {
		v := j.Claims[k]
		text := claimText(v)
		switch k {
		case "nbf", "iat", "exp", "auth_time", "xms_tcdt":
			if t, ok := jwt.NumericDate(v); ok {
				t = t.In(a.loc)
				text = t.Format("2006-01-02 15:04:05 MST")
				switch {
				case k == "exp" && t.After(now):
					text += " (expires in " + humanDuration(t.Sub(now)) + ")"
				case k == "exp":
					text += " (EXPIRED " + humanDuration(now.Sub(t)) + " ago)"
				case k == "nbf" && t.After(now):
					text += " (NOT YET VALID: in " + humanDuration(t.Sub(now)) + ")"
				default:
					text += " (" + relTime(t, now) + ")"
				}
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k, text)
	}
	tw.Flush()
}

// orderedKeys lists m's keys: those in first (in that order), then the rest
// sorted.
func orderedKeys(m map[string]any, first []string) []string {
	var keys []string
	seen := map[string]bool{}
	for _, k := range first {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// claimText renders a claim value: strings bare, lists comma-separated,
// anything else as compact JSON.
func claimText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = claimText(e)
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}
