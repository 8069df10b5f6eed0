package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/entra-helper/entra-helper/daemon/config"
	"github.com/entra-helper/entra-helper/daemon/tokensource"
)

// Real bodies as Entra sends them (trace and correlation IDs shortened).
const (
	bodyWrongSecret   = `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '12a34b56-789c-0d12-e3fa-b456789c0123'. Trace ID: 1 Correlation ID: 2 Timestamp: 2024-01-01 00:00:00Z","error_codes":[7000215],"timestamp":"2024-01-01 00:00:00Z","trace_id":"t1","correlation_id":"c1","error_uri":"https://login.microsoftonline.com/error?code=7000215"}`
	bodyAppNotFound   = `{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'abc' was not found in the directory 'Contoso'.","error_codes":[700016],"trace_id":"t","correlation_id":"c"}`
	bodyRTExpired     = `{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.","error_codes":[700082],"trace_id":"t","correlation_id":"c"}`
	bodyRTRevoked     = `{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked.","error_codes":[50173],"suberror":"bad_token"}`
	bodyBadToken      = `{"error":"invalid_grant","error_description":"AADSTS9002313: Invalid request.","error_codes":[9002313],"suberror":"bad_token"}`
	bodyCAExpired     = `{"error":"invalid_grant","error_description":"AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.","error_codes":[70043],"suberror":"bad_token"}`
	bodyConsent       = `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented to use the application.","error_codes":[65001],"suberror":"consent_required"}`
	bodyMFA           = `{"error":"invalid_grant","error_description":"AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication.","error_codes":[50076],"suberror":"basic_action"}`
	bodyInteraction   = `{"error":"interaction_required","error_description":"AADSTS50079: Due to a configuration change ... you must enroll in multi-factor authentication.","error_codes":[50079]}`
	bodyBadPassword   = `{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials due to invalid username or password.","error_codes":[50126]}`
	bodyRedirect      = `{"error":"invalid_request","error_description":"AADSTS50011: The redirect URI 'http://localhost:1234' specified in the request does not match the redirect URIs configured for the application.","error_codes":[50011]}`
	bodyTenant        = `{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'nope' not found.","error_codes":[90002]}`
	bodyThrottled     = `{"error":"temporarily_unavailable","error_description":"AADSTS50196: The server terminated an operation because it encountered a client request loop.","error_codes":[50196]}`
	bodyServer        = `{"error":"server_error","error_description":"AADSTS90033: A transient error has occurred. Please try again.","error_codes":[90033]}`
	bodyPublicClient  = `{"error":"invalid_client","error_description":"AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.","error_codes":[7000218]}`
	bodyFederated     = `{"error":"invalid_client","error_description":"AADSTS70021: No matching federated identity record found for presented assertion.","error_codes":[70021]}`
	bodyInvalidScope  = `{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for the input parameter 'scope' is not valid.","error_codes":[70011]}`
	bodyDeviceExpired = `{"error":"expired_token","error_description":"AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.","error_codes":[70020]}`
	bodyUnknown       = `{"error":"invalid_request","error_description":"AADSTS123456: Something new happened. Trace ID: x","error_codes":[123456]}`
	bodyMIAppService  = `{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"c"}`
)

func TestParseEntraError(t *testing.T) {
	tests := []struct {
		name, body         string
		ok                 bool
		code, aadsts, sub  string
		descriptionPrefix  string
		traceID, correlate string
	}{
		{"wrong secret", bodyWrongSecret, true, "invalid_client", "AADSTS7000215", "", "AADSTS7000215: Invalid client secret", "t1", "c1"},
		{"revoked", bodyRTRevoked, true, "invalid_grant", "AADSTS50173", "bad_token", "AADSTS50173", "", ""},
		{"codes only in description", `{"error":"invalid_grant","error_description":"AADSTS700082: expired"}`, true, "invalid_grant", "AADSTS700082", "", "AADSTS700082", "", ""},
		{"managed identity message", bodyMIAppService, true, "", "", "", "Unable to load", "", ""},
		{"nested error object", `{"error":{"code":"invalid_request","message":"Identity not found"}}`, true, "invalid_request", "", "", "Identity not found", "", ""},
		{"empty", ``, false, "", "", "", "", "", ""},
		{"html", `<html>502 Bad Gateway</html>`, false, "", "", "", "", "", ""},
		{"array", `[1,2]`, false, "", "", "", "", "", ""},
		{"unrelated object", `{"foo":"bar"}`, false, "", "", "", "", "", ""},
		{"truncated", `{"error":"invalid_gr`, false, "", "", "", "", "", ""},
		{"codes as floats", `{"error":"x","error_codes":[1.5, 50126]}`, true, "x", "AADSTS50126", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := ParseEntraError([]byte(tt.body))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if e.Code != tt.code || e.AADSTS() != tt.aadsts || e.SubError != tt.sub {
				t.Errorf("got code=%q aadsts=%q sub=%q, want %q %q %q", e.Code, e.AADSTS(), e.SubError, tt.code, tt.aadsts, tt.sub)
			}
			if !strings.HasPrefix(e.Description, tt.descriptionPrefix) {
				t.Errorf("description %q, want prefix %q", e.Description, tt.descriptionPrefix)
			}
			if e.TraceID != tt.traceID || e.CorrelationID != tt.correlate {
				t.Errorf("trace/correlation = %q/%q", e.TraceID, e.CorrelationID)
			}
		})
	}
}

