package config

import (
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// positions records, for every key path of a TOML document, the line where it
// is first defined (a table header, a dotted key or a key-value) and, for
// key-values, the TOML kind of the value.
type positions struct {
	lines map[string]int
	kinds map[string]unstable.Kind
}

// keyPath renders key parts the way TOML writes them: bare parts joined with
// dots, other parts quoted.
func keyPath(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(p) {
			b.WriteString(p)
		} else {
			b.WriteString(quoteKey(p))
		}
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func quoteKey(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&0xf])
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// scanPositions walks doc with go-toml's parser. It stops quietly at the
// first syntax error: the decoder reports those.
func scanPositions(doc []byte) positions {
	pos := positions{lines: map[string]int{}, kinds: map[string]unstable.Kind{}}
	var lineStarts []int
	lineStarts = append(lineStarts, 0)
	for i, c := range doc {
		if c == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	lineOf := func(r unstable.Range) int {
		off := int(r.Offset)
		// The first line start greater than off, minus one, is off's line index.
		return sort.SearchInts(lineStarts, off+1)
	}
	note := func(path []string, line int) {
		k := keyPath(path...)
		if _, ok := pos.lines[k]; !ok {
			pos.lines[k] = line
		}
	}
	var keyValue func(prefix []string, n *unstable.Node)
	keyValue = func(prefix []string, n *unstable.Node) {
		path := append([]string(nil), prefix...)
		line := 0
		it := n.Key()
		for it.Next() {
			k := it.Node()
			line = lineOf(k.Raw)
			path = append(path, string(k.Data))
			note(path, line)
		}
		v := n.Value()
		pos.kinds[keyPath(path...)] = v.Kind
		if v.Kind == unstable.InlineTable {
			children := v.Children()
			for children.Next() {
				if c := children.Node(); c.Kind == unstable.KeyValue {
					keyValue(path, c)
				}
			}
		}
	}
	var p unstable.Parser
	p.Reset(doc)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = table[:0]
			it := e.Key()
			for it.Next() {
				k := it.Node()
				table = append(table, string(k.Data))
				note(table, lineOf(k.Raw))
			}
		case unstable.KeyValue:
			keyValue(table, e)
		}
	}
	return pos
}

// line returns the line of the first of paths that the document defines, or 0.
func (p positions) line(paths ...string) int {
	for _, k := range paths {
		if l, ok := p.lines[k]; ok {
			return l
		}
	}
	return 0
}

// fullKey returns the longest defined key path on line that is key or ends
// with "."+key: go-toml reports keys inside inline tables relative to them.
func (p positions) fullKey(key string, line int) string {
	if _, ok := p.lines[key]; ok {
		return key
	}
	best := key
	for k, l := range p.lines {
		if l == line && strings.HasSuffix(k, "."+key) && len(k) > len(best) {
			best = k
		}
	}
	return best
}
