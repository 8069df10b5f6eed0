package main

import (
	"strings"
	"testing"
)

// TestAzureEnvWarnsOfWhatWinsOverTheEndpoint: DefaultAzureCredential tries
// EnvironmentCredential and WorkloadIdentityCredential before the managed
// identity, AZURE_TOKEN_CREDENTIALS can leave the managed identity out, and
// AZURE_CLIENT_ID names the identity it asks for; with any of those in the
// shell, `eval "$(entra-helper azure env)"` alone would not get tokens from
// the daemon. azure env says so on stderr and keeps stdout eval-ready.
func TestAzureEnvWarnsOfWhatWinsOverTheEndpoint(t *testing.T) {
	p := testProfile()
	p.IdentityEndpoint = "http://127.0.0.1:8772/app-service/prod"
	p.IdentityHeader = "h3ader-s3cret"
	p.IMDSEndpoint = "http://127.0.0.1:8772/imds/h3ader-s3cret/prod"
	want := "export IDENTITY_ENDPOINT=http://127.0.0.1:8772/app-service/prod\nexport IDENTITY_HEADER=h3ader-s3cret\n"
	for _, tt := range []struct {
		name string
		env  map[string]string
		warn []string // names the warning must carry; none: no warning
	}{
		{"clean", nil, nil},
		{"the profile's own client ID", map[string]string{"AZURE_CLIENT_ID": p.ClientID}, nil},
		{"the profile's own client ID in capitals", map[string]string{"AZURE_CLIENT_ID": strings.ToUpper(p.ClientID)}, nil},
		{"prod keeps the managed identity", map[string]string{"AZURE_TOKEN_CREDENTIALS": "prod"}, nil},
		{"only the managed identity", map[string]string{"AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential"}, nil},
		{"a client secret", map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": p.ClientID, "AZURE_CLIENT_SECRET": "s"}, []string{"AZURE_CLIENT_SECRET"}},
		{"a certificate", map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": "/c.pem"}, []string{"AZURE_CLIENT_CERTIFICATE_PATH"}},
		{"a password", map[string]string{"AZURE_USERNAME": "u", "AZURE_PASSWORD": "p"}, []string{"AZURE_PASSWORD"}},
		{"workload identity", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/t"}, []string{"AZURE_FEDERATED_TOKEN_FILE"}},
		{"dev credentials only", map[string]string{"AZURE_TOKEN_CREDENTIALS": "dev"}, []string{"AZURE_TOKEN_CREDENTIALS"}},
		{"the CLI only", map[string]string{"AZURE_TOKEN_CREDENTIALS": "AzureCLICredential"}, []string{"AZURE_TOKEN_CREDENTIALS"}},
		{"another identity", map[string]string{"AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001"}, []string{"AZURE_CLIENT_ID"}},
		{"Service Fabric", map[string]string{"IDENTITY_SERVER_THUMBPRINT": "ab"}, []string{"IDENTITY_SERVER_THUMBPRINT"}},
		{"several", map[string]string{"AZURE_CLIENT_SECRET": "s", "AZURE_TOKEN_CREDENTIALS": "dev"}, []string{"AZURE_CLIENT_SECRET", "AZURE_TOKEN_CREDENTIALS"}},
	} {
		a, _, _ := testApp(&fakeDaemon{profile: p}, tt.env)
		code, out, errOut := runApp(t, a, "azure", "env", "--shell", "sh")
		if code != 0 || out != want {
			t.Errorf("%s: exit %d, stdout %q", tt.name, code, out)
		}
		if len(tt.warn) == 0 {
			if errOut != "" {
				t.Errorf("%s: stderr %q, want nothing", tt.name, errOut)
			}
			continue
		}
		if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "entra-helper: warning: ") || !strings.Contains(errOut, "unset ") {
			t.Errorf("%s: stderr %q, want one warning line saying what to unset", tt.name, errOut)
		}
		for _, k := range tt.warn {
			if !strings.Contains(errOut, k) {
				t.Errorf("%s: the warning %q does not name %s", tt.name, errOut, k)
			}
		}
		for _, v := range tt.env {
			if len(v) > 0 && v != p.ClientID && strings.Contains(errOut, "="+v) {
				t.Errorf("%s: the warning %q shows a variable's value", tt.name, errOut)
			}
		}
	}
	// Terraform reads none of these: --terraform says nothing of them.
	a, _, _ := testApp(&fakeDaemon{profile: p}, map[string]string{"AZURE_CLIENT_SECRET": "s"})
	if code, _, errOut := runApp(t, a, "azure", "env", "--terraform", "--shell", "sh"); code != 0 || errOut != "" {
		t.Errorf("--terraform: exit %d, stderr %q", code, errOut)
	}
}
