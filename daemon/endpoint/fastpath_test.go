package endpoint

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestAppendJSONMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "eyJ0eXAi.eyJhdWQi.sig-_", "a<b>&c", `q"uote`, `back\\slash`, "new\nline", "ünï", "\u2028", string([]byte{0xff})} {
		got := append(appendJSONInt(appendJSONString(nil, "access_token", s), "expires_on", -17), '}')
		want, err := json.Marshal(struct {
			A string `json:"access_token"`
			E int64  `json:"expires_on"`
		}{s, -17})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%q: got %s, json.Marshal %s", s, got, want)
		}
	}
}

func TestSameWorkspace(t *testing.T) {
	const host = "https://adb-1.2.azuredatabricks.net"
	for _, tc := range []struct {
		configured, got string
		wok, match      bool
	}{
		{host, host, true, true},
		{host, "https://ADB-1.2.azuredatabricks.net:443/", true, true},
		{host, "adb-1.2.azuredatabricks.net", true, true},
		{host, "https://adb-9.2.azuredatabricks.net", true, false},
		{host, "", true, false},
		{"", "", false, false},
		{"https://user@x", "https://user@x", false, false},
	} {
		for range 2 { // the second time from the cache
			want, wok, match := sameWorkspace(tc.configured, tc.got)
			if wok != tc.wok || match != tc.match {
				t.Errorf("sameWorkspace(%q, %q) = %q, %v, %v; want ok %v, match %v", tc.configured, tc.got, want, wok, match, tc.wok, tc.match)
			}
			n, ok := normalizeHost(tc.configured)
			if ok != wok || ok && n != want {
				t.Errorf("sameWorkspace(%q) normalised to %q, normalizeHost says %q", tc.configured, want, n)
			}
		}
	}
}

func TestSetTokenHeaders(t *testing.T) {
	h := http.Header{}
	setTokenHeaders(h)
	for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"} {
		if h.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, h.Get(k), v)
		}
	}
}
