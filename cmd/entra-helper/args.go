package main

import (
	"errors"
	"fmt"
	"strings"
)

// errHelp is returned by flagSet.parse when -h or --help is given.
var errHelp = errors.New("help requested")

type flagKind int

const (
	boolFlag flagKind = iota
	stringFlag
	listFlag
)

// flagDef is one option: a short name ("p"), a long name ("profile") or both.
type flagDef struct {
	short, long string
	kind        flagKind
	b           *bool
	s           *string
	l           *[]string
	set         bool
}

func (d *flagDef) name() string {
	if d.long != "" {
		return "--" + d.long
	}
	return "-" + d.short
}

// flagSet is a small GNU-style option parser: short (-p v, -pv) and long
// (--profile v, --profile=v) options anywhere among the positional
// arguments, "--" ending the options, and "-" taken as a positional
// argument. The standard flag package stops at the first positional
// argument and has no short/long pairs, which this CLI needs.
type flagSet struct {
	cmd  string
	defs []*flagDef
	args []string
	// stopAtArg ends the options at the first positional argument (the
	// global options before a command); otherwise options may come anywhere.
	stopAtArg bool
}

func newFlagSet(cmd string) *flagSet { return &flagSet{cmd: cmd} }

func (fs *flagSet) add(d *flagDef) { fs.defs = append(fs.defs, d) }

// Bool defines a boolean option.
func (fs *flagSet) Bool(short, long string) *bool {
	d := &flagDef{short: short, long: long, kind: boolFlag, b: new(bool)}
	fs.add(d)
	return d.b
}

// String defines an option with one value; the last one given wins.
func (fs *flagSet) String(short, long, def string) *string {
	v := def
	d := &flagDef{short: short, long: long, kind: stringFlag, s: &v}
	fs.add(d)
	return d.s
}

// List defines a repeatable option collecting every value given.
func (fs *flagSet) List(short, long string) *[]string {
	d := &flagDef{short: short, long: long, kind: listFlag, l: new([]string)}
	fs.add(d)
	return d.l
}

// isSet reports whether the option called long (or short) was given.
func (fs *flagSet) isSet(name string) bool {
	for _, d := range fs.defs {
		if d.long == name || d.short == name {
			return d.set
		}
	}
	return false
}

func (fs *flagSet) lookup(name string, long bool) *flagDef {
	for _, d := range fs.defs {
		if long && d.long == name || !long && d.short == name {
			return d
		}
	}
	return nil
}

func (fs *flagSet) usagef(format string, a ...any) error {
	help := "entra-helper --help"
	if fs.cmd != "" {
		help = "entra-helper " + fs.cmd + " --help"
	}
	return usageError(fmt.Sprintf(format, a...) + "; see `" + help + "`")
}

// parse reads args. It returns errHelp for -h/--help and a usage error
// (exit code 2) for anything it does not understand.
func (fs *flagSet) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			fs.args = append(fs.args, args[i+1:]...)
			return nil
		case a == "-h" || a == "--help":
			return errHelp
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			d := fs.lookup(name, true)
			if d == nil {
				return fs.usagef("unknown option --%s", name)
			}
			if d.kind == boolFlag {
				if hasVal {
					switch val {
					case "true", "1":
						*d.b = true
					case "false", "0":
						*d.b = false
					default:
						return fs.usagef("option --%s takes no value", name)
					}
				} else {
					*d.b = true
				}
				d.set = true
				continue
			}
			if !hasVal {
				if i+1 >= len(args) {
					return fs.usagef("option --%s needs a value", name)
				}
				i++
				val = args[i]
			}
			fs.setValue(d, val)
		case len(a) > 1 && a[0] == '-':
			// One or more short options: -o json, -ojson, -p prod.
			for j := 1; j < len(a); j++ {
				d := fs.lookup(a[j:j+1], false)
				if d == nil {
					return fs.usagef("unknown option -%s", a[j:j+1])
				}
				if d.kind == boolFlag {
					*d.b = true
					d.set = true
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return fs.usagef("option -%s needs a value", d.short)
					}
					i++
					val = args[i]
				}
				fs.setValue(d, val)
				break
			}
		case fs.stopAtArg:
			fs.args = append(fs.args, args[i:]...)
			return nil
		default:
			fs.args = append(fs.args, a)
		}
	}
	return nil
}

func (fs *flagSet) setValue(d *flagDef, v string) {
	d.set = true
	switch d.kind {
	case stringFlag:
		*d.s = v
	case listFlag:
		*d.l = append(*d.l, v)
	}
}
