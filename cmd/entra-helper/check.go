package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	"github.com/entra-helper/entra-helper/ipc"
)

// daemonChecks runs `entra-helperd check --json` with args: the checks a
// daemon would fail on at start (the config file, the store), made by the
// daemon's own code without starting one and without starting any other
// process. The client cannot make them itself: it links no TOML parser
// and no keychain library.
func (a *app) daemonChecks(ctx context.Context, args ...string) ([]ipc.Check, error) {
	if a.checks != nil {
		return a.checks(ctx, args...)
	}
	bin, err := findDaemon()
	if err != nil {
		return nil, fmt.Errorf("%s was found neither next to entra-helper nor on PATH", daemonName())
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"check", "--json"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var res struct {
		Checks []ipc.Check `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Checks) == 0 {
		if runErr == nil {
			runErr = err
		}
		return nil, fmt.Errorf("%s check failed: %v %s", bin, runErr, oneLine(errb.String()))
	}
	return res.Checks, nil
}
