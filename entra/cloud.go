// Package entra holds the fixed facts about Microsoft Entra ID and Azure's
// national clouds that the client and the daemon share: one table per cloud
// (Clouds) and the forms a tenant is written in (ParseTenant). It uses only
// the standard library, so the client may link it.
//
// The values come from the Azure CLI's cloud definitions (azure-cli-core's
// cloud.py: AzureCloud, AzureUSGovernment, AzureChinaCloud), the Azure SDK
// for Go's azcore/cloud and the Databricks Go SDK's environment table (its
// Azure DNS zones).
package entra

import "strings"

// DatabricksResource is the Azure Databricks application, the same in every
// cloud; its default scope is the default scope of every profile.
const DatabricksResource = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"

// Cloud is one Azure cloud's identifiers: every value the product uses that
// differs between clouds.
type Cloud struct {
	// Name is the config's cloud key: public, usgov or china.
	Name string
	// AuthorityHost is Entra ID's sign-in host, e.g. https://login.microsoftonline.com
	// (a profile's authority_host overrides this one value only).
	AuthorityHost string
	// ManagementResource is the service management audience: what
	// `az account get-access-token` asks for without --resource, and what
	// X-Databricks-Azure-SP-Management-Token carries.
	ManagementResource string
	// ResourceManager is the Azure Resource Manager endpoint.
	ResourceManager string
	// DatabricksDomains are the DNS suffixes of Azure Databricks workspaces
	// in this cloud, each starting with a dot.
	DatabricksDomains []string
	// CLIName is the Azure CLI's name of the cloud (`az cloud show`), which
	// `az account show` prints as environmentName.
	CLIName string
	// EntraHosts are every host of Entra ID in this cloud: the authority
	// host, its aliases and the v1 token issuer's (sts) host. MSAL's instance
	// discovery works on them, and tokens are issued by them.
	EntraHosts []string

	// The Azure CLI's --resource-type resources that differ per cloud; ""
	// when the cloud has no such service.
	aadGraph, msGraph, batch, dataLake, media, ossRDBMS, synapse string
}

// Clouds are the clouds a profile may name, public first.
var Clouds = []*Cloud{
	{
		Name:               "public",
		AuthorityHost:      "https://login.microsoftonline.com",
		ManagementResource: "https://management.core.windows.net/",
		ResourceManager:    "https://management.azure.com/",
		DatabricksDomains:  []string{".azuredatabricks.net"},
		CLIName:            "AzureCloud",
		EntraHosts:         []string{"login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net"},
		aadGraph:           "https://graph.windows.net/",
		msGraph:            "https://graph.microsoft.com/",
		batch:              "https://batch.core.windows.net/",
		dataLake:           "https://datalake.azure.net/",
		media:              "https://rest.media.azure.net",
		ossRDBMS:           "https://ossrdbms-aad.database.windows.net",
		synapse:            "https://dev.azuresynapse.net",
	},
	{
		Name:               "usgov",
		AuthorityHost:      "https://login.microsoftonline.us",
		ManagementResource: "https://management.core.usgovcloudapi.net/",
		ResourceManager:    "https://management.usgovcloudapi.net/",
		DatabricksDomains:  []string{".databricks.azure.us"},
		CLIName:            "AzureUSGovernment",
		EntraHosts:         []string{"login.microsoftonline.us", "login.usgovcloudapi.net", "sts.microsoftonline.us"},
		aadGraph:           "https://graph.windows.net/",
		msGraph:            "https://graph.microsoft.us/",
		batch:              "https://batch.core.usgovcloudapi.net/",
		media:              "https://rest.media.usgovcloudapi.net",
		ossRDBMS:           "https://ossrdbms-aad.database.usgovcloudapi.net",
	},
	{
		Name:               "china",
		AuthorityHost:      "https://login.chinacloudapi.cn",
		ManagementResource: "https://management.core.chinacloudapi.cn/",
		ResourceManager:    "https://management.chinacloudapi.cn/",
		DatabricksDomains:  []string{".databricks.azure.cn"},
		CLIName:            "AzureChinaCloud",
		EntraHosts:         []string{"login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "sts.chinacloudapi.cn"},
		aadGraph:           "https://graph.chinacloudapi.cn/",
		msGraph:            "https://microsoftgraph.chinacloudapi.cn",
		batch:              "https://batch.chinacloudapi.cn/",
		media:              "https://rest.media.chinacloudapi.cn",
		ossRDBMS:           "https://ossrdbms-aad.database.chinacloudapi.cn",
	},
}

// DefaultCloud is the cloud of a profile that names none.
const DefaultCloud = "public"

// CloudNames are the Name of every cloud, in table order.
func CloudNames() []string {
	names := make([]string, len(Clouds))
	for i, c := range Clouds {
		names[i] = c.Name
	}
	return names
}

// CloudByName returns the cloud called name ("" is DefaultCloud), nil
// when there is none.
func CloudByName(name string) *Cloud {
	if name == "" {
		name = DefaultCloud
	}
	for _, c := range Clouds {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Scope is the .default scope of resource, as MSAL and the Azure CLI form it
// (https://management.core.windows.net/ gives
// https://management.core.windows.net//.default).
func Scope(resource string) string { return resource + "/.default" }

// ManagementScope is the .default scope of the cloud's management resource.
func (c *Cloud) ManagementScope() string { return Scope(c.ManagementResource) }

// ResourceTypes are the Azure CLI's --resource-type values, in its order.
var ResourceTypes = []string{"oss-rdbms", "arm", "aad-graph", "ms-graph", "batch", "media", "data-lake", "synapse", "storage", "databricks"}

// ResourceOfType is the resource of the Azure CLI's --resource-type t in
// this cloud, "" when t is unknown or the cloud has no such service.
func (c *Cloud) ResourceOfType(t string) string {
	switch t {
	case "arm":
		return c.ManagementResource
	case "aad-graph":
		return c.aadGraph
	case "ms-graph":
		return c.msGraph
	case "batch":
		return c.batch
	case "data-lake":
		return c.dataLake
	case "media":
		return c.media
	case "oss-rdbms":
		return c.ossRDBMS
	case "synapse":
		return c.synapse
	case "storage":
		return "https://storage.azure.com" // one audience in every cloud
	case "databricks":
		return DatabricksResource
	}
	return ""
}

// IsDatabricksHost reports whether host (a host name, no scheme or port) is
// an Azure Databricks workspace of this cloud.
func (c *Cloud) IsDatabricksHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range c.DatabricksDomains {
		if strings.HasSuffix(host, d) && len(host) > len(d) {
			return true
		}
	}
	return false
}

// IsEntraHost reports whether host (a host name, any case) is one of Entra
// ID's hosts in any cloud.
func IsEntraHost(host string) bool {
	host = strings.ToLower(host)
	for _, c := range Clouds {
		for _, h := range c.EntraHosts {
			if h == host {
				return true
			}
		}
	}
	return false
}

// CloudOfDatabricksHost is the cloud whose Databricks domains hold host,
// nil when none does (a private or test workspace).
func CloudOfDatabricksHost(host string) *Cloud {
	for _, c := range Clouds {
		if c.IsDatabricksHost(host) {
			return c
		}
	}
	return nil
}
