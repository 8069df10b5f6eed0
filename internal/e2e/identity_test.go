//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const managementResource = "https://management.core.windows.net/"

var (
	azcallOnce sync.Once
	azcallErr  error
)

// azcall builds internal/demo/azcall (the real azidentity in its own
// process, so that MSAL's process-wide token cache never answers for the
// daemon) once per test binary.
func azcall(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "azcall")
	azcallOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", bin, "../demo/azcall").CombinedOutput()
		if err != nil {
			azcallErr = fmt.Errorf("building azcall: %v: %s", err, out)
		}
	})
	if azcallErr != nil {
		t.Fatal(azcallErr)
	}
	return bin
}

// enableIdentity turns the managed-identity endpoint on, on a loopback port
// that was free a moment ago.
func (e *env) enableIdentity() string { return e.enableListener("identity_listen") }

// azureEnv runs `entra-helper azure env` (with args) and returns its
// variables; the secrets in them join the leak check.
func (e *env) azureEnv(args ...string) map[string]string {
	e.t.Helper()
	out, stderr, code := e.client("", append([]string{"azure", "env", "--shell", "sh"}, args...)...)
	if code != 0 {
		e.t.Fatalf("azure env %v: exit %d: %s", args, code, stderr)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		vars[k] = strings.Trim(v, `'"`)
	}
	if h := vars["IDENTITY_HEADER"]; h != "" {
		e.secrets = append(e.secrets, h)
	}
	if u := vars["ARM_MSI_ENDPOINT"]; u != "" {
		e.secrets = append(e.secrets, strings.Split(u, "/")[4]) // http: "" host imds <secret> <profile>
	}
	return vars
}

// sdkResult is what azcall prints with -json.
type sdkResult struct {
	Token     string   `json:"token"`
	ExpiresOn int64    `json:"expires_on"`
	Hosts     []string `json:"hosts"`
}

// runSDK runs azcall with the user's environment, vars added (and every
// other Azure identity variable removed); it returns the result or, when
// azcall fails, its error output.
func (e *env) runSDK(vars map[string]string, args ...string) (sdkResult, string) {
	e.t.Helper()
	cmd := exec.Command(azcall(e.t), append([]string{"-json"}, args...)...)
	for _, kv := range e.environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "IDENTITY_") || strings.HasPrefix(k, "MSI_") || k == "IMDS_ENDPOINT" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, stderr, code := runCmd(e.t, cmd, "")
	e.outputs = append(e.outputs, stderr)
	if code != 0 {
		return sdkResult{}, stderr
	}
	var r sdkResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		e.t.Fatalf("azcall printed %d bytes that are not its JSON: %v", len(out), err)
	}
	e.secrets = append(e.secrets, r.Token)
	return r, ""
}

