package main

import (
	"fmt"
	"strings"
)

const azureUsage = `Usage: entra-helper azure env [-p PROFILE] [--terraform] [--shell sh|fish|powershell|cmd]

Makes the Azure SDKs (Go, Python, JavaScript, .NET, Java: ManagedIdentityCredential
and DefaultAzureCredential) and, with --terraform, Terraform's azurerm and azuread
providers take their tokens from entra-helperd's loopback managed-identity
endpoint. The daemon's identity_listen must be on.

  eval "$(entra-helper azure env -p prod)"              IDENTITY_ENDPOINT, IDENTITY_HEADER
  eval "$(entra-helper azure env -p prod --terraform)"  ARM_USE_MSI, ARM_MSI_ENDPOINT,
                                                        ARM_TENANT_ID, ARM_CLIENT_ID

Every process that can read these variables can get the profile's tokens, as
with any managed identity; see docs/azure-sdks.md. MSI_ENDPOINT and MSI_SECRET
are never set: current SDKs would take them for Azure ML or Cloud Shell.

Options:
  -p, --profile NAME   the entra-helper profile
      --terraform      print Terraform's ARM_* variables instead
      --shell SHELL    the syntax of the lines (default: sh; powershell on Windows)
`

func (a *app) cmdAzure(args []string) error {
	if len(args) == 0 {
		return usageError("azure needs a subcommand: env; see `entra-helper azure --help`")
	}
	switch args[0] {
	case "env":
		return a.cmdAzureEnv(args[1:])
	case "-h", "--help", "help":
		return errHelp
	}
	return usageError(fmt.Sprintf("unknown azure subcommand %q (env); see `entra-helper azure --help`", args[0]))
}

func (a *app) cmdAzureEnv(args []string) error {
	fs := newFlagSet("azure")
	profile := a.profileFlag(fs)
	terraform := fs.Bool("", "terraform")
	shell := shellFlag(fs)
	if err := parseEnvFlags(fs, args, shell); err != nil {
		return err
	}
	p, err := a.profileInfo(*profile)
	if err != nil {
		return err
	}
	if p.IdentityEndpoint == "" || p.IdentityHeader == "" || p.IMDSEndpoint == "" {
		return failf("the daemon's managed-identity endpoint is off, so %s cannot be served to Azure SDKs; set identity_listen in the [daemon] table of the config and restart entra-helperd", profileName(orDefault(p.Name, *profile)))
	}
	if !*terraform {
		if shadow := a.shadowingAzureVars(p.ClientID); len(shadow) > 0 {
			verb := "is"
			if len(shadow) > 1 {
				verb = "are"
			}
			fmt.Fprintf(a.stderr, "entra-helper: warning: %s %s set in this shell, so DefaultAzureCredential would not take its tokens from entra-helperd; run: unset %s\n",
				strings.Join(shadow, ", "), verb, strings.Join(shadow, " "))
		}
		return a.printEnv(*shell, [][2]string{
			{"IDENTITY_ENDPOINT", p.IdentityEndpoint},
			{"IDENTITY_HEADER", p.IdentityHeader},
		})
	}
	kvs := [][2]string{{"ARM_USE_MSI", "true"}, {"ARM_MSI_ENDPOINT", p.IMDSEndpoint}}
	if p.Tenant != "" {
		kvs = append(kvs, [2]string{"ARM_TENANT_ID", p.Tenant})
	}
	if p.ClientID != "" {
		kvs = append(kvs, [2]string{"ARM_CLIENT_ID", p.ClientID})
	}
	return a.printEnv(*shell, kvs)
}

// shadowingAzureVars names the variables of the environment that keep
// DefaultAzureCredential from the managed-identity endpoint: the secrets of
// EnvironmentCredential and WorkloadIdentityCredential (tried first),
// AZURE_TOKEN_CREDENTIALS leaving the managed identity out,
// IDENTITY_SERVER_THUMBPRINT (the Service Fabric protocol) and an
// AZURE_CLIENT_ID naming an identity other than the profile's (a 400).
func (a *app) shadowingAzureVars(clientID string) []string {
	var names []string
	for _, k := range []string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_PASSWORD",
		"AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_SERVER_THUMBPRINT"} {
		if a.getenv(k) != "" {
			names = append(names, k)
		}
	}
	switch v := a.getenv("AZURE_TOKEN_CREDENTIALS"); {
	case v == "", strings.EqualFold(v, "prod"), strings.EqualFold(v, "ManagedIdentityCredential"):
	default:
		names = append(names, "AZURE_TOKEN_CREDENTIALS")
	}
	if v := a.getenv("AZURE_CLIENT_ID"); v != "" && !strings.EqualFold(v, clientID) {
		names = append(names, "AZURE_CLIENT_ID")
	}
	return names
}
