// Command browser is the web browser of the end-to-end tests: the program
// $BROWSER names. It does what a person's browser does with a sign-in URL
// after the person clicked through: it GETs the URL (trusting the CAs of
// SSL_CERT_FILE), follows redirects, and when a page is an auto-submitting
// form (Entra's response_mode=form_post) it submits the form, so the answer
// reaches MSAL's loopback listener.
//
// Usage: browser [ARGS...] URL (the URL is the last argument, as for any
// $BROWSER). It appends one line per page to $ENTRA_E2E_BROWSER_LOG, if set,
// with the method, the host, the status and the page title: never a query,
// a form field or a body, so no code or token lands in the log. It exits 1
// when a page could not be fetched or the last page is not a 2xx answer.
package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// maxPages bounds how many forms are submitted one after another.
const maxPages = 5

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: browser URL")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := browse(ctx, os.Args[len(os.Args)-1]); err != nil {
		logLine("error: " + err.Error())
		fmt.Fprintln(os.Stderr, "browser:", err)
		os.Exit(1)
	}
}

// browse opens u and submits every auto-submitting form it is shown.
func browse(ctx context.Context, u string) error {
	// On Linux, where the e2e tests run, Go's TLS takes its roots from
	// SSL_CERT_FILE when it is set: the fake Entra's CA.
	client := &http.Client{Timeout: 20 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("bad URL: %w", err)
	}
	for range maxPages {
		status, body, err := fetch(client, req)
		if err != nil {
			return err
		}
		f, ok := parseForm(body, req.URL)
		if !ok {
			if status < 200 || status > 299 {
				return fmt.Errorf("%s %s answered %d", req.Method, req.URL.Host, status)
			}
			return nil
		}
		req, err = http.NewRequestWithContext(ctx, f.method, f.action.String(), nil)
		if err != nil {
			return err
		}
		if f.method == http.MethodPost {
			req.Body = io.NopCloser(strings.NewReader(f.fields.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.URL.RawQuery = f.fields.Encode()
		}
	}
	return fmt.Errorf("more than %d forms in a row", maxPages)
}

// fetch sends req (redirects followed) and returns the last status and body.
func fetch(client *http.Client, req *http.Request) (int, string, error) {
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold the state; keep it out of logs
		}
		return 0, "", fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: reading the page: %w", req.Method, req.URL.Host, err)
	}
	logLine(fmt.Sprintf("%s %s -> %d %q", req.Method, resp.Request.URL.Host, resp.StatusCode, title(string(b))))
	return resp.StatusCode, string(b), nil
}

// form is an HTML form to submit.
type form struct {
	method string
	action *url.URL
	fields url.Values
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
	titleRE = regexp.MustCompile(`(?is)<title>(.*?)</title>`)
)

// parseForm finds the first form of a page that a script submits by itself
// (a page with a <script> that calls submit()), with its named inputs. A
// form a person would have to fill in is not submitted.
func parseForm(page string, base *url.URL) (form, bool) {
	if !strings.Contains(page, ".submit()") {
		return form{}, false
	}
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		return form{}, false
	}
	attrs := attributes(m[1])
	method := strings.ToUpper(attrs["method"])
	if method != http.MethodPost {
		method = http.MethodGet
	}
	action, err := base.Parse(attrs["action"])
	if err != nil {
		return form{}, false
	}
	fields := url.Values{}
	for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
		a := attributes(in[1])
		if name := a["name"]; name != "" && !strings.EqualFold(a["type"], "submit") {
			fields.Add(name, a["value"])
		}
	}
	return form{method: method, action: action, fields: fields}, true
}

// attributes parses the attributes of a tag, entities decoded.
func attributes(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(s, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2] + m[3] + m[4])
	}
	return out
}

func title(page string) string {
	if m := titleRE.FindStringSubmatch(page); m != nil {
		return strings.TrimSpace(html.UnescapeString(m[1]))
	}
	return ""
}

// logLine appends line to $ENTRA_E2E_BROWSER_LOG.
func logLine(line string) {
	path := os.Getenv("ENTRA_E2E_BROWSER_LOG")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}