// TestAzureSDKManagedIdentity: `azure env` makes the real azidentity
// (DefaultAzureCredential and ManagedIdentityCredential, with and without a
// client ID) get Databricks and management tokens from the daemon, and
// again after a kill -9 and a restart; an unknown client ID is refused;
// nothing ever goes to IMDS.
func TestAzureSDKManagedIdentity(t *testing.T) {
	e := newEnv(t, spProfile)
	addr := e.enableIdentity()
	e.startSignedInSP("identity-Sp~Secret.value-0123456789")
	vars := e.azureEnv("-p", "sp")
	if vars["IDENTITY_ENDPOINT"] != "http://"+addr+"/app-service/sp" || len(vars["IDENTITY_HEADER"]) < 16 || len(vars) != 2 {
		t.Fatalf("azure env printed %d variables, IDENTITY_ENDPOINT %q", len(vars), vars["IDENTITY_ENDPOINT"])
	}

	check := func(during string) {
		t.Helper()
		for _, tc := range []struct {
			name     string
			vars     map[string]string
			args     []string
			resource string
		}{
			{"DefaultAzureCredential", nil, nil, databricksResource},
			{"DefaultAzureCredential", nil, nil, managementResource},
			{"DefaultAzureCredential with AZURE_CLIENT_ID", map[string]string{"AZURE_CLIENT_ID": spClientID}, nil, managementResource},
			{"ManagedIdentityCredential", nil, []string{"-credential", "managed"}, databricksResource},
			{"ManagedIdentityCredential with the client ID", nil, []string{"-credential", "managed", "-client-id", spClientID}, managementResource},
		} {
			all := map[string]string{}
			for k, v := range vars {
				all[k] = v
			}
			for k, v := range tc.vars {
				all[k] = v
			}
			r, stderr := e.runSDK(all, append(tc.args, "-resource", tc.resource)...)
			if stderr != "" {
				t.Fatalf("%s: %s for %s: %s", during, tc.name, tc.resource, stderr)
			}
			c := claims(t, r.Token)
			if c["aud"] != tc.resource || c["appid"] != spClientID {
				t.Errorf("%s: %s for %s: aud %v appid %v", during, tc.name, tc.resource, c["aud"], c["appid"])
			}
			if left := time.Until(time.Unix(r.ExpiresOn, 0)); left < 5*time.Minute {
				t.Errorf("%s: %s: the token expires in %v", during, tc.name, left)
			}
			for _, h := range r.Hosts {
				if h != addr {
					t.Errorf("%s: %s contacted %s (IMDS is 169.254.169.254), want only %s", during, tc.name, h, addr)
				}
			}
		}
		_, stderr := e.runSDK(vars, "-credential", "managed", "-client-id", "00000000-0000-0000-0000-000000000042")
		if !strings.Contains(stderr, "400") || !strings.Contains(stderr, "Identity not found") {
			t.Errorf("%s: an unknown client ID: %q, want a 400 with Identity not found", during, stderr)
		}
	}
	check("first start")

	e.killDaemon() // SIGKILL: no chance to clean up
	e.startDaemon()
	if again := e.azureEnv("-p", "sp"); again["IDENTITY_ENDPOINT"] != vars["IDENTITY_ENDPOINT"] || again["IDENTITY_HEADER"] != vars["IDENTITY_HEADER"] {
		t.Fatal("the managed-identity endpoint or its secret changed across a restart")
	}
	check("after kill -9 and a restart")
}

