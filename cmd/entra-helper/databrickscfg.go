package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A .databrickscfg is read by two INI readers that differ: the Go SDK's
// gopkg.in/ini.v1 (LoadOptions{SpaceBeforeInlineComment: true}) and Python's
// configparser (strict, as the Python SDK and the legacy CLI use it). Both
// take a header's name as everything between '[' and the last ']' on the
// line, spaces included, and compare names case-sensitively; both treat
// whole-line '#' and ';' comments alike and split an entry at its first '='
// or ':'. They disagree on the rest: configparser lower-cases keys (ini.v1
// keeps their case), refuses a file with a repeated section or a repeated key
// in one section (ini.v1 merges them, the last value winning), joins an
// indented line to the value above it (ini.v1 fails on it or reads it as an
// entry of its own), refuses entries before the first header (ini.v1 puts
// them in DEFAULT) and cannot read past a UTF-8 byte-order mark (ini.v1
// skips it).
//
// editDatabricksCfg writes only what both read the same way: in the section
// it edits it fixes what it can (keys written in lower case, repeated copies
// of the keys it writes dropped, the BOM removed); anything else that would
// make the readers disagree about the result (a repeated section anywhere, a
// header that differs from the profile's name only by spaces, continuation
// lines, quoted keys (ini.v1 unquotes them), values opened with """ that
// ini.v1 continues onto the lines below, repeated keys, lines neither can
// read) makes it refuse, naming the
// lines, and leave the file alone.

// cfgKind is what a line of a .databrickscfg is to both readers.
type cfgKind int

const (
	cfgBlank        cfgKind = iota
	cfgComment              // whole-line '#' or ';'
	cfgHeader               // [name]
	cfgEntry                // key = value or key: value
	cfgContinuation         // indented, continuing the value above (configparser)
	cfgQuotedKey            // "key" = value: ini.v1 drops the quotes, configparser keeps them
	cfgOpenTriple           // key = """...: ini.v1 reads the lines below into the value
	cfgInvalid              // neither reader can read it
)

// cfgLine is one line with its line end.
type cfgLine struct {
	text   string
	num    int // 1-based line number in the file as read; 0 for a line written here
	kind   cfgKind
	name   string // cfgHeader: the section name as both readers take it
	key    string // cfgEntry: the key, lower case (configparser's optionxform)
	indent int
}

// utf8BOM is the byte-order mark some editors put first.
const utf8BOM = "\ufeff"

