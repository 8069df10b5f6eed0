package entra

import "strings"

// TenantForm is how a tenant is written.
type TenantForm int

// Tenant forms.
const (
	// TenantInvalid is neither a GUID, a domain nor an alias.
	TenantInvalid TenantForm = iota
	// TenantGUID is a directory ID, 8-4-4-4-12 hex digits.
	TenantGUID
	// TenantDomain is a verified domain, e.g. contoso.com or
	// contoso.onmicrosoft.com; the authority's OpenID metadata maps it to
	// its GUID.
	TenantDomain
	// TenantAlias is common, organizations or consumers: not one tenant but
	// a class of accounts, never a profile's tenant.
	TenantAlias
)

// ParseTenant tells the form of tenant s and returns it in canonical form
// (lower case).
func ParseTenant(s string) (string, TenantForm) {
	t := strings.ToLower(s)
	switch {
	case IsGUID(t):
		return t, TenantGUID
	case t == "common" || t == "organizations" || t == "consumers":
		return t, TenantAlias
	case isDomain(t):
		return t, TenantDomain
	}
	return s, TenantInvalid
}

// IsGUID reports whether s is 8-4-4-4-12 hex digits.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isDomain reports whether s (lower case) is a DNS name of two or more
// labels of letters, digits and inner hyphens.
func isDomain(s string) bool {
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// TenantOfPath is the tenant in a sign-in URL such as
// https://login.microsoftonline.com/<tenant>/oauth2/authorize?... or an
// issuer https://login.microsoftonline.com/<tenant>/v2.0: the first path
// segment, with its form.
func TenantOfPath(path string) (string, TenantForm) {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ParseTenant(seg)
}
