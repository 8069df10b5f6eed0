package store

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// FuzzParseHead feeds arbitrary keyring KEY items (inline values and chunk
// manifests) to the decoder: it must never panic, and a manifest it accepts
// must encode back to an equivalent one.
func FuzzParseHead(f *testing.F) {
	f.Add("1i:")
	f.Add("1i:c2VjcmV0")
	f.Add("1m:1:3:300:" + string(bytes.Repeat([]byte("ab"), 32)))
	f.Add("1m:18446744073709551615:1:1:00")
	f.Add("1m:1:0:0:")
	f.Add("1m::::")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHead(s)
		if err != nil {
			return
		}
		if h.manifest == nil {
			if len(h.inline) > MaxValueSize {
				t.Fatalf("accepted an inline value of %d bytes", len(h.inline))
			}
			return
		}
		m := *h.manifest
		if m.gen == 0 || m.count < 1 || m.size < m.count || m.size > MaxValueSize {
			t.Fatalf("accepted a bad manifest %+v", m)
		}
		again, err := parseHead(m.String())
		if err != nil || *again.manifest != m {
			t.Fatalf("manifest %q re-encodes to %q: %v", s, m.String(), err)
		}
	})
}

// FuzzDecodeFile feeds arbitrary file contents to the file store's decoder:
// it must never panic, and never accept anything but what the key sealed.
func FuzzDecodeFile(f *testing.F) {
	key := sha256.Sum256([]byte("fuzz key"))
	fs, err := newFileWithKey(f.TempDir(), key[:])
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range []string{"", "secret", "a longer value with\nnew lines"} {
		data, err := fs.encodeFile("k", []byte(v))
		if err != nil {
			f.Fatal(err)
		}
		f.Add("k", data)
		f.Add("other", data)
	}
	f.Add("k", []byte{fileVersion})
	f.Add("k", []byte{})
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		v, err := fs.decodeFile(name, data)
		if err != nil {
			return
		}
		if len(v) != len(data)-fileOverhead {
			t.Fatalf("decoded %d bytes from %d", len(v), len(data))
		}
		// What decodes must be what the key sealed: sealing it again under
		// the same name round-trips.
		again, err := fs.encodeFile(name, v)
		if err != nil {
			t.Fatal(err)
		}
		if w, err := fs.decodeFile(name, again); err != nil || !bytes.Equal(w, v) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
