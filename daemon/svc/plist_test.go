package svc

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// plistValue is one decoded value of an XML property list.
type plistValue struct {
	kind  string // array, dict, string, data, date, real, integer, true, false
	text  string
	items []plistValue
	dict  map[string]plistValue
}

// parsePlist checks data the way `plutil -lint` does for the XML format
// (Apple's PropertyList-1.0 DTD: the prolog, one root value, dict keys
// each followed by one value and unique, well-formed scalars, no stray
// text) and returns the root value.
func parsePlist(data []byte) (plistValue, error) {
	if !strings.HasPrefix(string(data), `<?xml version="1.0" encoding="UTF-8"?>`) {
		return plistValue{}, errors.New(`no <?xml version="1.0" encoding="UTF-8"?> prolog`)
	}
	if !strings.Contains(string(data), `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`) {
		return plistValue{}, errors.New("no plist DOCTYPE")
	}
	d := xml.NewDecoder(strings.NewReader(string(data)))
	d.Strict = true
	root, err := nextStart(d)
	if err != nil {
		return plistValue{}, err
	}
	if root.Name.Local != "plist" {
		return plistValue{}, fmt.Errorf("root element <%s>, want <plist>", root.Name.Local)
	}
	if len(root.Attr) != 1 || root.Attr[0].Name.Local != "version" || root.Attr[0].Value != "1.0" {
		return plistValue{}, fmt.Errorf(`<plist> attributes %v, want version="1.0"`, root.Attr)
	}
	start, err := nextStart(d)
	if err != nil {
		return plistValue{}, err
	}
	v, err := parseValue(d, start)
	if err != nil {
		return plistValue{}, err
	}
	if tok, err := nextToken(d); err != nil {
		return plistValue{}, err
	} else if end, ok := tok.(xml.EndElement); !ok || end.Name.Local != "plist" {
		return plistValue{}, fmt.Errorf("more than one value in <plist>: %v", tok)
	}
	if tok, err := nextToken(d); !errors.Is(err, io.EOF) {
		return plistValue{}, fmt.Errorf("content after </plist>: %v %v", tok, err)
	}
	return v, nil
}

// nextToken returns the next element, skipping white space, comments,
// processing instructions and the DOCTYPE; other text is an error.
func nextToken(d *xml.Decoder) (xml.Token, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, fmt.Errorf("stray text %q", t)
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
		default:
			return xml.CopyToken(tok), nil
		}
	}
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	tok, err := nextToken(d)
	if err != nil {
		return xml.StartElement{}, err
	}
	s, ok := tok.(xml.StartElement)
	if !ok {
		return xml.StartElement{}, fmt.Errorf("want an element, got %v", tok)
	}
	return s, nil
}

var (
	plistInteger = regexp.MustCompile(`^[+-]?[0-9]+$`)
	plistDate    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
)

// parseValue reads the value that start opens, up to its end element.
func parseValue(d *xml.Decoder, start xml.StartElement) (plistValue, error) {
	v := plistValue{kind: start.Name.Local}
	if len(start.Attr) != 0 {
		return v, fmt.Errorf("<%s> has attributes", v.kind)
	}
	switch v.kind {
	case "array", "dict":
		if v.kind == "dict" {
			v.dict = map[string]plistValue{}
		}
		for {
			tok, err := nextToken(d)
			if err != nil {
				return v, err
			}
			if _, ok := tok.(xml.EndElement); ok {
				return v, nil
			}
			s := tok.(xml.StartElement)
			if v.kind == "array" {
				item, err := parseValue(d, s)
				if err != nil {
					return v, err
				}
				v.items = append(v.items, item)
				continue
			}
			if s.Name.Local != "key" {
				return v, fmt.Errorf("<%s> in a dict where a <key> belongs", s.Name.Local)
			}
			var key string
			if err := d.DecodeElement(&key, &s); err != nil {
				return v, err
			}
			if _, dup := v.dict[key]; dup {
				return v, fmt.Errorf("key %q twice in one dict", key)
			}
			vs, err := nextStart(d)
			if err != nil {
				return v, fmt.Errorf("key %q: %w", key, err)
			}
			item, err := parseValue(d, vs)
			if err != nil {
				return v, fmt.Errorf("key %q: %w", key, err)
			}
			v.dict[key] = item
		}
	case "true", "false", "string", "data", "date", "real", "integer":
		var text string
		if err := d.DecodeElement(&text, &start); err != nil {
			return v, err
		}
		v.text = text
		var bad bool
		switch v.kind {
		case "true", "false":
			bad = text != ""
		case "integer":
			bad = !plistInteger.MatchString(strings.TrimSpace(text))
		case "real":
			_, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
			bad = err != nil
		case "date":
			_, err := time.Parse(time.RFC3339, text)
			bad = !plistDate.MatchString(text) || err != nil
		case "data":
			_, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
			bad = err != nil
		}
		if bad {
			return v, fmt.Errorf("<%s>%s</%s> is not a valid %s", v.kind, text, v.kind, v.kind)
		}
		return v, nil
	}
	return v, fmt.Errorf("<%s> is not a plist element", v.kind)
}

