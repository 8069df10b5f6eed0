package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/entra-helper/entra-helper/entra"
	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// EnvConfig names the environment variable that overrides DefaultPath.
const EnvConfig = "ENTRA_HELPER_CONFIG"

// Defaults of the [daemon] table.
const (
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "console"
	DefaultStore          = "keyring"
	DefaultMinValid       = "5m"
	DefaultMetadataListen = "127.0.0.1:8771"
	DefaultIdentityListen = "127.0.0.1:8772"
	DefaultCloud          = entra.DefaultCloud
)

// maxFileSize bounds the config file read into memory.
const maxFileSize = 1 << 20

// Flows lists every valid flow, in the order the docs present them.
var Flows = []string{
	FlowClientSecret, FlowClientCertificate, FlowFederated, FlowBrowser,
	FlowDeviceCode, FlowUsernamePassword, FlowRefreshToken, FlowManagedIdentity,
}

// Error is one problem in a config file: the file, the 1-based line (0 when
// unknown), the dotted key ("" when none) and what is wrong.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

// Error renders "file:line: key: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is several problems in one config file, sorted by line. Load
// returns it when there is more than one; errors.As finds each *Error.
type Errors []*Error

// Error renders one problem per line.
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the single errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// DefaultPath returns $ENTRA_HELPER_CONFIG when set, else
// <os.UserConfigDir>/entra-helper/config.toml.
func DefaultPath() (string, error) {
	if p := os.Getenv(EnvConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the config file: set %s or HOME: %w", EnvConfig, err)
	}
	return filepath.Join(dir, "entra-helper", "config.toml"), nil
}

// Load reads, validates and completes the config file at path. Every error
// names the file, the line and the key at fault. A missing file yields an
// error that wraps fs.ErrNotExist.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &missingFileError{path: path}
		}
		return nil, fmt.Errorf("%s: cannot read the config file: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	doc, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the config file: %w", path, unwrapPathError(err))
	}
	if len(doc) > maxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the config file is larger than %d bytes", maxFileSize)}
	}
	return parse(path, doc)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type missingFileError struct{ path string }

func (e *missingFileError) Error() string {
	return "no config file at " + e.path + "; run `entra-helper setup` to create it (or write a " +
		"[profiles.NAME] table there by hand, see docs/configuration.md, or point " + EnvConfig + " at another file)"
}

func (e *missingFileError) Unwrap() error { return fs.ErrNotExist }

// rawFile mirrors the TOML document. Pointers tell "absent" from "empty".
type rawFile struct {
	DefaultProfile *string               `toml:"default_profile"`
	Daemon         rawDaemon             `toml:"daemon"`
	Profiles       map[string]rawProfile `toml:"profiles"`
}

type rawDaemon struct {
	LogLevel       string  `toml:"log_level"`
	LogFormat      string  `toml:"log_format"`
	Store          string  `toml:"store"`
	StateDir       string  `toml:"state_dir"`
	StoreKeyFile   string  `toml:"store_key_file"`
	MinValid       string  `toml:"min_valid"`
	MetadataListen *string `toml:"metadata_listen"`
	IdentityListen *string `toml:"identity_listen"`
}

type rawProfile struct {
	Flow                string    `toml:"flow"`
	Tenant              string    `toml:"tenant"`
	ClientID            string    `toml:"client_id"`
	Cloud               string    `toml:"cloud"`
	AuthorityHost       string    `toml:"authority_host"`
	Scopes              *[]string `toml:"scopes"`
	GitScope            *string   `toml:"git_scope"`
	Username            string    `toml:"username"`
	Certificate         string    `toml:"certificate"`
	FederatedTokenFile  string    `toml:"federated_token_file"`
	DatabricksHost      string    `toml:"databricks_host"`
	WorkspaceResourceID string    `toml:"workspace_resource_id"`
	AllowedUsers        []string  `toml:"allowed_users"`
	AllowedGroups       []string  `toml:"allowed_groups"`
}

// stringArrayKeys are the leaf keys whose values are arrays of strings; all
// other leaf keys are strings.
var stringArrayKeys = map[string]bool{"scopes": true, "allowed_users": true, "allowed_groups": true}

var tableKeys = map[string]bool{"daemon": true, "profiles": true}

// parse decodes and validates doc, read from file.
func parse(file string, doc []byte) (*Config, error) {
	pos := scanPositions(doc)
	var raw rawFile
	dec := toml.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, decodeError(file, pos, err)
	}
	v := validator{file: file, pos: pos}
	cfg := v.build(&raw)
	if err := v.result(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeError turns go-toml's errors into *Error or Errors.
func decodeError(file string, pos positions, err error) error {
	var se *toml.StrictMissingError
	if errors.As(err, &se) {
		var es Errors
		for i := range se.Errors {
			de := &se.Errors[i]
			line, _ := de.Position()
			key := pos.fullKey(keyPath(de.Key()...), line)
			msg := "unknown key"
			if kind, ok := pos.kinds[key]; !ok || kind == unstable.InlineTable {
				msg = "unknown table"
			}
			es = append(es, &Error{File: file, Line: line, Key: key, Msg: msg})
		}
		return collapse(es)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		key := keyPath(de.Key()...)
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if strings.HasPrefix(msg, "cannot decode TOML ") || strings.HasPrefix(msg, "cannot store ") {
			msg = typeMessage(de.Key(), pos.kinds[key])
		} else {
			key = ""
			msg = "invalid TOML: " + msg
		}
		return &Error{File: file, Line: line, Key: key, Msg: msg}
	}
	return &Error{File: file, Msg: "invalid TOML: " + err.Error()}
}

// typeMessage says which type key must have and, when known, what it has.
func typeMessage(key []string, got unstable.Kind) string {
	want := "a string"
	switch {
	case len(key) == 1 && tableKeys[key[0]]:
		want = "a table"
	case len(key) == 2 && key[0] == "profiles":
		want = "a table"
	case len(key) > 0 && stringArrayKeys[key[len(key)-1]] && len(key) == 3:
		want = "an array of strings"
	}
	if g := kindName(got); g != "" && g != "an array" {
		return "must be " + want + ", not " + g
	}
	return "must be " + want
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Bool:
		return "a boolean"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date/time"
	}
	return ""
}

func collapse(es Errors) error {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return es
}

var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
