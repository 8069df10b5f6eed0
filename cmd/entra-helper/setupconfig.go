package main

import (
	"fmt"
	"strings"
)

// tomlKey is one key = value line setup writes, with a comment for the
// reader of the file.
type tomlKey struct {
	key, value, comment string
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func (k tomlKey) line() string {
	l := k.key + " = " + tomlString(k.value)
	if k.comment != "" {
		l += "   # " + k.comment
	}
	return l
}

// tableName normalises a table header line ("[ profiles . "x" ]") to its
// dotted name ("profiles.x"); ok is false when line is no table header.
func tableName(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if i := strings.Index(t, "#"); i >= 0 && !strings.Contains(t[:i], `"`) {
		t = strings.TrimSpace(t[:i])
	}
	if !strings.HasPrefix(t, "[") || strings.HasPrefix(t, "[[") || !strings.HasSuffix(t, "]") {
		return "", false
	}
	parts := strings.Split(t[1:len(t)-1], ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, "."), true
}

// keyOf returns the bare key a "key = value" line sets, "" for other lines.
func keyOf(line string) string {
	t := strings.TrimSpace(line)
	if t == "" || t[0] == '#' || t[0] == '[' {
		return ""
	}
	k, _, ok := strings.Cut(t, "=")
	if !ok {
		return ""
	}
	return strings.Trim(strings.TrimSpace(k), `"'`)
}

// editConfig returns doc with keys set in each named table (e.g. "daemon",
// "profiles.prod"): a key's line is replaced where the table has it, else
// added at the table's end; a missing table is added, [daemon] before the
// first table (top-level keys must stay above every table), others at the
// end. Every other line, comment and table is kept as it was. It refuses
// documents that define those tables with dotted keys or inline tables,
// which it cannot edit safely.
func editConfig(doc string, tables []string, keys map[string][]tomlKey, newTableComment map[string]string) (string, error) {
	lines := strings.Split(strings.TrimRight(doc, "\n"), "\n")
	if doc == "" {
		lines = nil
	}
	current := ""
	for _, l := range lines {
		if name, ok := tableName(l); ok {
			current = name
			if name == "profiles" {
				return "", fmt.Errorf("it has a [profiles] table (inline profiles)")
			}
			continue
		}
		k := keyOf(l)
		if current == "" && (strings.HasPrefix(k, "profiles") || strings.HasPrefix(k, "daemon")) {
			return "", fmt.Errorf("it sets %q with a dotted key or an inline table", k)
		}
	}
	for _, table := range tables {
		lines = setInTable(lines, table, keys[table], newTableComment[table])
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// setInTable sets keys in table within lines.
func setInTable(lines []string, table string, keys []tomlKey, comment string) []string {
	start, end := -1, len(lines) // the table's header, and where the next one starts
	firstTable := -1
	for i, l := range lines {
		name, ok := tableName(l)
		if !ok {
			continue
		}
		if firstTable < 0 {
			firstTable = i
		}
		if start >= 0 {
			end = i
			break
		}
		if name == table {
			start = i
		}
	}
	if start < 0 {
		block := []string{}
		if comment != "" {
			for _, c := range strings.Split(comment, "\n") {
				block = append(block, "# "+c)
			}
		}
		block = append(block, "["+table+"]")
		for _, k := range keys {
			block = append(block, k.line())
		}
		if table == "daemon" && firstTable >= 0 {
			// Before the first table, and before the comments above it.
			at := firstTable
			for at > 0 && strings.HasPrefix(strings.TrimSpace(lines[at-1]), "#") {
				at--
			}
			out := append([]string{}, lines[:at]...)
			out = append(out, block...)
			out = append(out, "")
			return append(out, lines[at:]...)
		}
		if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
			lines = append(lines, "")
		}
		return append(lines, block...)
	}
	body := append([]string{}, lines[start+1:end]...)
	for _, k := range keys {
		found := false
		for i, l := range body {
			if keyOf(l) == k.key {
				body[i] = k.line()
				found = true
				break
			}
		}
		if !found {
			// After the table's last key, before trailing blank lines and
			// the comments that head the next table.
			at := len(body)
			for at > 0 && (strings.TrimSpace(body[at-1]) == "" || strings.HasPrefix(strings.TrimSpace(body[at-1]), "#")) {
				at--
			}
			body = append(body[:at], append([]string{k.line()}, body[at:]...)...)
		}
	}
	out := append([]string{}, lines[:start+1]...)
	out = append(out, body...)
	return append(out, lines[end:]...)
}
