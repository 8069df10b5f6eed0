package daemon

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/entra-helper/entra-helper/daemon/config"
)

// newLogger builds the daemon's zap logger on w with the configured format
// and a level that a reload can change.
func newLogger(c config.Daemon, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	level, err := zap.ParseAtomicLevel(c.LogLevel)
	if err != nil {
		return nil, level, fmt.Errorf("log_level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.LogFormat == "json" {
		enc = zapcore.NewJSONEncoder(encCfg)
	} else {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core), level, nil
}

// browserCommand returns the program and arguments that open url: $BROWSER
// split on white space (e.g. "firefox --new-window"), url as its last
// argument, if set; else the platform's opener.
func browserCommand(browser, url string) (string, []string) {
	if words := strings.Fields(browser); len(words) > 0 {
		return words[0], append(words[1:], url)
	}
	return platformOpener(url)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
