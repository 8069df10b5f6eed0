package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/entra-helper/entra-helper/ipc"
)

// tokenTimeout bounds a token request; the daemon answers from memory, or
// after one call to Entra with its own retries.
const tokenTimeout = 2 * time.Minute

// azTimeLayout is the Azure CLI's expiresOn format, in local time.
const azTimeLayout = "2006-01-02 15:04:05.000000"

const tokenUsage = `Usage: entra-helper token [-p PROFILE] [--scope SCOPE]... [--resource RESOURCE]
                          [--min-valid DURATION] [-o FORMAT]

Prints an access token of the profile from entra-helperd.

Options:
  -p, --profile NAME      the profile (default: $ENTRA_HELPER_PROFILE, else the default profile)
      --scope SCOPE       a scope to ask for; repeat for several (default: the profile's scopes)
      --resource URI      a v1 resource: asks for scope URI + "/.default", as the Azure CLI
                          does (https://management.core.windows.net/ gives
                          https://management.core.windows.net//.default, whose tokens carry
                          the audience with its trailing slash)
      --min-valid DUR     the token must stay valid at least this long (e.g. 10m; default:
                          the daemon's min_valid); refused (exit 2) when Entra issues
                          tokens no longer than that
  -o, --output FORMAT     token (default): the bare token
                          json: {"access_token","token_type","expires_on","expires_in",
                                "profile","scope","tenant"}
                          az: the JSON of ` + "`az account get-access-token`" + `
                          exec-credential: a Kubernetes client.authentication.k8s.io/v1
                                ExecCredential (for a kubeconfig's exec plugin)
                          header: "Authorization: Bearer <token>"
`

func (a *app) cmdToken(args []string) error {
	fs := newFlagSet("token")
	profile := a.profileFlag(fs)
	scopes := fs.List("", "scope")
	resource := fs.String("", "resource", "")
	minValid := fs.String("", "min-valid", "")
	output := fs.String("o", "output", "token")
	if err := fs.parse(args); err != nil {
		return err
	}
	if len(fs.args) > 0 {
		return fs.usagef("unexpected argument %q", fs.args[0])
	}
	switch *output {
	case "token", "json", "az", "exec-credential", "header":
	default:
		return fs.usagef("unknown output format %q (token, json, az, exec-credential, header)", *output)
	}
	req := &ipc.Request{Op: ipc.OpToken, Profile: *profile}
	for _, s := range *scopes {
		for _, f := range strings.Fields(s) {
			req.Scopes = append(req.Scopes, f)
		}
	}
	if fs.isSet("resource") {
		if *resource == "" {
			return fs.usagef("--resource needs a resource URI or application ID")
		}
		req.Scopes = append(req.Scopes, entra.Scope(*resource))
	}
	if fs.isSet("min-valid") {
		d, err := time.ParseDuration(*minValid)
		if err != nil || d <= 0 {
			return fs.usagef("--min-valid takes a positive duration like 10m or 1h, not %q", *minValid)
		}
		// Rounded up: a demand under a millisecond must not become 0,
		// which the daemon reads as "the default min_valid".
		req.MinValidMS = d.Milliseconds()
		if d%time.Millisecond != 0 {
			req.MinValidMS++
		}
	}
	tok, err := a.getToken(req)
	if err != nil {
		return err
	}
	return a.writeToken(a.stdout, *output, tok, "")
}

// getToken asks the daemon for a token.
func (a *app) getToken(req *ipc.Request) (*ipc.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	resp, err := a.do(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	if resp.Token == nil || resp.Token.AccessToken == "" {
		return nil, failf("entra-helperd answered without a token for %s; see its log", profileName(req.Profile))
	}
	if w := resp.Token.Warning; w != "" {
		prefix := "entra-helper: warning: "
		if a.azMode {
			prefix = "WARNING: "
		}
		fmt.Fprintln(a.stderr, prefix+w)
	}
	return resp.Token, nil
}

// tokenJSON is the -o json output.
type tokenJSON struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresOn   int64  `json:"expires_on"`
	ExpiresIn   int64  `json:"expires_in"`
	Profile     string `json:"profile"`
	Scope       string `json:"scope"`
	Tenant      string `json:"tenant"`
}

// azToken is `az account get-access-token`'s JSON, keys in the order the
// Azure CLI prints them (sorted).
type azToken struct {
	AccessToken  string `json:"accessToken"`
	ExpiresOn    string `json:"expiresOn"`
	ExpiresOnInt int64  `json:"expires_on"`
	Subscription string `json:"subscription"`
	Tenant       string `json:"tenant"`
	TokenType    string `json:"tokenType"`
}

// execCredential is a Kubernetes client.authentication.k8s.io/v1
// ExecCredential.
type execCredential struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Spec       struct {
		Interactive bool `json:"interactive"`
	} `json:"spec"`
	Status struct {
		ExpirationTimestamp string `json:"expirationTimestamp"`
		Token               string `json:"token"`
	} `json:"status"`
}

func tokenType(t *ipc.Token) string {
	if t.TokenType == "" {
		return "Bearer"
	}
	return t.TokenType
}

func (a *app) azTokenOf(t *ipc.Token, subscription string) azToken {
	return azToken{
		AccessToken:  t.AccessToken,
		ExpiresOn:    time.Unix(t.ExpiresOn, 0).In(a.loc).Format(azTimeLayout),
		ExpiresOnInt: t.ExpiresOn,
		Subscription: subscription,
		Tenant:       t.Tenant,
		TokenType:    tokenType(t),
	}
}

// writeToken prints t in format; subscription is used by the az format.
func (a *app) writeToken(w io.Writer, format string, t *ipc.Token, subscription string) error {
	switch format {
	case "token":
		_, err := fmt.Fprintln(w, t.AccessToken)
		return err
	case "header":
		_, err := fmt.Fprintf(w, "Authorization: %s %s\n", tokenType(t), t.AccessToken)
		return err
	case "json":
		return writeJSON(w, tokenJSON{
			AccessToken: t.AccessToken,
			TokenType:   tokenType(t),
			ExpiresOn:   t.ExpiresOn,
			ExpiresIn:   max(0, t.ExpiresOn-a.now().Unix()),
			Profile:     t.Profile,
			Scope:       t.Scope,
			Tenant:      t.Tenant,
		}, "")
	case "az":
		return writeJSON(w, a.azTokenOf(t, subscription), "  ")
	case "exec-credential":
		var ec execCredential
		ec.Kind = "ExecCredential"
		ec.APIVersion = "client.authentication.k8s.io/v1"
		ec.Status.ExpirationTimestamp = time.Unix(t.ExpiresOn, 0).UTC().Format(time.RFC3339)
		ec.Status.Token = t.AccessToken
		return writeJSON(w, ec, "")
	}
	return usageError("unknown output format " + format)
}

// writeJSON writes v as JSON and a newline, indented by indent ("" for one
// line), without HTML escaping.
func writeJSON(w io.Writer, v any, indent string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
