package main

import (
	"net/url"
	"testing"
)

func TestParseForm(t *testing.T) {
	base, _ := url.Parse("https://127.0.0.1:4443/tenant/oauth2/v2.0/authorize?x=1")
	for _, tc := range []struct {
		name, page  string
		ok          bool
		method, act string
		fields      url.Values
	}{{
		name: "entra form_post",
		page: `<html><head><title>Working...</title></head>
<body><form method="POST" name="hiddenform" action="http://localhost:5123/">
<input type="hidden" name="code" value="1.A&#43;b/c=" />
<input type="hidden" name="state" value="s&amp;t" />
<noscript><input type="submit" value="Submit" /></noscript>
</form><script language="javascript">document.forms[0].submit();</script></body></html>`,
		ok: true, method: "POST", act: "http://localhost:5123/",
		fields: url.Values{"code": {"1.A+b/c="}, "state": {"s&t"}},
	}, {
		name: "relative action, GET, single quotes",
		page: `<form action='/next'><input name=a value=b></form><script>document.forms[0].submit()</script>`,
		ok:   true, method: "GET", act: "https://127.0.0.1:4443/next", fields: url.Values{"a": {"b"}},
	}, {
		name: "a form a person fills in",
		page: `<form method="GET"><input name="user_code" placeholder="Code"/></form>`,
	}, {
		name: "no form",
		page: `<html><body>Authentication complete. You can close this window.</body></html>`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := parseForm(tc.page, base)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if f.method != tc.method || f.action.String() != tc.act {
				t.Errorf("%s %s, want %s %s", f.method, f.action, tc.method, tc.act)
			}
			for k, v := range tc.fields {
				if got := f.fields.Get(k); got != v[0] {
					t.Errorf("field %s = %q, want %q", k, got, v[0])
				}
			}
			if len(f.fields) != len(tc.fields) {
				t.Errorf("fields %v, want %v", f.fields, tc.fields)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	if got := title("<html><head><title> Working&#46;.. </title>"); got != "Working..." {
		t.Fatalf("title = %q", got)
	}
}
