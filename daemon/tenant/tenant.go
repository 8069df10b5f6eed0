// Package tenant finds the tenant ID a profile signs in to: it resolves a
// verified domain to its ID from the authority's OpenID metadata (and keeps
// the answer), and finds a Databricks workspace's tenant from the redirect of
// its /aad/auth sign-in page, as `curl -v <workspace>/aad/auth` shows it and
// the Databricks SDKs read it.
package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/entra-helper/entra-helper/daemon/tokensource"
	"github.com/entra-helper/entra-helper/entra"
)

// maxBody bounds what is read of an answer.
const maxBody = 1 << 20

// Resolver turns a tenant written as a domain into its tenant ID, asking the
// authority once per (authority, domain) and keeping the answer for the
// daemon's lifetime (a domain does not move between tenants).
type Resolver struct {
	HTTP *http.Client // nil: http.DefaultClient

	mu  sync.Mutex
	ids map[string]string // authority + " " + domain -> tenant ID
}

// ID returns the tenant ID of tenant at authority (https://host[/path]):
// a GUID as it is, a domain from the authority's OpenID metadata. An alias
// (common, organizations, consumers) or a malformed tenant is a usage error.
func (r *Resolver) ID(ctx context.Context, authority, tenant string) (string, error) {
	t, form := entra.ParseTenant(tenant)
	switch form {
	case entra.TenantGUID:
		return t, nil
	case entra.TenantAlias:
		return "", &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("%q is not one tenant but a class of accounts: name a tenant ID or verified domain", tenant)}
	case entra.TenantInvalid:
		return "", &tokensource.Error{Kind: tokensource.KindUsage, Message: fmt.Sprintf("%q is not a tenant ID or domain: name a tenant ID or verified domain", tenant)}
	}
	authority = strings.TrimRight(authority, "/")
	key := authority + " " + t
	r.mu.Lock()
	id, ok := r.ids[key]
	r.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := r.lookUp(ctx, authority, t)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	if r.ids == nil {
		r.ids = map[string]string{}
	}
	r.ids[key] = id
	r.mu.Unlock()
	return id, nil
}

// lookUp reads the tenant ID from the issuer of domain's OpenID metadata,
// https://<authority>/<tenant ID>/v2.0.
func (r *Resolver) lookUp(ctx context.Context, authority, domain string) (string, error) {
	u := authority + "/" + url.PathEscape(domain) + "/v2.0/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := client(r.HTTP).Do(req)
	if err != nil {
		return "", &tokensource.Error{Kind: tokensource.KindUnavailable, Err: err,
			Message: fmt.Sprintf("cannot reach %s to look up the tenant of %s: check the network, HTTPS_PROXY and SSL_CERT_FILE", authority, domain)}
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound:
		return "", &tokensource.Error{Kind: tokensource.KindUsage,
			Message: fmt.Sprintf("%s knows no tenant %s: check the domain and the profile's cloud", authority, domain)}
	case resp.StatusCode != http.StatusOK:
		return "", &tokensource.Error{Kind: tokensource.KindUnavailable,
			Message: fmt.Sprintf("%s answered %s when asked for the tenant of %s: try again later", authority, resp.Status, domain)}
	}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &meta); err == nil {
		if iu, err := url.Parse(meta.Issuer); err == nil {
			if id, form := entra.TenantOfPath(iu.Path); form == entra.TenantGUID {
				return id, nil
			}
		}
	}
	return "", &tokensource.Error{Kind: tokensource.KindFailed,
		Message: fmt.Sprintf("the OpenID metadata of %s at %s names no tenant ID: write the tenant ID in the config instead", domain, authority)}
}

// Discovery is what a workspace's sign-in redirect says.
type Discovery struct {
	Tenant    string // the tenant ID, lower case
	LoginHost string // https://host of the sign-in page it redirects to
}

// Discover asks the Azure Databricks workspace (https://host) for its
// sign-in page without following the redirect, and reads the tenant from
// the login URL, https://<login host>/<tenant ID>/oauth2/authorize?...
func Discover(ctx context.Context, c *http.Client, workspace string) (Discovery, error) {
	noFollow := *client(c)
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, workspace+"/aad/auth", nil)
	if err != nil {
		return Discovery{}, &tokensource.Error{Kind: tokensource.KindUsage, Err: err, Message: fmt.Sprintf("%q is not a workspace URL: fix databricks_host", workspace)}
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		return Discovery{}, &tokensource.Error{Kind: tokensource.KindUnavailable, Err: err,
			Message: fmt.Sprintf("cannot reach %s to find its tenant: check the network, HTTPS_PROXY and SSL_CERT_FILE, or set tenant in the config", workspace)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
		if resp.StatusCode >= 500 {
			return Discovery{}, &tokensource.Error{Kind: tokensource.KindUnavailable,
				Message: fmt.Sprintf("%s/aad/auth answered %s: try again later, or set tenant in the config", workspace, resp.Status)}
		}
		return Discovery{}, &tokensource.Error{Kind: tokensource.KindFailed,
			Message: fmt.Sprintf("%s/aad/auth answered %s, not a redirect to Entra ID's sign-in page: check databricks_host, or set tenant in the config", workspace, resp.Status)}
	}
	id, form := entra.TenantOfPath(loc.Path)
	if form != entra.TenantGUID || loc.Scheme != "https" {
		return Discovery{}, &tokensource.Error{Kind: tokensource.KindFailed,
			Message: fmt.Sprintf("%s/aad/auth redirects to %s://%s%s, which names no tenant ID: set tenant in the config", workspace, loc.Scheme, loc.Host, loc.Path)}
	}
	return Discovery{Tenant: id, LoginHost: "https://" + strings.ToLower(loc.Host)}, nil
}

func client(c *http.Client) *http.Client {
	if c == nil {
		return http.DefaultClient
	}
	return c
}