func FuzzParseEntraError(f *testing.F) {
	for _, b := range []string{bodyWrongSecret, bodyRTRevoked, bodyMIAppService, `{"error":{"code":1}}`, `{"error_codes":["x"]}`, ``} {
		f.Add([]byte(b))
	}
	p := &config.Profile{Name: "fuzz", Flow: config.FlowClientSecret, Tenant: "t", ClientID: "c"}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, ok := ParseEntraError(body)
		if !ok && (e.Code != "" || e.Description != "" || len(e.Codes) != 0) {
			t.Fatalf("not ok but fields set: %+v", e)
		}
		_ = e.AADSTS()
		ae := mapEntra(p, 400, e, ok)
		if ae.Message == "" {
			t.Fatal("empty message")
		}
		if strings.ContainsAny(ae.Message, "\r\n") {
			t.Fatalf("message spans lines: %q", ae.Message)
		}
	})
}

// callErr builds the error MSAL returns for an HTTP error answer.
func callErr(status int, body string, header http.Header) error {
	u, _ := url.Parse("https://login.example/tenant/oauth2/v2.0/token")
	req := &http.Request{Method: http.MethodPost, URL: u}
	if header == nil {
		header = http.Header{}
	}
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}
	return msalerrors.CallErr{Req: req, Resp: resp,
		Err: fmt.Errorf("http call(%s)(POST) error: reply status code was %d:\n%s", u, status, body)}
}