// TestManagedIdentityRefusals: each refusal of the managed-identity
// endpoint, with its status and JSON body, through the real daemon; the
// Terraform-style request succeeds with integer-string expires_in.
func TestManagedIdentityRefusals(t *testing.T) {
	e := newEnv(t, spProfile)
	addr := e.enableIdentity()
	e.startSignedInSP("identity-refusal~Secret.value-0123456789")
	vars := e.azureEnv("-p", "sp")
	tf := e.azureEnv("-p", "sp", "--terraform")
	if tf["ARM_USE_MSI"] != "true" || tf["ARM_CLIENT_ID"] != spClientID || tf["ARM_TENANT_ID"] != e.entra.Tenant() ||
		!strings.HasPrefix(tf["ARM_MSI_ENDPOINT"], "http://"+addr+"/imds/") || len(tf) != 4 {
		t.Fatalf("azure env --terraform: %d variables, ARM_USE_MSI %q, ARM_CLIENT_ID %q", len(tf), tf["ARM_USE_MSI"], tf["ARM_CLIENT_ID"])
	}
	q := "?api-version=2019-08-01&resource=" + url.QueryEscape(managementResource)
	tfq := "?api-version=2018-02-01&resource=" + url.QueryEscape(managementResource)
	idHdr := map[string]string{"X-IDENTITY-HEADER": vars["IDENTITY_HEADER"]}
	meta := map[string]string{"Metadata": "true"}
	for _, tc := range []struct {
		name, method, url string
		headers           map[string]string
		host              string
		want              int
		wantError, body   string
	}{
		{"app service", "GET", vars["IDENTITY_ENDPOINT"] + q, idHdr, "", 200, "", `"expires_in":"`},
		{"terraform (IMDS-style, client_id)", "GET", tf["ARM_MSI_ENDPOINT"] + tfq + "&client_id=" + spClientID, meta, "", 200, "", `"expires_in":"`},
		{"missing header", "GET", vars["IDENTITY_ENDPOINT"] + q, nil, "", 401, "unauthorized_client", "X-IDENTITY-HEADER header is missing or wrong"},
		{"wrong header", "GET", vars["IDENTITY_ENDPOINT"] + q, map[string]string{"X-IDENTITY-HEADER": "wrong-" + vars["IDENTITY_HEADER"]}, "", 401, "unauthorized_client", "missing or wrong"},
		{"foreign Host", "GET", vars["IDENTITY_ENDPOINT"] + q, idHdr, "evil.example", 403, "access_denied", "Host header must be"},
		{"unknown client_id", "GET", vars["IDENTITY_ENDPOINT"] + q + "&client_id=00000000-0000-0000-0000-000000000042", idHdr, "", 400, "invalid_request", "Identity not found"},
		{"POST", "POST", vars["IDENTITY_ENDPOINT"] + q, idHdr, "", 405, "method_not_allowed", "only GET"},
		{"IMDS without Metadata", "GET", tf["ARM_MSI_ENDPOINT"] + tfq, nil, "", 400, "invalid_request", "Required metadata header not specified"},
		{"IMDS wrong secret", "GET", "http://" + addr + "/imds/not-the-secret/sp" + tfq, meta, "", 404, "not_found", "not found"},
	} {
		req, err := http.NewRequest(tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("%s: the body is not JSON (%d bytes)", tc.name, len(b))
			continue
		}
		if resp.StatusCode != tc.want || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: status %d, want %d with %q (error %v: %v)", tc.name, resp.StatusCode, tc.want, tc.body, body["error"], body["error_description"])
		}
		if tc.want == 200 {
			tok, _ := body["access_token"].(string)
			e.secrets = append(e.secrets, tok)
			for _, k := range []string{"expires_in", "expires_on"} {
				if s, ok := body[k].(string); !ok || strings.Trim(s, "0123456789") != "" || s == "" {
					t.Errorf("%s: %s = %#v, want an integer string", tc.name, k, body[k])
				}
			}
			if body["resource"] != managementResource || body["token_type"] != "Bearer" {
				t.Errorf("%s: resource %v token_type %v", tc.name, body["resource"], body["token_type"])
			}
		} else if body["error"] != tc.wantError {
			t.Errorf("%s: error %v, want %s", tc.name, body["error"], tc.wantError)
		}
	}

	// Another uid, with the right URL and header, is refused by the TCP
	// peer's owner; the header goes to curl on stdin, never in its argv.
	if os.Geteuid() != 0 {
		t.Log("not root: the peer check as another uid is not exercised")
		return
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Log("no curl: the peer check as another uid is not exercised")
		return
	}
	cfg := fmt.Sprintf("url = %q\nheader = \"X-IDENTITY-HEADER: %s\"\nsilent\nwrite-out = \"\\n%%{http_code}\"\n", vars["IDENTITY_ENDPOINT"]+q, vars["IDENTITY_HEADER"])
	cmd := exec.Command(curl, "--config", "-")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyUID, Gid: nobodyUID}}
	out, stderr, code := runCmd(t, cmd, cfg)
	e.outputs = append(e.outputs, out, stderr)
	if code != 0 || !strings.HasSuffix(out, "\n403") || !strings.Contains(out, `"error":"access_denied"`) {
		t.Errorf("as uid %d: curl exit %d, answer %q (%s), want a 403 forbidden", nobodyUID, code, out, stderr)
	}
	if !strings.Contains(e.daemonLog(), fmt.Sprintf("uid %d", nobodyUID)) {
		t.Error("the daemon's log does not show the refusal of the other uid")
	}
}
