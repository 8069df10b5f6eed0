//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// profileClients is the load under which -profile takes the daemon's CPU
// profiles.
const profileClients = 8

// profiled runs f. With -profile, when s is a daemon surface built with
// -tags benchprofile and clients is profileClients, it also takes a CPU
// profile of the daemon while f runs and writes it, with its top functions
// as text, to the profile directory.
func (r *runner) profiled(s surface, clients int, f func()) {
	if r.profileDir == "" || s.pprof == "" || clients != profileClients {
		f()
		return
	}
	secs := max(1, int(r.dur/time.Second)-1)
	name := filepath.Join(r.profileDir, fmt.Sprintf("daemon-%s-%d.pprof", slug(s.area), clients))
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = fetch(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.pprof, secs), name) })
	f()
	wg.Wait()
	if err != nil {
		progress("  profile of %s: %v", s.area, err)
		return
	}
	progress("  wrote %s", name)
	top, _ := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", name).CombinedOutput()
	cum, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=60", name).CombinedOutput()
	_ = os.WriteFile(strings.TrimSuffix(name, ".pprof")+".txt", append(append(top, "\n-- by cumulative --\n"...), cum...), 0o644)
}

func fetch(url, file string) error {
	resp, err := (&http.Client{Timeout: time.Minute}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// pprofURL is the pprof address a benchprofile daemon wrote, "" if none.
func (e *env) pprofURL() string {
	if e.pprofFile == "" {
		return ""
	}
	for range 100 {
		if b, err := os.ReadFile(e.pprofFile); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ""
}

// clientTraces writes, with -profile, what one warm `entra-helper token`
// does: its system calls (strace -f -c and -f -T), its package
// initialisation (GODEBUG=inittrace=1), all to the profile directory.
func (r *runner) clientTraces(e *env) {
	if r.profileDir == "" {
		return
	}
	client := filepath.Join(e.bin, "entra-helper")
	run := func(file string, env []string, name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(e.clientEnv(false), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &out
		if err := cmd.Run(); err != nil {
			progress("  %s: %v", file, err)
		}
		_ = os.WriteFile(filepath.Join(r.profileDir, file), out.Bytes(), 0o644)
	}
	if _, err := exec.LookPath("strace"); err == nil {
		run("client-token-strace-c.txt", nil, "strace", "-f", "-c", "-w", client, "token", "-p", "sp")
		run("client-token-strace-T.txt", nil, "strace", "-f", "-T", "-tt", client, "token", "-p", "sp")
	}
	run("client-token-inittrace.txt", []string{"GODEBUG=inittrace=1"}, client, "token", "-p", "sp")
}

var irefs = regexp.MustCompile(`I\s+refs:\s+([\d,]+)`)

// instructions counts the instructions of one fresh process of each kind
// with valgrind's cachegrind (repeatable where wall time is not: the count
// does not depend on the machine's load). It adds one row, or none when
// valgrind is missing.
func (r *runner) instructions(kinds []func() *exec.Cmd, names []string) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		return
	}
	var parts []string
	for i, k := range kinds {
		cmd := k()
		args := append([]string{"--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", cmd.Path}, cmd.Args[1:]...)
		vg := exec.Command("valgrind", args...)
		// Go's asynchronous preemption signals upset valgrind.
		vg.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], "GODEBUG=asyncpreemptoff=1")
		var errb bytes.Buffer
		vg.Stderr = &errb
		if err := vg.Run(); err != nil {
			r.fail("client", "instruction counts (valgrind)", fmt.Errorf("%s: %v", names[i], err))
			return
		}
		m := irefs.FindStringSubmatch(errb.String())
		if m == nil {
			r.fail("client", "instruction counts (valgrind)", fmt.Errorf("%s: no I refs line", names[i]))
			return
		}
		parts = append(parts, names[i]+" "+m[1])
	}
	r.add("client", "instructions of one fresh process, user space (valgrind --tool=cachegrind)", strings.Join(parts, ", "), "", nil)
}