// launchdKeyKinds are the value kinds launchd.plist(5) gives the keys we
// write.
var launchdKeyKinds = map[string]string{
	"Label": "string", "ProgramArguments": "array", "EnvironmentVariables": "dict",
	"RunAtLoad": "bool", "KeepAlive": "dict", "ThrottleInterval": "integer",
	"ProcessType": "string", "Umask": "integer", "SoftResourceLimits": "dict",
	"StandardOutPath": "string", "StandardErrorPath": "string", "UserName": "string",
}

// checkLaunchdPlist validates data as a plist and as a launchd job.
func checkLaunchdPlist(data []byte) error {
	root, err := parsePlist(data)
	if err != nil {
		return err
	}
	if root.kind != "dict" {
		return fmt.Errorf("the root is a %s, want a dict", root.kind)
	}
	for k, v := range root.dict {
		want, ok := launchdKeyKinds[k]
		if !ok {
			return fmt.Errorf("key %s is not one launchd knows (or this test does)", k)
		}
		if got := v.kind; got != want && !(want == "bool" && (got == "true" || got == "false")) {
			return fmt.Errorf("%s is a %s, want a %s", k, got, want)
		}
	}
	if root.dict["Label"].text != LaunchdLabel {
		return fmt.Errorf("Label %q, want %q", root.dict["Label"].text, LaunchdLabel)
	}
	args := root.dict["ProgramArguments"].items
	if len(args) == 0 {
		return errors.New("no ProgramArguments")
	}
	for _, a := range args {
		if a.kind != "string" {
			return fmt.Errorf("a ProgramArguments item is a %s", a.kind)
		}
	}
	for k, v := range root.dict["EnvironmentVariables"].dict {
		if v.kind != "string" {
			return fmt.Errorf("EnvironmentVariables %s is a %s", k, v.kind)
		}
	}
	return nil
}

// TestLaunchdPlistsAreValid lints every plist we write or ship, as
// plutil -lint would on a Mac, plus launchd's types for the keys.
func TestLaunchdPlistsAreValid(t *testing.T) {
	shipped, err := os.ReadFile("../../packaging/launchd/" + LaunchdLabel + ".plist")
	if err != nil {
		t.Fatal(err)
	}
	plists := map[string][]byte{"packaging/launchd": shipped}
	for _, tc := range []struct {
		name       string
		mode       Mode
		exec, home string
	}{
		{"agent", User, "/usr/local/bin/entra-helperd", "/Users/ada"},
		{"daemon", System, "/usr/local/bin/entra-helperd", ""},
		{"escaped", User, "/Applications/A & B <x>/entra-helperd", "/Users/o'neil"},
	} {
		p, err := RenderLaunchdPlist(tc.mode, tc.exec, tc.home)
		if err != nil {
			t.Fatal(err)
		}
		plists[tc.name] = []byte(p)
	}
	for name, data := range plists {
		if err := checkLaunchdPlist(data); err != nil {
			t.Errorf("%s: %v\n%s", name, err, data)
		}
	}
}

// TestPlistLintRefuses: the linter above catches what plutil does.
func TestPlistLintRefuses(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
`
	for name, doc := range map[string]string{
		"unclosed":          `<plist version="1.0"><dict><key>Label</key><string>x</dict></plist>`,
		"value without key": `<plist version="1.0"><dict><string>x</string></dict></plist>`,
		"key without value": `<plist version="1.0"><dict><key>Label</key></dict></plist>`,
		"duplicate key":     `<plist version="1.0"><dict><key>A</key><true/><key>A</key><false/></dict></plist>`,
		"bad integer":       `<plist version="1.0"><dict><key>Umask</key><integer>077a</integer></dict></plist>`,
		"text in true":      `<plist version="1.0"><dict><key>RunAtLoad</key><true>yes</true></dict></plist>`,
		"unknown element":   `<plist version="1.0"><dict><key>A</key><bool>1</bool></dict></plist>`,
		"stray text":        `<plist version="1.0"><dict>oops<key>A</key><true/></dict></plist>`,
		"two roots":         `<plist version="1.0"><dict></dict><dict></dict></plist>`,
		"unescaped &":       `<plist version="1.0"><dict><key>A</key><string>A & B</string></dict></plist>`,
		"bad date":          `<plist version="1.0"><dict><key>A</key><date>yesterday</date></dict></plist>`,
		"no version":        `<plist><dict></dict></plist>`,
	} {
		if _, err := parsePlist([]byte(head + doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parsePlist([]byte(`<plist version="1.0"><dict></dict></plist>`)); err == nil {
		t.Error("accepted a plist without the prolog and DOCTYPE")
	}
	if err := checkLaunchdPlist([]byte(head + `<plist version="1.0"><dict><key>Label</key><string>` + LaunchdLabel + `</string><key>RunAtLoad</key><string>true</string><key>ProgramArguments</key><array><string>x</string></array></dict></plist>`)); err == nil {
		t.Error("accepted RunAtLoad as a string")
	}
}
