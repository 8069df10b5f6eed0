package entra

import (
	"strings"
	"testing"
)

func TestCloudTable(t *testing.T) {
	// Values as the Azure CLI's cloud.py and the Databricks Go SDK define them.
	for _, tc := range []struct {
		name, authority, mgmt, arm, cli, dbHost string
	}{
		{"public", "https://login.microsoftonline.com", "https://management.core.windows.net/", "https://management.azure.com/", "AzureCloud", "adb-1.2.azuredatabricks.net"},
		{"usgov", "https://login.microsoftonline.us", "https://management.core.usgovcloudapi.net/", "https://management.usgovcloudapi.net/", "AzureUSGovernment", "adb-1.2.databricks.azure.us"},
		{"china", "https://login.chinacloudapi.cn", "https://management.core.chinacloudapi.cn/", "https://management.chinacloudapi.cn/", "AzureChinaCloud", "adb-1.2.databricks.azure.cn"},
	} {
		c := CloudByName(tc.name)
		if c == nil {
			t.Fatalf("no cloud %q", tc.name)
		}
		if c.AuthorityHost != tc.authority || c.ManagementResource != tc.mgmt || c.ResourceManager != tc.arm || c.CLIName != tc.cli {
			t.Errorf("%s: %+v", tc.name, c)
		}
		if c.ResourceOfType("arm") != tc.mgmt || c.ManagementScope() != tc.mgmt+"/.default" {
			t.Errorf("%s: arm resource %q, scope %q", tc.name, c.ResourceOfType("arm"), c.ManagementScope())
		}
		if got := CloudOfDatabricksHost(tc.dbHost); got != c {
			t.Errorf("CloudOfDatabricksHost(%q) = %v, want %s", tc.dbHost, got, tc.name)
		}
		for _, rt := range ResourceTypes {
			if r := c.ResourceOfType(rt); r != "" && (len(r) < 9 || r[:8] != "https://") && r != DatabricksResource {
				t.Errorf("%s: resource type %s = %q", tc.name, rt, r)
			}
		}
	}
	for _, c := range Clouds {
		if !IsEntraHost(strings.TrimPrefix(c.AuthorityHost, "https://")) {
			t.Errorf("%s: its authority host is not among its Entra hosts", c.Name)
		}
	}
	if !IsEntraHost("STS.windows.net") || IsEntraHost("login.example.com") || IsEntraHost("127.0.0.1") {
		t.Error("IsEntraHost: wrong answer")
	}
	if CloudByName("") != Clouds[0] || CloudByName("german") != nil {
		t.Error("CloudByName: default or unknown cloud wrong")
	}
	if CloudOfDatabricksHost("127.0.0.1") != nil || CloudOfDatabricksHost("azuredatabricks.net") != nil {
		t.Error("CloudOfDatabricksHost matched a host outside every cloud")
	}
}

func TestParseTenant(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		form     TenantForm
	}{
		{"A1BC2D34-5E67-8F89-01AB-C2345D6C78DE", "a1bc2d34-5e67-8f89-01ab-c2345d6c78de", TenantGUID},
		{"contoso.com", "contoso.com", TenantDomain},
		{"Contoso.OnMicrosoft.com", "contoso.onmicrosoft.com", TenantDomain},
		{"common", "common", TenantAlias},
		{"Organizations", "organizations", TenantAlias},
		{"consumers", "consumers", TenantAlias},
		{"contoso", "contoso", TenantInvalid},
		{"-contoso.com", "-contoso.com", TenantInvalid},
		{"contoso..com", "contoso..com", TenantInvalid},
		{"a1bc2d34-5e67-8f89-01ab-c2345d6c78dz", "a1bc2d34-5e67-8f89-01ab-c2345d6c78dz", TenantInvalid},
		{"", "", TenantInvalid},
		{"contoso.com/x", "contoso.com/x", TenantInvalid},
	} {
		got, form := ParseTenant(tc.in)
		if form != tc.form || (form != TenantInvalid && got != tc.want) {
			t.Errorf("ParseTenant(%q) = %q, %d; want %q, %d", tc.in, got, form, tc.want, tc.form)
		}
	}
	if tid, form := TenantOfPath("/7c1f0e1d-5b3a-4c2e-9f6d-2a8b4e6c0d11/oauth2/authorize"); form != TenantGUID || tid != "7c1f0e1d-5b3a-4c2e-9f6d-2a8b4e6c0d11" {
		t.Errorf("TenantOfPath: %q %d", tid, form)
	}
}

func TestWorkspaceURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://adb-1.2.azuredatabricks.net", "https://adb-1.2.azuredatabricks.net", true},
		{"HTTPS://ADB-1.2.AzureDatabricks.net:443/", "https://adb-1.2.azuredatabricks.net", true},
		{"adb-1.2.azuredatabricks.net", "https://adb-1.2.azuredatabricks.net", true},
		{"https://127.0.0.1:8443", "https://127.0.0.1:8443", true},
		{"https://[::1]:8443/", "https://[::1]:8443", true},
		{"https://[::1]:443", "https://[::1]", true},
		{"https://h:8443", "https://h:8443", true},
		{"http://adb-1.2.azuredatabricks.net", "", false},
		{"https://adb-1.2.azuredatabricks.net/api", "", false},
		{"https://u@adb-1.2.azuredatabricks.net", "", false},
		{"https://adb-1.2.azuredatabricks.net?x=1", "", false},
		{"https://adb-1.2.azuredatabricks.net:0", "", false},
		{"https://adb-1.2.azuredatabricks.net:99999", "", false},
		{"", "", false},
		{"https://", "", false},
	} {
		got, ok := WorkspaceURL(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("WorkspaceURL(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
