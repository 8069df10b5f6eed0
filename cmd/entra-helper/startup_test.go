package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func TestQuoteRegexpMatchesQuoteMeta(t *testing.T) {
	for _, s := range []string{"", "credential", "credential.https://dev.azure.com", `a\b.c+d*e?f(g)h|i[j]k{l}m^n$o`, "ünï"} {
		if got, want := quoteRegexp(s), regexp.QuoteMeta(s); got != want {
			t.Errorf("quoteRegexp(%q) = %q, regexp.QuoteMeta says %q", s, got, want)
		}
	}
}

func TestValidProfileName(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_.-]+$`) // the rule it implements
	for _, s := range []string{"", "prod", "Prod_2.x-y", "a b", "a/b", "ü", "-", "a\n", "ok$"} {
		if got, want := validProfileName(s), re.MatchString(s); got != want {
			t.Errorf("validProfileName(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestClientLinksNoCostlyInit keeps out of the client the packages whose
// initialisation (package-level maps and compiled tables) every command,
// a warm token request included, would pay for at start-up, though no
// token request needs them (docs/performance.md: regexp alone cost about
// 0.1 M instructions, a fifth of the client's start).
func TestClientLinksNoCostlyInit(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	for _, p := range []string{"regexp", "text/template", "html/template", "net/http", "crypto/tls", "crypto/x509", "go/ast"} {
		if deps[p] {
			t.Errorf("the client links %s", p)
		}
	}
}
