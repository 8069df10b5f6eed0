//go:build unix

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entra-helper/entra-helper/internal/entratest"
)

// metadataGet GETs the profile's metadata URL as the Databricks SDKs do and
// returns the status and the decoded JSON body (success or error).
func (e *env) metadataGet(url, workspace string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Databricks-Metadata-Version", "1")
	req.Header.Set("X-Databricks-Host", workspace)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		e.t.Fatalf("status %d: the body is not JSON: %v", resp.StatusCode, err)
	}
	if tok, ok := body["access_token"].(string); ok {
		e.secrets = append(e.secrets, tok)
	}
	return resp.StatusCode, body
}

// TestShortLifetimesEndToEnd: a tenant issuing 4-minute tokens with the
// default min_valid (5m). Six sequential `token` calls and three metadata
// requests all succeed, each with one warning, for at most two Entra calls;
// an explicit --min-valid the lifetime cannot meet is refused at once
// without a call; errors on the metadata endpoint are JSON naming the
// profile once.
func TestShortLifetimesEndToEnd(t *testing.T) {
	e := newEnvWith(t, entratest.Options{TokenLifetime: 4 * time.Minute},
		spProfile+"databricks_host = \""+workspaceHost+"\"\n"+
			strings.ReplaceAll(spProfile, "[profiles.sp]", "[profiles.nosign]")+"databricks_host = \""+workspaceHost+"\"\n")
	e.enableMetadata()
	e.startSignedInSP("short-lifetime-s3cret-0123456789")
	url := e.metadataURL("sp")
	before := tokenPathRequests(e.entra)

	for i := range 6 {
		out, stderr, code := e.client("", "token", "-p", "sp")
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Fatalf("token %d: exit %d: %s", i+1, code, stderr)
		}
		e.secrets = append(e.secrets, strings.TrimSpace(out))
		if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 ||
			!strings.HasPrefix(lines[0], "entra-helper: warning: ") || !strings.Contains(lines[0], "less than the 5m0s asked") {
			t.Fatalf("token %d: stderr %q, want one warning line", i+1, stderr)
		}
	}
	for i := range 3 {
		status, body := e.metadataGet(url, workspaceHost)
		exp, _ := body["expires_on"].(float64)
		if status != 200 || time.Until(time.Unix(int64(exp), 0)) < time.Minute {
			t.Fatalf("metadata request %d: status %d, expires_on %v", i+1, status, body["expires_on"])
		}
	}
	calls := tokenPathRequests(e.entra) - before
	if calls > 2 {
		t.Fatalf("six token calls and three metadata requests made %d Entra calls, want at most 2", calls)
	}
	t.Logf("six token calls and three metadata requests: %d Entra calls after sign-in", calls)

	// --min-valid 5m can never be met by 4-minute tokens: exit 2, no call.
	calls = tokenPathRequests(e.entra)
	_, stderr, code := e.client("", "token", "-p", "sp", "--min-valid", "5m")
	if code != 2 || !strings.Contains(stderr, "can never be met") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("--min-valid 5m: exit %d, stderr %q; want exit 2 and one line", code, stderr)
	}
	if tokenPathRequests(e.entra) != calls {
		t.Fatal("a refused --min-valid called Entra")
	}

	// status names the warning.
	out, _, code := e.client("", "status")
	if code != 0 || !strings.Contains(out, "warning (") || strings.Contains(out, "1970") {
		t.Fatalf("status: exit %d:\n%s", code, out)
	}
	if !strings.Contains(e.daemonLog(), "serving tokens with less left than asked") {
		t.Fatal("the daemon logged no warning")
	}

	// A profile that is not signed in: a JSON 401 that names it once.
	status, body := e.metadataGet(strings.TrimSuffix(url, "/sp")+"/nosign", workspaceHost)
	desc, _ := body["error_description"].(string)
	if status != 401 || body["error"] != "login_required" || strings.Count(desc, "profile ") != 1 ||
		!strings.Contains(desc, "entra-helper login -p nosign") {
		t.Fatalf("not signed in: status %d, body %v", status, body)
	}
	// Another workspace: a JSON 403.
	if status, body := e.metadataGet(url, "https://adb-9.9.azuredatabricks.net"); status != 403 || body["error"] != "access_denied" {
		t.Fatalf("other workspace: status %d, body %v", status, body)
	}
}