// parseCfg splits content into classified lines, the way configparser walks
// them (with ini.v1's differences flagged by the kinds above).
func parseCfg(content string) []cfgLine {
	var lines []cfgLine
	inSection, haveValue, indentLevel := false, false, 0
	for i, text := range splitLines(content) {
		l := cfgLine{text: text, num: i + 1}
		trimmed := strings.TrimSpace(text)
		l.indent = len(text) - len(strings.TrimLeft(text, " \t"))
		switch {
		case trimmed == "":
			l.kind = cfgBlank
		case trimmed[0] == '#' || trimmed[0] == ';':
			l.kind = cfgComment
		case inSection && haveValue && l.indent > indentLevel:
			l.kind = cfgContinuation
		default:
			indentLevel = l.indent
			l.kind, l.name, l.key = classifyCfgLine(trimmed)
			switch l.kind {
			case cfgHeader:
				inSection, haveValue = true, false
			case cfgEntry:
				haveValue = inSection
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// classifyCfgLine reads a trimmed line that is not blank, a comment or a
// continuation: a header, an entry, or neither.
func classifyCfgLine(t string) (kind cfgKind, name, key string) {
	if t[0] == '[' {
		if end := strings.LastIndexByte(t, ']'); end > 1 {
			return cfgHeader, t[1:end], ""
		}
		return cfgInvalid, "", ""
	}
	if t[0] == '"' || t[0] == '`' {
		return cfgQuotedKey, "", ""
	}
	i := strings.IndexAny(t, "=:")
	if k := strings.TrimSpace(t[:max(i, 0)]); i > 0 && k != "" {
		if v, ok := strings.CutPrefix(strings.TrimSpace(t[i+1:]), `"""`); ok && !strings.Contains(v, `"""`) {
			return cfgOpenTriple, "", strings.ToLower(k)
		}
		return cfgEntry, "", strings.ToLower(k)
	}
	return cfgInvalid, "", ""
}

// cfgProblem is a place where the readers would disagree, or fail.
type cfgProblem struct {
	lines []int
	what  string
}

// cfgError lists every problem that keeps the file from being edited.
type cfgError []cfgProblem

func (e cfgError) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		nums := make([]string, len(p.lines))
		for j, n := range p.lines {
			nums[j] = strconv.Itoa(n)
		}
		word := "line"
		if len(nums) > 1 {
			word = "lines"
		}
		parts[i] = word + " " + strings.Join(nums, " and ") + ": " + p.what
	}
	return strings.Join(parts, "; ") + "; fix those lines and run the command again"
}

// editDatabricksCfg returns content with section name holding values (in
// order): existing keys replaced in place, the section's other
// authentication keys removed, missing keys added after its last entry, or
// the section appended. Every other line is kept byte for byte. It returns a
// cfgError, and nothing, when the readers would not both read the result as
// one profile name holding values.
func editDatabricksCfg(content []byte, name string, values [][2]string) ([]byte, error) {
	text := strings.TrimPrefix(string(content), utf8BOM)
	lines := parseCfg(text)
	if probs := nearMissHeaders(lines, name); len(probs) > 0 {
		return nil, cfgError(probs)
	}
	eol := dominantLineEnd(lines)
	out, found := rewriteSection(lines, name, values, eol)
	if !found {
		out = appendSection(out, name, values, eol)
	}
	var b strings.Builder
	for _, l := range out {
		b.WriteString(l.text)
	}
	// The result is classified afresh: an edit can change what a line is
	// (an indented line after a written entry becomes its continuation).
	// Each element of out is one line, so the numbers carry over.
	result := parseCfg(b.String())
	for i := range result {
		result[i].num = out[i].num
	}
	if probs := disagreements(result); len(probs) > 0 {
		return nil, cfgError(probs)
	}
	return []byte(b.String()), nil
}

// nearMissHeaders finds headers that name the section only after trimming
// spaces: both readers take them as another section ([ prod ] is " prod "),
// so the user's intent is unclear.
func nearMissHeaders(lines []cfgLine, name string) []cfgProblem {
	var probs []cfgProblem
	for _, l := range lines {
		if l.kind == cfgHeader && l.name != name && strings.TrimSpace(l.name) == name {
			probs = append(probs, cfgProblem{[]int{l.num}, fmt.Sprintf(
				"the header [%s] names section %q, not %q, for the Databricks tools (they keep the spaces); write it [%s]", l.name, l.name, name, name)})
		}
	}
	return probs
}

// dominantLineEnd is the first line end of the file, "\n" for a new one.
func dominantLineEnd(lines []cfgLine) string {
	for _, l := range lines {
		if e := lineEnd(l.text); e != "" {
			return e
		}
	}
	return "\n"
}

// rewriteSection edits the first section called name in place; found is
// false when there is none (a repeated one is left for disagreements).
func rewriteSection(lines []cfgLine, name string, values [][2]string, eol string) (out []cfgLine, found bool) {
	start := slices.IndexFunc(lines, func(l cfgLine) bool { return l.kind == cfgHeader && l.name == name })
	if start < 0 {
		return lines, false
	}
	end := start + 1
	for end < len(lines) && lines[end].kind != cfgHeader {
		end++
	}
	want := map[string]string{}
	for _, kv := range values {
		want[kv[0]] = kv[1]
	}
	out = append(out, lines[:start+1]...)
	written := map[string]bool{}
	lastEntry := len(out) - 1
	indent := ""      // the indentation of the section's last entry, for the entries added
	dropping := false // the entry above was dropped: so are its continuation lines
	for _, l := range lines[start+1 : end] {
		switch {
		case l.kind == cfgContinuation && dropping:
			continue
		case l.kind != cfgEntry:
			if l.kind != cfgContinuation && l.kind != cfgBlank && l.kind != cfgComment {
				dropping = false
			}
			out = append(out, l)
			if l.kind == cfgContinuation {
				lastEntry = len(out) - 1
			}
			continue
		}
		v, isWanted := want[l.key]
		dropping = isWanted || isDatabricksAuthKey(l.key)
		switch {
		case isWanted && !written[l.key]:
			written[l.key] = true
			indent = l.text[:l.indent]
			out = append(out, cfgLine{text: indent + l.key + " = " + v + lineEnd(l.text), num: l.num, kind: cfgEntry, key: l.key, indent: l.indent})
			lastEntry = len(out) - 1
		case !dropping:
			indent = l.text[:l.indent]
			out = append(out, l)
			lastEntry = len(out) - 1
		}
	}
	var missing []cfgLine
	for _, kv := range values {
		if !written[kv[0]] {
			missing = append(missing, cfgLine{text: indent + kv[0] + " = " + kv[1] + eol, kind: cfgEntry, key: kv[0], indent: len(indent)})
		}
	}
	at := lastEntry + 1
	if len(missing) > 0 && !strings.HasSuffix(out[at-1].text, "\n") {
		out[at-1].text += eol
	}
	out = slices.Insert(out, at, missing...)
	return append(out, lines[end:]...), true
}

// appendSection adds the section at the end, after a blank line.
func appendSection(lines []cfgLine, name string, values [][2]string, eol string) []cfgLine {
	out := slices.Clone(lines)
	if n := len(out); n > 0 {
		if !strings.HasSuffix(out[n-1].text, "\n") {
			out[n-1].text += eol
		}
		if out[n-1].kind != cfgBlank {
			out = append(out, cfgLine{text: eol, kind: cfgBlank})
		}
	}
	out = append(out, cfgLine{text: "[" + name + "]" + eol, kind: cfgHeader, name: name})
	for _, kv := range values {
		out = append(out, cfgLine{text: kv[0] + " = " + kv[1] + eol, kind: cfgEntry, key: kv[0]})
	}
	return out
}

// disagreements lists what in lines the two readers would read differently
// or not at all, by the lines' numbers in the original file.
func disagreements(lines []cfgLine) []cfgProblem {
	var probs []cfgProblem
	headers := map[string]int{} // section name -> line of its first header
	keys := map[[2]string]int{} // (section, key) -> line of its first entry
	section, sawHeader := "", false
	for _, l := range lines {
		switch l.kind {
		case cfgHeader:
			if first, ok := headers[l.name]; ok {
				probs = append(probs, cfgProblem{[]int{first, l.num}, fmt.Sprintf(
					"[%s] appears twice (the Databricks Go SDK merges the copies, Python's configparser refuses the file); keep one", l.name)})
			} else {
				headers[l.name] = l.num
			}
			section, sawHeader = l.name, true
		case cfgEntry:
			if !sawHeader {
				probs = append(probs, cfgProblem{[]int{l.num}, "an entry before the first [section] (Python's configparser refuses the file); put it under [DEFAULT]"})
				continue
			}
			k := [2]string{section, l.key}
			if first, ok := keys[k]; ok {
				probs = append(probs, cfgProblem{[]int{first, l.num}, fmt.Sprintf(
					"%s is set twice in [%s] (the Go SDK takes the last, Python's configparser refuses the file); keep one", l.key, section)})
			} else {
				keys[k] = l.num
			}
		case cfgContinuation:
			probs = append(probs, cfgProblem{[]int{l.num}, "an indented line that continues the value above it (the Databricks Go SDK cannot read it); join it onto the line above or remove its indentation"})
		case cfgOpenTriple:
			probs = append(probs, cfgProblem{[]int{l.num}, `a value opened with """ and not closed on its line (the Databricks Go SDK reads the lines below into it, Python's configparser does not); write the value on one line`})
		case cfgQuotedKey:
			probs = append(probs, cfgProblem{[]int{l.num}, "a quoted key (the Databricks Go SDK drops the quotes, Python's configparser keeps them); write the key without quotes"})
		case cfgInvalid:
			probs = append(probs, cfgProblem{[]int{l.num}, "neither a [section], a key = value nor a comment"})
		}
	}
	return probs
}

// splitLines splits s after each "\n", keeping the line ends.
func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return append(lines, s)
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// lineEnd is l's line end, "" for an unterminated last line.
func lineEnd(l string) string {
	switch {
	case strings.HasSuffix(l, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(l, "\n"):
		return "\n"
	}
	return ""
}