func TestClassify(t *testing.T) {
	secretP := &config.Profile{Name: "prod", Flow: config.FlowClientSecret, Tenant: "contoso", ClientID: "app1"}
	userP := &config.Profile{Name: "me", Flow: config.FlowDeviceCode, Tenant: "contoso", ClientID: "app2"}
	fedP := &config.Profile{Name: "ci", Flow: config.FlowFederated, Tenant: "contoso", ClientID: "app3", FederatedTokenFile: "/var/run/token"}
	retry := http.Header{"Retry-After": []string{"17"}}
	tests := []struct {
		name     string
		p        *config.Profile
		err      error
		kind     tokensource.Kind
		aadsts   string
		contains []string
		retry    time.Duration
	}{
		{"wrong secret", secretP, callErr(401, bodyWrongSecret, nil), tokensource.KindFailed, "AADSTS7000215",
			[]string{"client secret of profile prod is wrong", "Value, not its Secret ID", "entra-helper login -p prod --secret-stdin"}, 0},
		{"app not found", secretP, callErr(400, bodyAppNotFound, nil), tokensource.KindFailed, "AADSTS700016", []string{"app1", "not found in tenant contoso"}, 0},
		{"rt expired", userP, callErr(400, bodyRTExpired, nil), tokensource.KindNeedsLogin, "AADSTS700082", []string{"sign in again: entra-helper login -p me"}, 0},
		{"rt revoked", userP, callErr(400, bodyRTRevoked, nil), tokensource.KindNeedsLogin, "AADSTS50173", []string{"entra-helper login -p me"}, 0},
		{"bad token suberror", userP, callErr(400, bodyBadToken, nil), tokensource.KindNeedsLogin, "AADSTS9002313", []string{"sign in again"}, 0},
		{"conditional access frequency", userP, callErr(400, bodyCAExpired, nil), tokensource.KindNeedsLogin, "AADSTS70043", []string{"sign in again"}, 0},
		{"consent", userP, callErr(400, bodyConsent, nil), tokensource.KindNeedsLogin, "AADSTS65001", []string{"sign in with the browser flow"}, 0},
		{"mfa", userP, callErr(400, bodyMFA, nil), tokensource.KindNeedsLogin, "AADSTS50076", []string{"browser flow"}, 0},
		{"interaction required", userP, callErr(400, bodyInteraction, nil), tokensource.KindNeedsLogin, "AADSTS50079", []string{"browser flow"}, 0},
		{"bad password", userP, callErr(400, bodyBadPassword, nil), tokensource.KindFailed, "AADSTS50126", []string{"wrong username or password for profile me"}, 0},
		{"redirect mismatch", userP, callErr(400, bodyRedirect, nil), tokensource.KindFailed, "AADSTS50011", []string{"redirect URI", "http://localhost"}, 0},
		{"tenant not found", secretP, callErr(400, bodyTenant, nil), tokensource.KindFailed, "AADSTS90002", []string{"tenant contoso of profile prod was not found"}, 0},
		{"throttled 429", secretP, callErr(429, bodyThrottled, retry), tokensource.KindUnavailable, "AADSTS50196", []string{"throttling", "prod"}, 17 * time.Second},
		{"429 no body", secretP, callErr(429, "", retry), tokensource.KindUnavailable, "", []string{"throttling"}, 17 * time.Second},
		{"503", secretP, callErr(503, "<html>busy</html>", nil), tokensource.KindUnavailable, "", []string{"HTTP 503", "try again later"}, 0},
		{"500 server_error", secretP, callErr(500, bodyServer, nil), tokensource.KindUnavailable, "AADSTS90033", []string{"try again later"}, 0},
		{"public client flows off", userP, callErr(401, bodyPublicClient, nil), tokensource.KindFailed, "AADSTS7000218", []string{"Allow public client flows"}, 0},
		{"federated mismatch", fedP, callErr(400, bodyFederated, nil), tokensource.KindFailed, "AADSTS70021", []string{"federated token of profile ci", "/var/run/token"}, 0},
		{"invalid scope", secretP, callErr(400, bodyInvalidScope, nil), tokensource.KindUsage, "AADSTS70011", []string{"scope"}, 0},
		{"device code expired", userP, callErr(400, bodyDeviceExpired, nil), tokensource.KindNeedsLogin, "AADSTS70020", []string{"device code", "login -p me"}, 0},
		{"unknown code shows description", secretP, callErr(400, bodyUnknown, nil), tokensource.KindFailed, "AADSTS123456", []string{"Something new happened."}, 0},
		{"no token found", userP, errors.New("no token found"), tokensource.KindNeedsLogin, "", []string{"profile me is not signed in: run `entra-helper login -p me`"}, 0},
		{"network", secretP, &url.Error{Op: "Post", URL: "https://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}, tokensource.KindUnavailable, "", []string{"cannot reach Entra for profile prod"}, 0},
		{"timeout", secretP, fmt.Errorf("x: %w", context.DeadlineExceeded), tokensource.KindUnavailable, "", []string{"in time"}, 0},
		{"unknown", secretP, errors.New("weird"), tokensource.KindFailed, "", []string{"profile prod"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae *tokensource.Error
			if !errors.As(Classify(tt.p, tt.err, time.Now()), &ae) {
				t.Fatalf("not an *tokensource.Error")
			}
			if ae.Kind != tt.kind {
				t.Errorf("kind = %v, want %v (%s)", ae.Kind, tt.kind, ae.Message)
			}
			if ae.AADSTS != tt.aadsts {
				t.Errorf("AADSTS = %q, want %q", ae.AADSTS, tt.aadsts)
			}
			for _, c := range tt.contains {
				if !strings.Contains(ae.Message, c) {
					t.Errorf("message %q lacks %q", ae.Message, c)
				}
			}
			if ae.RetryAfter != tt.retry {
				t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tt.retry)
			}
			if strings.Contains(ae.Error(), "http call") || strings.Contains(ae.Message, "Trace ID") {
				t.Errorf("raw MSAL text leaked: %q", ae.Error())
			}
			if ae.Err != nil && strings.Contains(ae.Err.Error(), "http call") {
				t.Errorf("raw MSAL text in Err: %q", ae.Err)
			}
		})
	}
}

func TestClassifyNeverLeaksSecrets(t *testing.T) {
	p := &config.Profile{Name: "p", Flow: config.FlowClientSecret, Tenant: "t", ClientID: "c"}
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	errs := []error{
		errors.New("json decode error: x\nraw message was: {\"access_token\":\"" + tok + "\"}"),
		fmt.Errorf("client_secret=hunter2 rejected"),
		callErr(400, `{"error":"invalid_request","error_description":"bad `+tok+`"}`, nil),
	}
	for _, err := range errs {
		ae := Classify(p, err, time.Now()).(*tokensource.Error)
		all := ae.Error()
		if ae.Err != nil {
			all += ae.Err.Error()
		}
		for _, s := range []string{tok, "hunter2", "eyJ"} {
			if strings.Contains(all, s) {
				t.Errorf("%q leaks %q", all, s)
			}
		}
	}
}

func TestClassifyKeepsBodyReadable(t *testing.T) {
	p := &config.Profile{Name: "p", Flow: config.FlowClientSecret, Tenant: "t", ClientID: "c"}
	err := callErr(401, bodyWrongSecret, nil)
	_ = Classify(p, err, time.Now())
	b, _ := io.ReadAll(err.(msalerrors.CallErr).Resp.Body)
	if !bytes.Equal(b, []byte(bodyWrongSecret)) {
		t.Fatalf("body consumed: %q", b)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-3", 0}, {"30", 30 * time.Second}, {"junk", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.v, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
